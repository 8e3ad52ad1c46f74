package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.sidecar.internal.Supervised.Phase;
import io.steward.supervision.sidecar.internal.Supervised.Running;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When a started process counts as ready: READY=1 for one that must notify, otherwise staying up for the ready
 * grace; bounded by the start timeout (extended by EXTEND_TIMEOUT_USEC). Waits for it on an operation's thread
 * and marks it ready for the supervisor and notify threads.
 * <p>
 * Threading: {@link #awaitReady} blocks the calling operation on the add-on's monitor, which the supervisor and
 * notify threads signal; the other methods are called with that monitor held.
 */
final class Readiness {
    // the dispatcher's logger: log categories stay what they were before the dispatcher was split
    private static final Logger LOG = LoggerFactory.getLogger(SidecarDispatcher.class);
    private static final long START_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private final Duration readyGrace;
    private final AddonTable table;
    private final Recorder recorder;
    private final AddonFiles files;

    Readiness(Duration readyGrace, AddonTable table, Recorder recorder, AddonFiles files) {
        this.readyGrace = readyGrace;
        this.table = table;
        this.recorder = recorder;
        this.files = files;
    }

    /** How long a process that does not notify must stay up, never more than its start timeout. */
    long graceNanos(Params params) {
        return Math.min(readyGrace.toNanos(), params.startTimeout().toNanos());
    }

    static long watchdogNanos(Running run, Spec spec) {
        return run.watchdogNanos > 0 ? run.watchdogNanos : spec.params().watchdog().toNanos();
    }

    /** Waits until the process is ready, bounded by the start timeout; holds the add-on while it waits. */
    void awaitReady(Supervised s, Running run, Spec spec) throws SupervisionException {
        AddonId id = s.id;
        Params params = spec.params();
        long graceNanos = graceNanos(params);
        synchronized (s) {
            while (true) {
                if (table.closed()) {
                    throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id
                            + ": the sidecar dispatcher stopped while waiting for readiness; the next one adopts it");
                }
                if (run.ready) {
                    markReady(s, run);
                    return;
                }
                long now = System.nanoTime();
                boolean gone = !run.alive();     // then it ends once its keeper has recorded how
                if (gone && run.ended(now)) {
                    OptionalInt code = run.exitCode();
                    s.run = null;
                    String what = StatusReport.describeExit(code, run.endReason);
                    if (code.isPresent() && params.permanentExitCodes().contains(code.getAsInt())) {
                        throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + " " + what
                                + " while starting, which its manifest declares permanent (see "
                                + files.logFile(id, "stderr") + ")");
                    }
                    throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + " " + what
                            + " while starting (see " + files.logFile(id, "stderr") + ")");
                }
                if (!gone && !params.mustNotify() && now - run.startedNanos >= graceNanos) {
                    run.ready = true;
                    continue;
                }
                long deadline = Math.max(run.startedNanos + params.startTimeout().toNanos(), run.extendUntilNanos);
                if (now - deadline >= 0 && run.adopted) {
                    assumeReady(s, run);
                    return;
                }
                if (now - deadline >= 0) {
                    throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + " did not report READY=1 within "
                            + params.startTimeout().toSeconds() + "s");
                }
                long wait = Math.min(deadline - now, START_POLL_NANOS);
                if (!params.mustNotify() && !gone) {
                    wait = Math.min(wait, Math.max(run.startedNanos + graceNanos - now, 1));
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(s, Math.max(wait, 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id
                            + ": interrupted while waiting for readiness");
                }
            }
        }
    }

    /**
     * An adopted process that was still starting and stayed up for a whole start timeout after adoption
     * without READY=1: its READY=1 may have gone to the socket while no dispatcher was bound (an agent crash,
     * a kind update), and is not sent again. It is kept, not restarted, and the detail says readiness was
     * assumed. Caller holds {@code s}.
     */
    void assumeReady(Supervised s, Running run) {
        s.lastAction = "ready assumed: adopted while starting, it stayed up for its start timeout without"
                + " READY=1 (one sent while no dispatcher listened is lost)";
        LOG.warn("Add-on {}: pid {} {}", s.id, run.pid, s.lastAction);
        markReady(s, run);
    }

    /** Caller holds {@code s}. */
    void markReady(Supervised s, Running run) {
        run.ready = true;
        run.lastWatchdogNanos = System.nanoTime();
        if (s.phase != Phase.READY) {
            s.enter(Phase.READY, "");
            recorder.persistQuietly(s);
            LOG.info("Add-on {}: ready (pid {})", s.id, run.pid);
        }
    }
}
