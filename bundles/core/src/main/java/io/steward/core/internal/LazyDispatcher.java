package io.steward.core.internal;

import io.steward.supervision.spi.SupervisionDispatcher;
import org.osgi.service.component.ComponentServiceObjects;

/**
 * Gets a dispatcher at its first call and keeps it until it is unbound: a kind with nothing to
 * do (a one-shot apply of an empty document) is never activated. SCR's locks are never taken
 * under this object's monitor (getService may activate the kind, ungetService deactivate it).
 */
final class LazyDispatcher {
    private final ComponentServiceObjects<SupervisionDispatcher> objects;
    private SupervisionDispatcher got;
    private boolean released;

    LazyDispatcher(ComponentServiceObjects<SupervisionDispatcher> objects) {
        this.objects = objects;
    }

    SupervisionDispatcher get() {
        synchronized (this) {
            if (got != null || released) {
                return got;
            }
        }
        SupervisionDispatcher d;
        try {
            d = objects.getService();   // null when its bundle is stopping or its activation failed
        } catch (IllegalStateException e) {
            d = null;                   // unbound meanwhile
        }
        SupervisionDispatcher extra;
        synchronized (this) {
            if (got == null && !released) {
                got = d;
                return d;
            }
            extra = d;                  // another call got it first, or it was unbound meanwhile
        }
        unget(extra);
        synchronized (this) {
            return got;
        }
    }

    void release() {
        SupervisionDispatcher d;
        synchronized (this) {
            released = true;
            d = got;
            got = null;
        }
        unget(d);
    }

    private void unget(SupervisionDispatcher d) {
        if (d != null) {
            try {
                objects.ungetService(d);
            } catch (IllegalStateException e) {
                // SCR already released what the reference got
            }
        }
    }
}
