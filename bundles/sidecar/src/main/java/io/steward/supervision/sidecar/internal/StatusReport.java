package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.sidecar.internal.Supervised.Running;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Turns an add-on's supervision state into the {@link SupervisionStatus} the SPI reports, and words exits
 * and durations the same way everywhere.
 * <p>
 * Threading: any thread; takes the add-on's monitor while it reads.
 */
final class StatusReport {
    private final Duration readyGrace;

    StatusReport(Duration readyGrace) {
        this.readyGrace = readyGrace;
    }

    static SupervisionStatus notSupervised(AddonId id) {
        return new SupervisionStatus(id, SidecarDispatcher.KIND, SupervisionState.PENDING, Optional.empty(),
                Optional.empty(), "not supervised by this sidecar dispatcher", Instant.now());
    }

    SupervisionStatus status(Supervised s) {
        synchronized (s) {
            Optional<String> version = s.spec == null ? Optional.empty() : Optional.of(s.spec.version());
            SupervisionState state;
            String detail;
            long now = System.nanoTime();
            Running run = s.run;
            switch (s.phase) {
                case STARTING -> {
                    state = SupervisionState.STARTING;
                    detail = run == null ? "starting" : "starting as pid " + run.pid + "; waiting for "
                            + (s.spec != null && s.spec.params().mustNotify() ? "READY=1" : "it to stay up "
                            + readyGrace.toMillis() + " ms");
                }
                case READY -> {
                    List<String> problems = new ArrayList<>();
                    if (s.limitsProblem != null) {
                        problems.add(s.limitsProblem);
                    }
                    if (run != null && s.spec != null && Readiness.watchdogNanos(run, s.spec) > 0
                            && now - run.lastWatchdogNanos > Readiness.watchdogNanos(run, s.spec) / 2) {
                        problems.add("watchdog late: last WATCHDOG=1 " + millis(Duration.ofNanos(now - run.lastWatchdogNanos))
                                + " ago (timeout " + millis(Duration.ofNanos(Readiness.watchdogNanos(run, s.spec))) + ")");
                    }
                    if (s.stopping) {
                        problems.add("it announced STOPPING=1");
                    }
                    StringBuilder b = new StringBuilder(run == null ? "running" : "running as pid " + run.pid);
                    if (!s.statusText.isEmpty()) {
                        b.append(": ").append(s.statusText);
                    }
                    if (s.reloading) {
                        b.append("; reloading");
                    }
                    if (!s.lastAction.isEmpty()) {
                        b.append("; ").append(s.lastAction);
                    }
                    problems.forEach(p -> b.append("; ").append(p));
                    state = problems.isEmpty() ? SupervisionState.READY : SupervisionState.DEGRADED;
                    detail = b.toString();
                }
                case BACKOFF -> {
                    state = SupervisionState.BACKOFF;
                    detail = s.detail + "; next start in " + millis(Duration.ofNanos(Math.max(0, s.restartAtNanos - now)));
                }
                case FAILED -> {
                    state = SupervisionState.FAILED;
                    detail = s.detail;
                }
                default -> {
                    state = SupervisionState.REJECTED;
                    detail = s.detail;
                }
            }
            return new SupervisionStatus(s.id, SidecarDispatcher.KIND, state, Optional.empty(), version, detail, s.since);
        }
    }

    static String describeExit(OptionalInt code, String endReason) {
        if (endReason != null) {
            return endReason;
        }
        if (code.isEmpty()) {
            return "exited (status unknown: its keeper did not record it)";
        }
        int c = code.getAsInt();
        return c > 128 && c < 128 + 65 ? "was killed by signal " + (c - 128) : "exited with code " + c;
    }

    static String millis(Duration d) {
        long ms = d.toMillis();
        return ms < 10_000 ? ms + " ms" : (ms / 1000) + "s";
    }
}
