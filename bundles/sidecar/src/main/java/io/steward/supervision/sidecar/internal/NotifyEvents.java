package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.sidecar.internal.Supervised.Running;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies an add-on's sd_notify messages to its state: STATUS=, WATCHDOG=1 and WATCHDOG_USEC=,
 * EXTEND_TIMEOUT_USEC=, STOPPING=1, RELOADING=1, READY=1 and WATCHDOG=trigger.
 * <p>
 * Threading: called on the {@code sidecar-notify} thread; takes the add-on's monitor and wakes its waiters.
 */
final class NotifyEvents implements NotifyHub.Sink {
    // the dispatcher's logger: log categories stay what they were before the dispatcher was split
    private static final Logger LOG = LoggerFactory.getLogger(SidecarDispatcher.class);

    private final AddonTable table;
    private final Readiness readiness;

    NotifyEvents(AddonTable table, Readiness readiness) {
        this.table = table;
        this.readiness = readiness;
    }

    @Override
    public void accept(AddonId id, NotifyMessage m) {
        Supervised s = table.get(id);
        if (s == null) {
            return;
        }
        synchronized (s) {
            Running run = s.run;
            if (run == null) {
                return;
            }
            long now = System.nanoTime();
            s.announced(m);
            run.heard(m, now);
            if (m.ready() && !run.ready) {
                run.ready = true;
                if (!s.busy) {
                    readiness.markReady(s, run);
                }
            }
            if (m.watchdogTrigger() && run.endReason == null && !s.busy) {
                run.endReason = "triggered its own watchdog";
                LOG.warn("Add-on {}: pid {} {}; killing it", id, run.pid, run.endReason);
                Processes.signalGroup(run.pid, "KILL");
            }
            s.notifyAll();
        }
    }
}
