package io.steward.supervision.sidecar.internal;

import static io.steward.supervision.sidecar.internal.StatusReport.millis;

import io.steward.observe.StewardObserver;
import io.steward.supervision.sidecar.internal.RestartPolicy.Decision;
import io.steward.supervision.sidecar.internal.Supervised.Phase;
import io.steward.supervision.sidecar.internal.Supervised.Running;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The supervision tick: every {@code poll.millis} it looks at each add-on no operation holds, for an exit (then
 * the {@link RestartPolicy}), the readiness grace and start timeout, the watchdog, a pending SIGKILL and a due
 * restart; every five seconds it rotates the logs.
 * <p>
 * Threading: one thread {@code sidecar-supervisor}, which it owns; each add-on is checked with its monitor held.
 */
final class SupervisionLoop {
    // the dispatcher's logger: log categories stay what they were before the dispatcher was split
    private static final Logger LOG = LoggerFactory.getLogger(SidecarDispatcher.class);
    private static final long LOG_CHECK_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final AddonTable table;
    private final RestartPolicy policy;
    private final Readiness readiness;
    private final Launcher launcher;
    private final Recorder recorder;
    private final AddonFiles files;
    private final List<StewardObserver> observers;
    private final ScheduledExecutorService supervisor;
    private final AtomicLong ticks = new AtomicLong();
    private long lastLogCheck = System.nanoTime();   // supervisor thread only

    SupervisionLoop(AddonTable table, RestartPolicy policy, Readiness readiness, Launcher launcher, Recorder recorder,
                    AddonFiles files, List<StewardObserver> observers, ThreadFactory threads) {
        this.table = table;
        this.policy = policy;
        this.readiness = readiness;
        this.launcher = launcher;
        this.recorder = recorder;
        this.files = files;
        this.observers = observers;
        this.supervisor = Executors.newSingleThreadScheduledExecutor(threads);
    }

    void start(long pollMillis) {
        supervisor.scheduleWithFixedDelay(this::tick, pollMillis, pollMillis, TimeUnit.MILLISECONDS);
    }

    void stop() {
        supervisor.shutdownNow();
        try {
            if (!supervisor.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.warn("The sidecar supervisor thread did not stop within 5s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Supervision passes done so far: tests wait for a number of passes, never for a length of time. */
    long ticks() {
        return ticks.get();
    }

    private void tick() {
        try {
            long now = System.nanoTime();
            for (Supervised s : table.all()) {
                try {
                    check(s, now);
                } catch (RuntimeException e) {
                    LOG.warn("Supervising add-on {} failed; retrying", s.id, e);
                }
            }
            if (now - lastLogCheck >= LOG_CHECK_NANOS) {
                lastLogCheck = now;
                table.ids().forEach(files::rotateLogs);
            }
        } catch (RuntimeException e) {         // never let the scheduled task die
            LOG.error("Sidecar supervision pass failed", e);
        }
        ticks.incrementAndGet();
    }

    private void check(Supervised s, long now) {
        synchronized (s) {
            if (s.busy || table.closed() || s.spec == null) {
                return;
            }
            Spec spec = s.spec;
            Running run = s.run;
            if (run != null) {
                if (run.ended(now)) {
                    exited(s, run, spec, now);
                } else if (run.gone()) {
                    return;                 // gone; its keeper is recording how it ended
                } else if (run.killAtNanos != 0) {
                    if (now - run.killAtNanos >= 0) {
                        run.killAtNanos = 0;
                        Processes.signalGroup(run.pid, "KILL");
                    }
                } else if (!run.ready) {
                    long grace = readiness.graceNanos(spec.params());
                    long deadline = Math.max(run.startedNanos + spec.params().startTimeout().toNanos(), run.extendUntilNanos);
                    if (!spec.params().mustNotify() && now - run.startedNanos >= grace) {
                        readiness.markReady(s, run);
                    } else if (spec.params().mustNotify() && now - deadline >= 0 && run.adopted) {
                        readiness.assumeReady(s, run);
                    } else if (spec.params().mustNotify() && now - deadline >= 0) {
                        run.endReason = "did not report READY=1 within " + spec.params().startTimeout().toSeconds() + "s";
                        LOG.warn("Add-on {}: pid {} {}; stopping it", s.id, run.pid, run.endReason);
                        Processes.signalGroup(run.pid, "TERM");
                        run.killAtNanos = now + spec.params().stopGrace().toNanos();
                    }
                } else if (Readiness.watchdogNanos(run, spec) > 0
                        && now - run.lastWatchdogNanos >= Readiness.watchdogNanos(run, spec)) {
                    run.endReason = "missed its watchdog (no WATCHDOG=1 for "
                            + Duration.ofNanos(now - run.lastWatchdogNanos).toMillis() + " ms)";
                    LOG.warn("Add-on {}: pid {} {}; killing it", s.id, run.pid, run.endReason);
                    Processes.signalGroup(run.pid, "KILL");
                    run.killAtNanos = now + TimeUnit.SECONDS.toNanos(1);
                }
            } else if (s.phase == Phase.BACKOFF && now - s.restartAtNanos >= 0) {
                try {
                    launcher.start(s, spec);
                } catch (IOException | RuntimeException e) {
                    s.enter(Phase.FAILED, "cannot start version " + spec.version() + ": " + e.getMessage());
                    recorder.persistQuietly(s);
                    LOG.warn("Add-on {}: {}", s.id, s.detail);
                }
            }
        }
    }

    /** The process ended on its own (or by a watchdog kill): apply the restart policy. Caller holds {@code s}. */
    private void exited(Supervised s, Running run, Spec spec, long now) {
        OptionalInt code = run.exitCode();
        String what = StatusReport.describeExit(code, run.endReason);
        Duration uptime = Duration.ofNanos(now - run.startedNanos);
        if (!Processes.groupMembers(run.pid).isEmpty()) {
            Processes.signalGroup(run.pid, "KILL");   // what the leader left behind in its group
        }
        Decision d = policy.onExit(s.history, run.endReason == null ? code : OptionalInt.empty(),
                spec.params().permanentExitCodes(), uptime, Instant.now(), ThreadLocalRandom.current().nextDouble());
        s.exited(d.history());
        if (d.action() != RestartPolicy.Action.REJECT) {     // restarted now or after the crash-loop delay
            StewardObserver.each(observers, o -> o.restarted(s.id));
        }
        switch (d.action()) {
            case REJECT -> {
                s.enter(Phase.REJECTED, what + ", which its manifest declares permanent; not restarted until the"
                        + " assignment changes");
                LOG.error("Add-on {}: {}", s.id, s.detail);
            }
            case CRASH_LOOP -> {
                s.backoff(now + d.delay().toNanos(), "crash loop: " + d.history().exits().size() + " exits within "
                        + policy.window().toSeconds() + "s, the last " + what + " after " + millis(uptime));
                LOG.warn("Add-on {}: {}; next start in {}", s.id, s.detail, millis(d.delay()));
            }
            case RESTART -> {
                s.backoff(now + d.delay().toNanos(), what + " after " + millis(uptime) + "; restart " + d.attempt());
                LOG.warn("Add-on {}: pid {} {}; restart {} in {}", s.id, run.pid, what + " after " + millis(uptime),
                        d.attempt(), millis(d.delay()));
            }
        }
        recorder.persistQuietly(s);
        s.notifyAll();
    }
}
