package io.steward.supervision.sidecar.internal;

import io.steward.supervision.sidecar.internal.Supervised.Running;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stops an add-on's process group: SIGTERM, the grace, SIGKILL, and waits until every member is gone.
 * <p>
 * Threading: called by an operation that holds the add-on ({@link Supervised#busy}), never by the supervisor
 * thread; blocks for up to the grace plus five seconds.
 */
final class ProcessStopper {
    // the dispatcher's logger: log categories stay what they were before the dispatcher was split
    private static final Logger LOG = LoggerFactory.getLogger(SidecarDispatcher.class);

    private ProcessStopper() {
    }

    static void stop(Supervised s, Running run, Duration grace) throws SupervisionException {
        long pgid = run.pid;
        if (run.alive() || !Processes.groupMembers(pgid).isEmpty()) {
            Processes.signalGroup(pgid, "TERM");
            if (run.alive()) {
                Processes.signal(run.pid, "TERM");   // in case it has not called setsid() yet
            }
            if (!awaitGone(run, grace)) {
                LOG.warn("Add-on {}: pid {} did not stop within {}s of SIGTERM; sending SIGKILL", s.id, run.pid,
                        grace.toSeconds());
                Processes.signalGroup(pgid, "KILL");
                ProcessHandle.of(run.pid).ifPresent(h -> {
                    if (run.alive()) {
                        h.descendants().forEach(ProcessHandle::destroyForcibly);
                        h.destroyForcibly();
                    }
                });
                if (!awaitGone(run, Duration.ofSeconds(5))) {
                    throw new SupervisionException(Disposition.TRANSIENT, "add-on " + s.id + ": pid " + run.pid
                            + " or its process group survived SIGKILL");
                }
            }
        }
        synchronized (s) {
            s.stopped(run);
        }
        LOG.info("Add-on {}: pid {} stopped", s.id, run.pid);
    }

    /** Waits, with a deadline, until the leader and every member of its group are gone. */
    private static boolean awaitGone(Running run, Duration within) {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            if (!run.alive() && Processes.groupMembers(run.pid).isEmpty()) {
                return true;
            }
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            try {
                Thread.sleep(20);      // polling a condition with a deadline; nothing signals a group's end
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }
}
