package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The registry of the add-ons one dispatcher supervises, and whether that dispatcher is closing: an operation
 * takes an add-on with {@link #acquire} (one operation per add-on at a time) and gives it back with {@link #release}.
 * <p>
 * Threading: any thread; the map is concurrent and each {@link Supervised} is guarded by its own monitor.
 */
final class AddonTable {
    private final Map<AddonId, Supervised> supervised = new ConcurrentHashMap<>();
    private volatile boolean closed;

    boolean closed() {
        return closed;
    }

    /** From now on no add-on can be acquired, and waits for readiness give up. */
    void close() {
        closed = true;
    }

    Supervised get(AddonId id) {
        return supervised.get(id);
    }

    Collection<Supervised> all() {
        return supervised.values();
    }

    Set<AddonId> ids() {
        return supervised.keySet();
    }

    void remove(AddonId id, Supervised s) {
        supervised.remove(id, s);
    }

    /** Wakes every waiter and forgets every add-on; returns how many had a process. */
    int detachAll() {
        int n = 0;
        for (Supervised s : supervised.values()) {
            synchronized (s) {
                if (s.run != null) {
                    n++;
                }
                s.notifyAll();     // an apply waiting for readiness gives up
            }
        }
        supervised.clear();
        return n;
    }

    /** Takes the add-on for one operation (waits for another one on the same add-on to finish). */
    Supervised acquire(AddonId id) throws SupervisionException {
        while (true) {
            if (closed) {
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id
                        + ": the sidecar dispatcher is stopping");
            }
            Supervised s = supervised.computeIfAbsent(id, Supervised::new);
            synchronized (s) {
                while (s.busy && !closed) {
                    try {
                        s.wait(1000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": interrupted");
                    }
                }
                if (supervised.get(id) == s && !closed) {
                    s.busy = true;
                    return s;
                }
            }
        }
    }

    void release(Supervised s) {
        synchronized (s) {
            s.busy = false;
            s.notifyAll();
        }
        // an add-on that never got a spec (its first install failed early) is not kept
        synchronized (s) {
            if (s.spec == null && s.run == null) {
                supervised.remove(s.id, s);
            }
        }
    }
}
