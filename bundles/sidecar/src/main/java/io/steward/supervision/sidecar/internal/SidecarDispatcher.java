package io.steward.supervision.sidecar.internal;

import com.google.gson.JsonObject;
import io.steward.delivery.ArtifactStager;
import io.steward.privileged.PrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.annotations.SupervisionKind;
import io.steward.supervision.sidecar.internal.Supervised.Phase;
import io.steward.supervision.sidecar.internal.Supervised.Running;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionDispatcher;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dispatcher of kind {@code sidecar}: runs the add-on's program in its own session (through
 * {@code /usr/bin/setsid}, so the process group id is its pid) under a small keeper process ({@link Keeper})
 * rather than as a child of the agent, with output appended to
 * size-rotated files under {@code <data>/addons/<id>/log/}, readiness and watchdog through sd_notify,
 * and a restart policy ({@link RestartPolicy}). Configuration PID {@value #PID}.
 * <p>
 * This class is the SPI facade and the wiring: an operation takes the add-on from the {@link AddonTable},
 * takes over a recorded process ({@link Adopter}), and hands it to {@link Convergence} (reload, or replace
 * through {@link Preparer}, {@link ProcessStopper}, {@link Launcher} and {@link Readiness}); {@link SupervisionLoop}
 * watches what runs, {@link NotifyEvents} applies sd_notify messages, {@link Recorder} writes the durable
 * state and {@link StatusReport} words the status.
 * <p>
 * Threading: {@code apply}, {@code adopt}, {@code remove} and {@code status} run on the caller's
 * thread; one thread {@code sidecar-supervisor} watches exits, readiness grace, watchdog deadlines
 * and restart timers every {@code poll.millis}; one thread {@code sidecar-notify} receives sd_notify
 * datagrams. Per add-on state is a {@link Supervised} guarded by its monitor.
 * <p>
 * Durable state: {@code <data>/state/sidecar/<id>.json} (pid, start time, boot id, command line and
 * its fingerprint), written atomically before and after every change, so {@link #adopt} finds a live
 * process after a bundle update, a restart of the agent or its crash, and keeps it (same pid).
 * Deactivation detaches: it stops this component's threads and closes its sockets, never a process.
 * <p>
 * Exits are detected by polling {@code /proc} and read from the file the keeper writes; no sidecar is a child
 * of the agent, so the JDK holds no reaper thread per sidecar, and an adopted process's exit status is as
 * well known as that of one started here.
 */
@Component(service = SupervisionDispatcher.class, configurationPid = SidecarDispatcher.PID)
@SupervisionKind(SidecarDispatcher.KIND)
@Designate(ocd = SidecarDispatcher.Config.class)
public final class SidecarDispatcher implements SupervisionDispatcher {
    static final String PID = "io.steward.supervision.sidecar";
    static final String KIND = "sidecar";
    private static final Logger LOG = LoggerFactory.getLogger(SidecarDispatcher.class);

    @ObjectClassDefinition(name = "Steward sidecar dispatcher",
            description = "Runs sidecar add-ons as supervised child processes")
    public @interface Config {
        @AttributeDefinition(description = "Milliseconds an add-on that does not use sd_notify must stay up to count as ready")
        long ready_grace_millis() default 1000;

        @AttributeDefinition(description = "Seconds an add-on may take to become ready (manifest start_timeout_seconds overrides)")
        int start_timeout_seconds() default 30;

        @AttributeDefinition(description = "Seconds between SIGTERM and SIGKILL of the process group (manifest stop_grace_seconds overrides)")
        int stop_grace_seconds() default 10;

        @AttributeDefinition(description = "Milliseconds before the first restart after an exit")
        long restart_base_millis() default 1000;

        @AttributeDefinition(description = "Upper bound, in milliseconds, of the exponential restart delay")
        long restart_max_millis() default 60_000;

        @AttributeDefinition(description = "Fraction by which a restart delay is shortened at random (0 to below 1)")
        double restart_jitter() default 0.25;

        @AttributeDefinition(description = "Seconds of uptime after which the restart delay starts again from the base")
        long stable_uptime_seconds() default 60;

        @AttributeDefinition(description = "Exits tolerated within the crash-loop window")
        int crash_loop_restarts() default 5;

        @AttributeDefinition(description = "Seconds of the sliding crash-loop window")
        long crash_loop_window_seconds() default 60;

        @AttributeDefinition(description = "Seconds to wait after a crash loop before starting again")
        long crash_loop_delay_seconds() default 60;

        @AttributeDefinition(description = "Bytes after which stdout.log / stderr.log are rotated (copy-truncate)")
        long log_max_bytes() default 10L * 1024 * 1024;

        @AttributeDefinition(description = "Rotated log files kept per stream")
        int log_keep() default 3;

        @AttributeDefinition(description = "Milliseconds between two supervision checks (exits, watchdog, restarts)")
        long poll_millis() default 200;
    }

    private final Params defaults;
    private final ArtifactStager stager;
    private final AddonTable table = new AddonTable();
    private final AddonFiles files;
    private final NotifySockets sockets;
    private final Recorder recorder;
    private final Cgroups cgroups;
    private final StatusReport report;
    private final NotifyEvents events;
    private final Convergence convergence;
    private final Adopter adopter;
    private final SupervisionLoop loop;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile PrivilegedOperations privileged;

    /** Metrics count restarts here (whiteboard). */
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            fieldOption = org.osgi.service.component.annotations.FieldOption.UPDATE)
    private final List<io.steward.observe.StewardObserver> observers = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Activate
    public SidecarDispatcher(BundleContext context,
                             @Reference(name = "stager", policyOption = ReferencePolicyOption.GREEDY) ArtifactStager stager,
                             Config config) throws IOException {
        this(HostLayout.from(context::getProperty), stager, config);
    }

    SidecarDispatcher(HostLayout layout, ArtifactStager stager, Config config) throws IOException {
        this.stager = stager;
        if (config.ready_grace_millis() < 0 || config.start_timeout_seconds() < 1 || config.stop_grace_seconds() < 0
                || config.poll_millis() < 10 || config.log_max_bytes() < 1024 || config.log_keep() < 0) {
            throw new IllegalArgumentException("invalid sidecar configuration: ready.grace.millis "
                    + config.ready_grace_millis() + ", start.timeout.seconds " + config.start_timeout_seconds()
                    + ", stop.grace.seconds " + config.stop_grace_seconds() + ", poll.millis " + config.poll_millis()
                    + ", log.max.bytes " + config.log_max_bytes() + ", log.keep " + config.log_keep());
        }
        RestartPolicy policy = new RestartPolicy(Duration.ofMillis(config.restart_base_millis()),
                Duration.ofMillis(config.restart_max_millis()), config.restart_jitter(),
                Duration.ofSeconds(config.stable_uptime_seconds()), config.crash_loop_restarts(),
                Duration.ofSeconds(config.crash_loop_window_seconds()), Duration.ofSeconds(config.crash_loop_delay_seconds()));
        this.defaults = Params.defaults(Duration.ofSeconds(config.start_timeout_seconds()),
                Duration.ofSeconds(config.stop_grace_seconds()));
        Duration readyGrace = Duration.ofMillis(config.ready_grace_millis());
        this.files = new AddonFiles(layout, config.log_max_bytes(), config.log_keep());
        this.sockets = new NotifySockets(this::onNotify, named("sidecar-notify"), table, layout.data());
        this.recorder = new Recorder(new SidecarRecords(layout.state().resolve("sidecar"), Processes.bootId()), sockets);
        this.cgroups = new Cgroups(Path.of("/proc/self/mountinfo"));
        this.report = new StatusReport(readyGrace);
        this.adopter = new Adopter(recorder, sockets);
        Readiness readiness = new Readiness(readyGrace, table, recorder, files);
        this.events = new NotifyEvents(table, readiness);
        Launcher launcher = new Launcher(files, sockets, recorder, cgroups);
        this.convergence = new Convergence(defaults, table, files, new Preparer(stager, defaults, () -> privileged, files),
                launcher, readiness, recorder, sockets, cgroups);
        this.loop = new SupervisionLoop(table, policy, readiness, launcher, recorder, files, observers,
                named("sidecar-supervisor"));
        loop.start(config.poll_millis());
        LOG.info("Sidecar dispatcher started on {} (ready grace {} ms, start timeout {}s, stop grace {}s, restarts {}..{} ms)",
                layout.data(), config.ready_grace_millis(), config.start_timeout_seconds(), config.stop_grace_seconds(),
                config.restart_base_millis(), config.restart_max_millis());
    }

    /** Detaches: stops this component's threads and sockets; every sidecar process keeps running. */
    @Deactivate
    void deactivate() {
        table.close();
        loop.stop();
        sockets.close();
        int n = table.detachAll();
        LOG.info("Sidecar dispatcher stopped; {} add-on process(es) left running for the next dispatcher to adopt", n);
    }

    // ---- SPI --------------------------------------------------------------------------------------

    @Override
    public SupervisionStatus apply(AddonRecord record) throws SupervisionException {
        Supervised s = table.acquire(record.id());
        try {
            boolean known;
            synchronized (s) {
                known = s.spec != null;
            }
            if (!known) {
                // what an earlier dispatcher or agent left, even half started, is taken over, never started twice
                recorder.read(record.id()).ifPresent(stored -> adopter.reattach(s, stored));
            }
            convergence.converge(s, record, true);
            return report.status(s);
        } finally {
            table.release(s);
        }
    }

    @Override
    public SupervisionStatus adopt(AddonRecord record) throws SupervisionException {
        Assignment a = record.assignment();
        Supervised s = table.acquire(a.id());
        try {
            boolean live;
            synchronized (s) {
                live = s.run != null && s.run.alive();
            }
            if (!live) {
                Optional<JsonObject> stored = recorder.read(a.id());
                if (stored.isPresent()) {
                    adopter.reattach(s, stored.get());
                }
            }
            synchronized (s) {
                if (s.phase == Phase.REJECTED && s.spec != null && s.spec.fingerprint().equals(Spec.fingerprint(a))
                        && s.spec.configHash().equals(files.configHash(s.spec.defaultConfig(), a))) {
                    return report.status(s);       // the same assignment that was rejected: not retried
                }
            }
            // a live process that matches is kept as it is; readiness of an adopted one is the supervisor's job
            convergence.converge(s, record, false);
            return report.status(s);
        } finally {
            table.release(s);
        }
    }

    @Override
    public void remove(AddonId id) throws SupervisionException {
        Supervised s = table.acquire(id);
        try {
            Running run;
            Duration grace;
            synchronized (s) {
                run = s.run;
                grace = s.spec == null ? defaults.stopGrace() : s.spec.params().stopGrace();
            }
            if (run == null) {
                // installed by an earlier dispatcher or agent and not adopted (yet): find it from durable state
                Optional<JsonObject> stored = recorder.read(id);
                if (stored.isPresent()) {
                    run = recorder.records().liveProcess(id, stored.get()).orElse(null);
                    grace = Spec.fromJson(stored.get().getAsJsonObject("spec")).params().stopGrace();
                }
            }
            if (run != null) {
                ProcessStopper.stop(s, run, grace);
            }
            synchronized (s) {
                if (s.spec != null) {
                    s.enter(Phase.FAILED, "stopped for removal; removing its files");   // until the removal completes
                }
            }
            sockets.unbind(id);
            cgroups.release(id);
            stager.remove(id);
            PrivilegedOperations p = privileged;
            if (p != null) {
                p.release(id);
            }
            try {
                Files.deleteIfExists(recorder.stateFile(id));
                Files.deleteIfExists(recorder.records().exitFile(id));
                Files.deleteIfExists(files.configFile(id));
            } catch (IOException e) {
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot delete its state: "
                        + e.getMessage(), e);
            }
            synchronized (s) {
                s.forget();
            }
            table.remove(id, s);
            LOG.info("Add-on {} stopped and removed", id);
        } finally {
            table.release(s);
        }
    }

    @Override
    public SupervisionStatus status(AddonId id) {
        Supervised s = table.get(id);
        if (s == null) {
            return StatusReport.notSupervised(id);
        }
        return report.status(s);
    }

    /** A datagram on an add-on's notify socket (sidecar-notify thread, which starts with the first sidecar). */
    private void onNotify(AddonId id, NotifyMessage m) {
        events.accept(id, m);
    }

    /** Supervision passes done so far: tests wait for a number of passes, never for a length of time. */
    long supervisionTicks() {
        return loop.ticks();
    }

    private static ThreadFactory named(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
