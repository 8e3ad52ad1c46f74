package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import java.time.Instant;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;

/**
 * The supervision state of one add-on inside one dispatcher instance. Every field is guarded by the
 * object's monitor; {@link #busy} marks an apply, adopt or remove in progress, during which the
 * supervisor thread leaves the add-on alone (the operation owns it). A change that touches several fields
 * at once is one of its transitions ({@link #started}, {@link #backoff}, {@link #forget}...), so that what
 * belongs together changes together.
 */
final class Supervised {
    /** Where an add-on is in its life. */
    enum Phase { STARTING, READY, BACKOFF, FAILED, REJECTED }

    /** One running process of the add-on: started by this dispatcher, or adopted from durable state. */
    static final class Running {
        /** How long a process may be gone while its keeper has not yet recorded how it ended. */
        private static final long SETTLE_NANOS = TimeUnit.SECONDS.toNanos(2);
        /** How often {@code /proc} is read for a process whose keeper reports its end (only a killed keeper would not). */
        private static final long KEPT_PROBE_NANOS = TimeUnit.SECONDS.toNanos(5);
        /** How often for a process without a keeper, whose end only {@code /proc} tells. */
        private static final long UNKEPT_PROBE_NANOS = TimeUnit.SECONDS.toNanos(1);

        final long pid;
        /** Its keeper, which records the exit status; null when it is gone (then the status is unknown). */
        final Keeper.Watch keeper;
        /** Found again from durable state rather than started by this dispatcher (its READY=1 may be lost). */
        final boolean adopted;
        final Instant startInstant;
        final long startTicks;
        /** {@link System#nanoTime()} at its start (back-dated for an adopted process). */
        final long startedNanos;

        boolean ready;
        long lastWatchdogNanos;
        /** 0: the manifest's interval; otherwise what the add-on asked for with WATCHDOG_USEC. */
        long watchdogNanos;
        long extendUntilNanos;
        /** When a pending stop turns into SIGKILL; 0 when none is pending. */
        long killAtNanos;
        /** Why Steward ended it (watchdog, start timeout); null while nobody did. */
        String endReason;
        private long goneSinceNanos;
        private long lastProbeNanos;

        Running(long pid, Keeper.Watch keeper, boolean adopted, Instant startInstant, long startTicks, long startedNanos) {
            this.pid = pid;
            this.keeper = keeper;
            this.adopted = adopted;
            this.startInstant = startInstant;
            this.startTicks = startTicks;
            this.startedNanos = startedNanos;
            this.lastWatchdogNanos = startedNanos;
        }

        boolean alive() {
            return Processes.alive(pid, startTicks);
        }

        /** WATCHDOG=1, WATCHDOG_USEC= and EXTEND_TIMEOUT_USEC= of a message received at {@code now}. */
        void heard(NotifyMessage m, long now) {
            if (m.watchdog()) {
                lastWatchdogNanos = now;
            }
            m.watchdogUsec().ifPresent(usec -> {
                watchdogNanos = usec * 1000;
                lastWatchdogNanos = now;
            });
            m.extendTimeoutUsec().ifPresent(usec -> extendUntilNanos = now + usec * 1000);
        }

        /**
         * Gone, and its end settled: its keeper has recorded the status (or is gone too, or took too long).
         * Cheap enough for every supervision pass: the keeper's exit file is looked for each time (one stat of a
         * file that is not there); {@code /proc} is read only now and then, for what no keeper will report (a
         * keeper that was killed, a process adopted from before keepers).
         * Caller holds the add-on's monitor.
         */
        boolean ended(long now) {
            if (keeper != null && keeper.recorded()) {
                return true;          // the keeper's wait returned: the process is gone
            }
            long probe = keeper != null ? KEPT_PROBE_NANOS : UNKEPT_PROBE_NANOS;
            if (goneSinceNanos == 0 && lastProbeNanos != 0 && now - lastProbeNanos < probe) {
                return false;
            }
            lastProbeNanos = now;
            if (alive()) {
                return false;
            }
            if (goneSinceNanos == 0) {
                goneSinceNanos = now;
            }
            return keeper == null || !keeper.alive() || now - goneSinceNanos >= SETTLE_NANOS;
        }

        /** Seen gone by {@link #ended}, which is waiting for its keeper to record how. */
        boolean gone() {
            return goneSinceNanos != 0;
        }

        /** The exit status once it has ended, as its keeper recorded it (128 + n: killed by signal n). */
        OptionalInt exitCode() {
            return keeper == null || alive() ? OptionalInt.empty() : keeper.status();
        }
    }

    final AddonId id;
    boolean busy;
    Spec spec;
    Running run;
    /** The id the latest launch carries in its environment ({@link Launches}); recorded before its spawn. */
    String launchId;
    Phase phase = Phase.STARTING;
    /** Why the add-on is in BACKOFF, FAILED or REJECTED. */
    String detail = "";
    /** The add-on's own STATUS= text. */
    String statusText = "";
    /** The last thing Steward did to the running process (a reload), for the detail. */
    String lastAction = "";
    /** Why the resource limits are not in force, when they are asked for and are not. */
    String limitsProblem;
    boolean stopping;
    boolean reloading;
    long restartAtNanos;
    RestartPolicy.History history = RestartPolicy.History.NONE;
    Instant since = Instant.now();

    Supervised(AddonId id) {
        this.id = id;
    }

    // Transitions: the caller holds this object's monitor for each of them.

    void enter(Phase next, String why) {
        if (phase != next) {
            since = Instant.now();
        }
        phase = next;
        detail = why == null ? "" : why;
    }

    /** A launch is about to be spawned: recorded by its id before the process exists. */
    void launching(String nextLaunchId) {
        run = null;
        launchId = nextLaunchId;
        enter(Phase.STARTING, "");
    }

    /** The spawned process, starting; what the previous one said of itself is forgotten. */
    void started(Running started) {
        run = started;
        statusText = "";
        stopping = false;
        reloading = false;
        enter(Phase.STARTING, "");
    }

    /** What durable state recorded: the spec and the id of the latest launch. */
    void recorded(Spec recordedSpec, String recordedLaunchId) {
        spec = recordedSpec;
        launchId = recordedLaunchId;
    }

    /** A recorded process found alive and taken over as it is. */
    void adopted(Running live, String recordedLimitsProblem) {
        run = live;
        limitsProblem = recordedLimitsProblem;
        enter(live.ready ? Phase.READY : Phase.STARTING, "");
    }

    /** What the add-on says of itself: STATUS=, STOPPING=1, RELOADING=1 (until READY=1). */
    void announced(NotifyMessage m) {
        m.status().ifPresent(text -> statusText = text);
        if (m.stopping()) {
            stopping = true;
        }
        if (m.reloading()) {
            reloading = true;
        }
        if (m.ready()) {
            reloading = false;
        }
    }

    /** A new version replaces the old one: its restart history and last action start empty. */
    void newVersion(Spec next) {
        spec = next;
        history = RestartPolicy.History.NONE;
        lastAction = "";
    }

    /** Same version, new config hash or limits, applied to the running process. */
    void reconfigured(Spec next, String action, boolean limitsChanged, String limits) {
        spec = next;
        if (action != null) {
            lastAction = action;
        }
        if (limitsChanged) {
            limitsProblem = limits;
        }
    }

    /** The process ended and the restart policy has decided; the phase comes next. */
    void exited(RestartPolicy.History next) {
        run = null;
        history = next;
    }

    /** No process, waiting to start again at {@code atNanos} ({@link System#nanoTime()}). */
    void backoff(long atNanos, String why) {
        run = null;
        restartAtNanos = atNanos;
        enter(Phase.BACKOFF, why);
    }

    /** Back to a phase saved before a failed update, without a process. */
    void restore(Phase saved, String savedDetail, long savedRestartAtNanos) {
        down(saved, savedDetail);
        restartAtNanos = savedRestartAtNanos;
    }

    /** No process, and in {@code next} for {@code why} (FAILED or REJECTED: nothing restarts it on its own). */
    void down(Phase next, String why) {
        run = null;
        enter(next, why);
    }

    /** The process was stopped: forgotten, unless another one has replaced it meanwhile. */
    void stopped(Running stoppedRun) {
        if (run == stoppedRun) {
            run = null;
        }
    }

    /** Nothing left to supervise: removed, or a first install that failed. */
    void forget() {
        run = null;
        spec = null;
    }
}
