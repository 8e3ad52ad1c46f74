package io.steward.source.nats.internal;

import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.ErrorListener;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.steward.source.nats.fleet.Jitter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's one connection to NATS. It connects in the background (the agent never waits for the
 * network), tries again and reconnects for ever with capped exponential backoff and full jitter, and tells its
 * {@link Listener} when a connection is up, again up after an outage, or down. The credentials file is
 * re-read at every connect; a change of it or of the TLS stores replaces the connection
 * ({@link #reloadIfChanged}).
 */
final class NatsLink implements ConnectionListener, ErrorListener {
    private static final Logger LOG = LoggerFactory.getLogger(NatsLink.class);

    interface Listener {
        /** A connection is up (first connect, a reconnect, or subscriptions resumed after one). */
        void up(Connection connection);

        /** The connection is down; it keeps trying. */
        void down();
    }

    /** What the link needs from the configuration. */
    record Settings(List<String> servers, String name, String inboxPrefix, Path credentials, Path keystore,
                    String keystorePassword, Path truststore, String truststorePassword, Duration reconnectWait,
                    Duration reconnectMax) {
    }

    private final Settings settings;
    private final Listener listener;
    private final Object lock = new Object();
    private Connection current;             // guarded by lock; null until connected
    private Object attempt;                 // guarded by lock; identifies the connection being made
    private List<String> fingerprint;       // guarded by lock
    private volatile boolean connected;
    private volatile Instant since = Instant.now();
    private volatile String lastError = "";
    private volatile boolean closed;
    private java.util.concurrent.ScheduledExecutorService scheduler;   // guarded by lock
    private int failures;                   // confined to the scheduler

    NatsLink(Settings settings, Listener listener) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.listener = Objects.requireNonNull(listener, "listener");
    }

    /** Starts connecting on {@code scheduler} (the caller's own thread); returns at once. */
    void start(java.util.concurrent.ScheduledExecutorService scheduler) {
        synchronized (lock) {
            this.scheduler = scheduler;
            fingerprint = fingerprint();
        }
        scheduler.execute(this::tryConnect);
    }

    /**
     * One connect attempt; a failed one is tried again after a capped, fully jittered backoff. The link's
     * own loop, not the client's reconnect-on-connect: a link closed while the broker is unreachable then
     * leaves no connecting thread behind. Once connected, the client reconnects by itself.
     */
    private void tryConnect() {
        Object mine = new Object();
        Options options;
        synchronized (lock) {
            if (closed) {
                return;
            }
            attempt = mine;
            options = options(mine);
        }
        try {
            Connection c = Nats.connect(options);
            failures = 0;
            synchronized (lock) {
                if (attempt == mine && !closed) {
                    current = c;
                    return;
                }
            }
            closeQuietly(c);        // closed or replaced while connecting
        } catch (IOException | RuntimeException e) {
            lastError = e.getMessage() == null ? e.toString() : e.getMessage();
            Duration wait = Jitter.backoff(failures++, settings.reconnectWait(), settings.reconnectMax());
            LOG.debug("Connecting to NATS failed ({}); again in {} ms", lastError, wait.toMillis());
            synchronized (lock) {
                if (!closed && attempt == mine) {
                    scheduler.schedule(this::tryConnect, wait.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Options options(Object mine) {
        Options.Builder b = new Options.Builder()
                .servers(settings.servers().toArray(String[]::new))
                .connectionName(settings.name())
                .inboxPrefix(settings.inboxPrefix())
                .maxReconnects(-1)
                .reconnectWait(settings.reconnectWait())
                .reconnectDelayHandler(round -> Jitter.backoff(round, settings.reconnectWait(), settings.reconnectMax()))
                .connectionTimeout(Duration.ofSeconds(2))
                .pingInterval(Duration.ofSeconds(20))
                .connectionListener((conn, type) -> event(mine, conn, type))
                .errorListener(this);
        if (settings.credentials() != null) {
            b.credentialPath(settings.credentials().toString());
        }
        if (settings.keystore() != null) {
            b.keystorePath(settings.keystore().toString()).keystorePassword(settings.keystorePassword().toCharArray());
        }
        if (settings.truststore() != null) {
            b.truststorePath(settings.truststore().toString()).truststorePassword(settings.truststorePassword().toCharArray());
        }
        return b.build();
    }

    @Override
    public void connectionEvent(Connection conn, Events type) {
        // unused: each connection gets its own listener (see connect), so events of a replaced one are known
    }

    private void event(Object of, Connection conn, Events type) {
        synchronized (lock) {
            if (of != attempt || closed) {
                if (type != Events.CLOSED) {
                    // a connection replaced (or the link closed) while it was being made; not closed on the
                    // client's own callback thread
                    Thread t = new Thread(() -> closeQuietly(conn), "source-nats-close");
                    t.setDaemon(true);
                    t.start();
                }
                return;
            }
            current = conn;
        }
        switch (type) {
            case CONNECTED, RECONNECTED, RESUBSCRIBED -> {
                if (!connected) {
                    LOG.info("Connected to NATS {} ({})", conn.getConnectedUrl(), type);
                    since = Instant.now();
                }
                connected = true;
                listener.up(conn);
            }
            case DISCONNECTED, CLOSED -> {
                if (connected) {
                    LOG.warn("Lost the connection to NATS ({}); reconnecting", type);
                    since = Instant.now();
                }
                connected = false;
                listener.down();
            }
            default -> {
                // discovered servers, lame duck: the client handles them
            }
        }
    }

    @Override
    public void errorOccurred(Connection conn, String error) {
        lastError = error;
        LOG.warn("NATS: {}", error);
    }

    @Override
    public void exceptionOccurred(Connection conn, Exception exp) {
        lastError = exp.getMessage() == null ? exp.toString() : exp.getMessage();
        LOG.debug("NATS connection: {}", lastError);
    }

    boolean connected() {
        return connected;
    }

    /** The last error the server reported (a permissions violation), empty if none. */
    String lastError() {
        return lastError;
    }

    /** The server the link is connected to, if it is. */
    java.util.Optional<String> connectedUrl() {
        synchronized (lock) {
            return connected && current != null ? java.util.Optional.ofNullable(current.getConnectedUrl())
                    : java.util.Optional.empty();
        }
    }

    /**
     * One sentence on the link once it has been down for {@code grace} (a boot, a blip of a reconnect, is no
     * news); empty while it is up.
     */
    java.util.Optional<String> downFor(Duration grace) {
        if (connected || Instant.now().isBefore(since.plus(grace))) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(describeDown());
    }

    private String describeDown() {
        String err = lastError.isEmpty() ? "" : "; last error: " + lastError;
        return "not connected to NATS " + String.join(",", settings.servers()) + " since " + since
                + " (unreachable, or permission denied" + err + "); retrying";
    }

    /** Replaces the connection when the credentials file or a TLS store changed since the last connect. */
    void reloadIfChanged() {
        Connection old;
        synchronized (lock) {
            List<String> now = fingerprint();
            if (closed || scheduler == null || now.equals(fingerprint)) {
                return;
            }
            LOG.warn("NATS credentials or TLS files changed; reconnecting with them");
            fingerprint = now;
            old = current;
            current = null;
            connected = false;
            attempt = null;
            scheduler.execute(this::tryConnect);
        }
        closeQuietly(old);
    }

    private List<String> fingerprint() {
        List<String> out = new ArrayList<>();
        for (Path p : new Path[] {settings.credentials(), settings.keystore(), settings.truststore()}) {
            if (p == null) {
                continue;
            }
            try {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
                out.add(p + "|" + a.size() + "|" + a.lastModifiedTime().toMillis() + "|" + a.fileKey());
            } catch (NoSuchFileException e) {
                out.add(p + "|missing");
            } catch (IOException e) {
                out.add(p + "|" + e.getMessage());
            }
        }
        return out;
    }

    void close() {
        Connection c;
        synchronized (lock) {
            closed = true;
            attempt = null;
            c = current;
            current = null;
        }
        closeQuietly(c);
    }

    private static void closeQuietly(Connection c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.debug("Closing a NATS connection: {}", e.toString());
        }
    }
}
