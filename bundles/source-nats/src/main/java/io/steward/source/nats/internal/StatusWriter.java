package io.steward.source.nats.internal;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.steward.source.nats.fleet.Jitter;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the host's status to its key in the status bucket: after a change (changes that come while a
 * write waits coalesce into it), no more often than the token bucket allows, and at a jittered heartbeat
 * when nothing changes. A write that fails (the link is down) is retried when the link is up again; the
 * status then written is the latest, never a queue of old ones. All work runs on the executor given.
 */
final class StatusWriter {
    private static final Logger LOG = LoggerFactory.getLogger(StatusWriter.class);

    private final String bucket;
    private final String key;
    private final Supplier<byte[]> render;
    private final ScheduledExecutorService executor;
    private final Duration heartbeat;
    private final TokenBucket bucketOfTokens;

    // confined to the executor
    private Connection connection;
    private io.nats.client.KeyValue kv;        // opened once per connection (opening reads the stream's info)
    private boolean dirty = true;
    private ScheduledFuture<?> pending;
    private ScheduledFuture<?> beat;
    private long written;
    private String lastFailure;

    StatusWriter(String bucket, String key, Supplier<byte[]> render, ScheduledExecutorService executor,
                 Duration heartbeat, double perSecond, int burst) {
        this.bucket = bucket;
        this.key = key;
        this.render = render;
        this.executor = executor;
        this.heartbeat = heartbeat;
        this.bucketOfTokens = new TokenBucket(perSecond, burst, System.nanoTime());
    }

    /** The link is up: write what is pending. */
    void up(Connection conn) {
        executor.execute(() -> {
            connection = conn;
            kv = null;
            if (dirty) {
                schedule();
            }
        });
    }

    void down() {
        executor.execute(() -> connection = null);
    }

    /** The status changed (a pass, a refusal): write it soon. Returns at once. */
    void changed() {
        executor.execute(() -> {
            dirty = true;
            schedule();
        });
    }

    /** Writes done, for tests and the benchmark. */
    long written() {
        return written;
    }

    private void schedule() {
        if (pending != null && !pending.isDone()) {
            return;        // coalesced into the write already waiting
        }
        if (connection == null) {
            return;        // written when the link is up
        }
        long wait = bucketOfTokens.take(System.nanoTime());
        pending = executor.schedule(this::write, wait, TimeUnit.NANOSECONDS);
    }

    private void write() {
        pending = null;
        Connection conn = connection;
        if (conn == null || !dirty) {
            return;
        }
        dirty = false;
        try {
            if (kv == null) {
                kv = conn.keyValue(bucket);
            }
            kv.put(key, render.get());
            written++;
            lastFailure = null;
        } catch (IOException | JetStreamApiException | RuntimeException e) {
            dirty = true;       // written again at the next change, heartbeat or reconnect
            kv = null;
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            if (!why.equals(lastFailure)) {
                LOG.warn("NATS: writing the status to {}/{} failed ({}: permission denied or unreachable)", bucket, key, why);
            }
            lastFailure = why;
        }
        scheduleHeartbeat();
    }

    private void scheduleHeartbeat() {
        if (beat != null) {
            beat.cancel(false);
        }
        beat = executor.schedule(() -> {
            dirty = true;
            schedule();
        }, Jitter.around(heartbeat).toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Starts the heartbeat (the first write comes with the first pass or the first connect). */
    void start() {
        executor.execute(this::scheduleHeartbeat);
    }

    void close() {
        executor.execute(() -> {
            if (pending != null) {
                pending.cancel(false);
            }
            if (beat != null) {
                beat.cancel(false);
            }
            connection = null;
        });
    }
}
