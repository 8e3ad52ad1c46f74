package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import java.time.Instant;
import java.util.OptionalInt;

/**
 * The supervision state of one add-on inside one dispatcher instance. Every field is guarded by the
 * object's monitor; {@link #busy} marks an apply, adopt or remove in progress, during which the
 * supervisor thread leaves the add-on alone (the operation owns it).
 */
final class Supervised {
    /** Where an add-on is in its life. */
    enum Phase { STARTING, READY, BACKOFF, FAILED, REJECTED }

    /** One running process of the add-on: started by this dispatcher, or adopted from durable state. */
    static final class Running {
        final long pid;
        /** Our child, when this JVM started it (then the exit code is known); null when adopted. */
        final Process process;
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

        Running(long pid, Process process, Instant startInstant, long startTicks, long startedNanos) {
            this.pid = pid;
            this.process = process;
            this.startInstant = startInstant;
            this.startTicks = startTicks;
            this.startedNanos = startedNanos;
            this.lastWatchdogNanos = startedNanos;
        }

        boolean alive() {
            if (process != null) {
                return process.isAlive();
            }
            return Processes.alive(pid, startTicks);
        }

        /** The exit code once it has exited, when known (only for our own children). */
        OptionalInt exitCode() {
            if (process != null && !process.isAlive()) {
                return OptionalInt.of(process.exitValue());
            }
            return OptionalInt.empty();
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

    void enter(Phase next, String why) {
        if (phase != next) {
            since = Instant.now();
        }
        phase = next;
        detail = why == null ? "" : why;
    }
}
