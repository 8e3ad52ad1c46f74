package io.steward.source.nats.fleet;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.KeyValue;
import io.nats.client.api.KeyValueEntry;
import io.nats.client.api.KeyValueWatcher;
import io.nats.client.impl.NatsKeyValueWatchSubscription;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches one key of a Key-Value bucket and hands each new entry to a consumer, once, in revision order.
 * <p>
 * After a broker restart the client reconnects at once but an old watch stays silent until its heartbeat
 * alarm (about 18 s), so every time the link is up again the watch is replaced: the old subscription is
 * ended first (its ordered consumer goes with it; none is left per reconnect) and the new one starts from
 * the revision after the last one seen. A periodic, jittered {@code get} of the key is the backstop
 * against a watch lost in any other way. All work runs on the executor given (one thread).
 */
public final class AssignmentWatch {
    private static final Logger LOG = LoggerFactory.getLogger(AssignmentWatch.class);

    /** What the watch saw: an entry, or that the key holds nothing (yet). */
    public interface Sink {
        void entry(KeyValueEntry entry);

        void empty();
    }

    private final String bucket;
    private final String key;
    private final Sink sink;
    private final ScheduledExecutorService executor;
    private final Duration resync;
    private final Duration retryBase;
    private final Duration retryMax;

    // confined to the executor, except lastRevision (read by the client's dispatcher through the watcher)
    private volatile long lastRevision;
    private Connection connection;
    private NatsKeyValueWatchSubscription subscription;
    private int failures;
    private ScheduledFuture<?> retry;
    private ScheduledFuture<?> backstop;
    private long watches;

    public AssignmentWatch(String bucket, String key, Sink sink, ScheduledExecutorService executor, Duration resync,
                    Duration retryBase, Duration retryMax) {
        this.bucket = bucket;
        this.key = key;
        this.sink = sink;
        this.executor = executor;
        this.resync = resync;
        this.retryBase = retryBase;
        this.retryMax = retryMax;
    }

    /** The link is up on {@code conn}: (re)start the watch from the last revision seen. */
    public void up(Connection conn) {
        executor.execute(() -> {
            connection = conn;
            failures = 0;
            rewatch();
            if (backstop == null) {
                scheduleBackstop();
            }
        });
    }

    /** The revision of the last entry handed on (0: none). */
    public long lastRevision() {
        return lastRevision;
    }

    /** How many watches were started, for tests and the benchmark. */
    public long watchesStarted() {
        return watches;
    }

    private void rewatch() {
        cancelRetry();
        end();
        Connection conn = connection;
        if (conn == null) {
            return;
        }
        try {
            KeyValue kv = conn.keyValue(bucket);
            long from = lastRevision;
            Watcher watcher = new Watcher();
            subscription = from == 0 ? kv.watch(key, watcher) : kv.watch(key, watcher, from + 1);
            watches++;
            failures = 0;
            LOG.debug("Watching {}/{} from revision {}", bucket, key, from + 1);
        } catch (IOException | JetStreamApiException | RuntimeException e) {
            scheduleRetry("watching " + bucket + "/" + key, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void end() {
        if (subscription != null) {
            try {
                subscription.unsubscribe();
            } catch (RuntimeException e) {
                LOG.debug("Ending the watch of {}/{}: {}", bucket, key, e.toString());
            }
            subscription = null;
        }
    }

    private void scheduleRetry(String what, Exception e) {
        Duration wait = Jitter.backoff(failures++, retryBase, retryMax);
        LOG.warn("NATS: {} failed ({}: permission denied, no such bucket, or unreachable); again in {} ms", what,
                e.getMessage() == null ? e.toString() : e.getMessage(), wait.toMillis());
        cancelRetry();
        retry = executor.schedule(this::rewatch, wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void cancelRetry() {
        if (retry != null) {
            retry.cancel(false);
            retry = null;
        }
    }

    private void scheduleBackstop() {
        backstop = executor.schedule(() -> {
            read();
            scheduleBackstop();
        }, Jitter.around(resync).toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The backstop: the key's latest revision, handed on when the watch missed it. */
    public void read() {
        Connection conn = connection;
        if (conn == null || conn.getStatus() != Connection.Status.CONNECTED) {
            return;
        }
        try {
            KeyValueEntry e = conn.keyValue(bucket).get(key);
            if (e != null && e.getRevision() > lastRevision) {
                LOG.warn("NATS: the watch of {}/{} missed revision {}; watching again", bucket, key, e.getRevision());
                deliver(e);
                rewatch();
            }
        } catch (IOException | JetStreamApiException | RuntimeException e) {
            LOG.debug("NATS: reading {}/{} failed: {}", bucket, key, e.toString());
        }
    }

    private synchronized void deliver(KeyValueEntry e) {
        if (e.getRevision() <= lastRevision) {
            return;        // seen already (a backstop read and the watch can race)
        }
        lastRevision = e.getRevision();
        sink.entry(e);
    }

    public void close() {
        executor.execute(() -> {
            cancelRetry();
            if (backstop != null) {
                backstop.cancel(false);
            }
            end();
            connection = null;
        });
    }

    private final class Watcher implements KeyValueWatcher {
        private boolean sawEntry;

        @Override
        public void watch(KeyValueEntry entry) {
            sawEntry = true;
            deliver(entry);
        }

        @Override
        public void endOfData() {
            if (!sawEntry && lastRevision == 0) {
                sink.empty();
            }
        }
    }
}
