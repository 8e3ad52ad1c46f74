package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.ThreadFactory;

/**
 * The dispatcher's one {@link NotifyHub}, opened with the first sidecar rather than at activation: the kind is
 * activated by core's whiteboard in every process (a one-shot 'steward status' too), and junixsocket loads a
 * native library. Also the address each add-on's record names.
 * <p>
 * Threading: any thread; the hub is guarded by this object's lock.
 */
final class NotifySockets {
    private final Object lock = new Object();
    private final NotifyHub.Sink sink;
    private final ThreadFactory threads;
    private final AddonTable table;
    private final Path data;
    private NotifyHub hub;    // guarded by lock

    NotifySockets(NotifyHub.Sink sink, ThreadFactory threads, AddonTable table, Path data) {
        this.sink = sink;
        this.threads = threads;
        this.table = table;
        this.data = data;
    }

    NotifyHub hub() throws IOException {
        synchronized (lock) {
            if (table.closed()) {
                throw new IOException("the sidecar dispatcher is stopping");
            }
            if (hub == null) {
                hub = new NotifyHub(sink, threads);
            }
            return hub;
        }
    }

    Optional<NotifyHub> existing() {
        synchronized (lock) {
            return Optional.ofNullable(hub);
        }
    }

    /** The address a new socket of the add-on gets. */
    String address(AddonId id) {
        return NotifyHub.address(data, id);
    }

    /** The address the add-on's socket is bound to, or the one it would get. */
    String boundAddress(AddonId id) {
        return existing().flatMap(h -> h.boundAddress(id)).orElse(address(id));
    }

    void unbind(AddonId id) {
        existing().ifPresent(h -> h.unbind(id));
    }

    void close() {
        existing().ifPresent(NotifyHub::close);
    }
}
