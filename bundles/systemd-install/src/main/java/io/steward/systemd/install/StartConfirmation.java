package io.steward.systemd.install;

import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.ActiveState;
import io.steward.systemd.JobOutcome;
import io.steward.systemd.JobResult;
import io.steward.systemd.SystemdException;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.UnitState;
import java.time.Duration;
import java.util.Set;

/**
 * Whether a started unit came up: its job done, the unit healthy and, for a service type whose start job does not
 * prove the program started well, still the same process after the confirm window. Stateless and thread-safe;
 * the calling thread waits out the window.
 */
final class StartConfirmation {
    /** Service types whose start job completes before the program has shown it can run. */
    private static final Set<String> SETTLING_TYPES = Set.of("simple", "exec", "idle");

    private final SystemdManager systemd;
    private final Duration confirm;

    StartConfirmation(SystemdManager systemd, Duration confirm) {
        this.systemd = systemd;
        this.confirm = confirm;
    }

    /** A service that runs (or a oneshot that completed), or a timer that is scheduled. */
    static boolean healthy(UnitState s) {
        if (!s.loaded()) {
            return false;
        }
        if (s.name().endsWith(".timer")) {
            return s.active() && ("waiting".equals(s.subState()) || "running".equals(s.subState()))
                    && (s.nextElapse().isPresent() || "running".equals(s.subState()));
        }
        if (s.active()) {
            return !"auto-restart".equals(s.subState());
        }
        return false;
    }

    /** The job must be done and the unit healthy, and still the same process after the confirm window. */
    UnitState confirm(AddonId id, String unit, JobResult job) throws SupervisionException, SystemdException {
        if (job.outcome() != JobOutcome.DONE && job.outcome() != JobOutcome.NONE) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": the job for " + unit
                    + " ended " + job.outcome().wireName() + " (" + job.after().describe() + ")");
        }
        UnitState first = job.after();
        boolean oneshotDone = "oneshot".equals(first.serviceType()) && first.activeState() == ActiveState.INACTIVE
                && "success".equals(first.result());
        if (!healthy(first) && !oneshotDone) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + unit
                    + " is not running after its job: " + first.describe());
        }
        // only where a finished start job does not prove the program started well does the unit need to
        // stay up for a moment: Type=notify (READY=1), forking, oneshot and dbus services have proved it
        if (confirm.isZero() || !unit.endsWith(".service") || oneshotDone || !SETTLING_TYPES.contains(first.serviceType())) {
            return first;
        }
        try {
            Thread.sleep(confirm.toMillis());     // a settle window, not synchronisation: nothing signals "stays up"
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": interrupted while confirming "
                    + unit);
        }
        UnitState later = systemd.unit(unit);
        if (!healthy(later) || !later.activeEnterTimestamp().equals(first.activeEnterTimestamp())
                || !later.mainPid().equals(first.mainPid())) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + unit + " did not stay up for "
                    + confirm.toMillis() + " ms: " + later.describe());
        }
        return later;
    }
}
