package io.steward.supervision.sidecar.internal;

import com.google.gson.JsonObject;
import io.steward.delivery.Activation;
import io.steward.delivery.AddonManifest;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.privileged.PrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.annotations.SupervisionKind;
import io.steward.supervision.sidecar.internal.RestartPolicy.Decision;
import io.steward.supervision.sidecar.internal.Supervised.Phase;
import io.steward.supervision.sidecar.internal.Supervised.Running;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionDispatcher;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
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
    private static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    /** Variables of the agent's own environment a sidecar inherits; everything else starts empty. */
    private static final List<String> INHERITED_ENV = List.of("LANG", "LC_ALL", "TZ");
    private static final long LOG_CHECK_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final long START_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

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

    /** What {@link #prepare} made ready: the spec, the activation to commit or roll back, the config bytes. */
    private record Prepared(Spec spec, Activation activation, byte[] config) {
    }

    private final HostLayout layout;
    private final ArtifactStager stager;
    private final RestartPolicy policy;
    private final Params defaults;
    private final Duration readyGrace;
    private final long logMaxBytes;
    private final int logKeep;
    private final SidecarRecords records;
    private final Cgroups cgroups;
    // opened with the first sidecar, not at activation: the kind is activated by core's whiteboard in
    // every process (a one-shot 'steward status' too), and junixsocket loads a native library
    private final Object hubLock = new Object();
    private NotifyHub hub;    // guarded by hubLock
    private final ScheduledExecutorService supervisor;
    private final Map<AddonId, Supervised> supervised = new ConcurrentHashMap<>();
    private volatile boolean closed;
    private long lastLogCheck = System.nanoTime();   // supervisor thread only
    private final java.util.concurrent.atomic.AtomicLong ticks = new java.util.concurrent.atomic.AtomicLong();

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
        this.layout = layout;
        this.stager = stager;
        if (config.ready_grace_millis() < 0 || config.start_timeout_seconds() < 1 || config.stop_grace_seconds() < 0
                || config.poll_millis() < 10 || config.log_max_bytes() < 1024 || config.log_keep() < 0) {
            throw new IllegalArgumentException("invalid sidecar configuration: ready.grace.millis "
                    + config.ready_grace_millis() + ", start.timeout.seconds " + config.start_timeout_seconds()
                    + ", stop.grace.seconds " + config.stop_grace_seconds() + ", poll.millis " + config.poll_millis()
                    + ", log.max.bytes " + config.log_max_bytes() + ", log.keep " + config.log_keep());
        }
        this.policy = new RestartPolicy(Duration.ofMillis(config.restart_base_millis()),
                Duration.ofMillis(config.restart_max_millis()), config.restart_jitter(),
                Duration.ofSeconds(config.stable_uptime_seconds()), config.crash_loop_restarts(),
                Duration.ofSeconds(config.crash_loop_window_seconds()), Duration.ofSeconds(config.crash_loop_delay_seconds()));
        this.defaults = Params.defaults(Duration.ofSeconds(config.start_timeout_seconds()),
                Duration.ofSeconds(config.stop_grace_seconds()));
        this.readyGrace = Duration.ofMillis(config.ready_grace_millis());
        this.logMaxBytes = config.log_max_bytes();
        this.logKeep = config.log_keep();
        this.records = new SidecarRecords(layout.state().resolve("sidecar"), Processes.bootId());
        this.cgroups = new Cgroups(Path.of("/proc/self/mountinfo"));
        this.supervisor = Executors.newSingleThreadScheduledExecutor(named("sidecar-supervisor"));
        supervisor.scheduleWithFixedDelay(this::tick, config.poll_millis(), config.poll_millis(), TimeUnit.MILLISECONDS);
        LOG.info("Sidecar dispatcher started on {} (ready grace {} ms, start timeout {}s, stop grace {}s, restarts {}..{} ms)",
                layout.data(), config.ready_grace_millis(), config.start_timeout_seconds(), config.stop_grace_seconds(),
                config.restart_base_millis(), config.restart_max_millis());
    }

    private NotifyHub hub() throws IOException {
        synchronized (hubLock) {
            if (closed) {
                throw new IOException("the sidecar dispatcher is stopping");
            }
            if (hub == null) {
                hub = new NotifyHub(this::onNotify, named("sidecar-notify"));
            }
            return hub;
        }
    }

    private Optional<NotifyHub> existingHub() {
        synchronized (hubLock) {
            return Optional.ofNullable(hub);
        }
    }

    /** Detaches: stops this component's threads and sockets; every sidecar process keeps running. */
    @Deactivate
    void deactivate() {
        closed = true;
        supervisor.shutdownNow();
        try {
            if (!supervisor.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.warn("The sidecar supervisor thread did not stop within 5s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        existingHub().ifPresent(NotifyHub::close);
        int n = 0;
        for (Supervised s : supervised.values()) {
            synchronized (s) {
                if (s.run != null) {
                    n++;
                }
                s.notifyAll();     // an apply waiting for readiness gives up
            }
        }
        supervised.clear();
        LOG.info("Sidecar dispatcher stopped; {} add-on process(es) left running for the next dispatcher to adopt", n);
    }

    // ---- SPI --------------------------------------------------------------------------------------

    @Override
    public SupervisionStatus apply(AddonRecord record) throws SupervisionException {
        Supervised s = acquire(record.id());
        try {
            boolean known;
            synchronized (s) {
                known = s.spec != null;
            }
            if (!known) {
                // what an earlier dispatcher or agent left, even half started, is taken over, never started twice
                readState(record.id()).ifPresent(stored -> reattach(s, stored));
            }
            converge(s, record, true);
            return status(s);
        } finally {
            release(s);
        }
    }

    @Override
    public SupervisionStatus adopt(AddonRecord record) throws SupervisionException {
        Assignment a = record.assignment();
        Supervised s = acquire(a.id());
        try {
            boolean live;
            synchronized (s) {
                live = s.run != null && s.run.alive();
            }
            if (!live) {
                Optional<JsonObject> stored = readState(a.id());
                if (stored.isPresent()) {
                    reattach(s, stored.get());
                }
            }
            synchronized (s) {
                if (s.phase == Phase.REJECTED && s.spec != null && s.spec.fingerprint().equals(Spec.fingerprint(a))
                        && s.spec.configHash().equals(configHash(s.spec.defaultConfig(), a))) {
                    return status(s);       // the same assignment that was rejected: not retried
                }
            }
            // a live process that matches is kept as it is; readiness of an adopted one is the supervisor's job
            converge(s, record, false);
            return status(s);
        } finally {
            release(s);
        }
    }

    @Override
    public void remove(AddonId id) throws SupervisionException {
        Supervised s = acquire(id);
        try {
            Running run;
            Duration grace;
            synchronized (s) {
                run = s.run;
                grace = s.spec == null ? defaults.stopGrace() : s.spec.params().stopGrace();
            }
            if (run == null) {
                // installed by an earlier dispatcher or agent and not adopted (yet): find it from durable state
                Optional<JsonObject> stored = readState(id);
                if (stored.isPresent()) {
                    run = records.liveProcess(id, stored.get()).orElse(null);
                    grace = Spec.fromJson(stored.get().getAsJsonObject("spec")).params().stopGrace();
                }
            }
            if (run != null) {
                stop(s, run, grace);
            }
            synchronized (s) {
                if (s.spec != null) {
                    s.enter(Phase.FAILED, "stopped for removal; removing its files");   // until the removal completes
                }
            }
            existingHub().ifPresent(h -> h.unbind(id));
            cgroups.release(id);
            stager.remove(id);
            PrivilegedOperations p = privileged;
            if (p != null) {
                p.release(id);
            }
            try {
                Files.deleteIfExists(stateFile(id));
                Files.deleteIfExists(records.exitFile(id));
                Files.deleteIfExists(configFile(id));
            } catch (IOException e) {
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot delete its state: "
                        + e.getMessage(), e);
            }
            synchronized (s) {
                s.run = null;
                s.spec = null;
            }
            supervised.remove(id, s);
            LOG.info("Add-on {} stopped and removed", id);
        } finally {
            release(s);
        }
    }

    @Override
    public SupervisionStatus status(AddonId id) {
        Supervised s = supervised.get(id);
        if (s == null) {
            return new SupervisionStatus(id, KIND, SupervisionState.PENDING, Optional.empty(), Optional.empty(),
                    "not supervised by this sidecar dispatcher", Instant.now());
        }
        return status(s);
    }

    // ---- apply ------------------------------------------------------------------------------------

    /** Brings the add-on to the record: nothing, a config reload, or a restart of the process. */
    private void converge(Supervised s, AddonRecord record, boolean awaitStarting) throws SupervisionException {
        Assignment a = record.assignment();
        String fingerprint = Spec.fingerprint(a);
        Spec spec;
        Running run;
        Phase phase;
        synchronized (s) {
            spec = s.spec;
            run = s.run;
            phase = s.phase;
        }
        if (spec != null && run != null && spec.fingerprint().equals(fingerprint) && run.alive()
                && (phase == Phase.READY || phase == Phase.STARTING) && reconfigure(s, a, spec, run)) {
            if (phase == Phase.STARTING && awaitStarting) {
                awaitReady(s, run, spec);
            }
            return;
        }
        replace(s, record);
    }

    /**
     * Same command line: rewrites the config and sends the reload signal (same pid), adjusts the limits.
     *
     * @return false when the config changed and the manifest asks for a restart instead of a signal
     */
    private boolean reconfigure(Supervised s, Assignment a, Spec spec, Running run) throws SupervisionException {
        AddonId id = a.id();
        byte[] config = mergedConfig(id, spec.defaultConfig(), a);
        String hash = Files2.sha256(config);
        String action = null;
        if (!hash.equals(spec.configHash())) {
            String signal = spec.params().reloadSignal();
            if (signal.isEmpty()) {
                return false;
            }
            writeConfig(id, config);
            if (!Processes.signal(run.pid, signal)) {
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot send SIG" + signal
                        + " to pid " + run.pid + " to reload its config");
            }
            action = "config reloaded with SIG" + signal;
            LOG.info("Add-on {}: config changed, sent SIG{} to pid {}", id, signal, run.pid);
        }
        Optional<String> limits = Optional.empty();
        boolean limitsChanged = !a.resources().equals(spec.resources());
        if (limitsChanged) {
            limits = cgroups.apply(id, run.pid, a.resources());
        }
        synchronized (s) {
            s.spec = spec.reconfigured(a.resources(), hash);
            if (action != null) {
                s.lastAction = action;
            }
            if (limitsChanged) {
                s.limitsProblem = limits.orElse(null);
            }
            persistQuietly(s);
        }
        return true;
    }

    /** The restart path: stage, activate, grant, stop the old process, start the new, wait, commit — or undo. */
    private void replace(Supervised s, AddonRecord record) throws SupervisionException {
        AddonId id = record.id();
        Spec oldSpec;
        Running oldRun;
        Phase oldPhase;
        String oldDetail;
        long oldRestartAt;
        synchronized (s) {
            oldSpec = s.spec;
            oldRun = s.run;
            oldPhase = s.phase;
            oldDetail = s.detail;
            oldRestartAt = s.restartAtNanos;
        }
        boolean oldWasRunning = oldRun != null && oldRun.alive();
        Prepared p = prepare(record);
        byte[] oldConfig = readIfExists(configFile(id));
        try {
            writeConfig(id, p.config());
            if (oldRun != null) {
                stop(s, oldRun, oldSpec == null ? defaults.stopGrace() : oldSpec.params().stopGrace());
            }
            synchronized (s) {
                s.spec = p.spec();
                s.history = RestartPolicy.History.NONE;
                s.lastAction = "";
            }
            Running run = start(s, p.spec());
            awaitReady(s, run, p.spec());
            if (p.activation() != null) {
                p.activation().commit();
            }
            LOG.info("Add-on {}: version {} is up as pid {}", id, p.spec().version(), run.pid);
        } catch (SupervisionException | IOException | RuntimeException e) {
            SupervisionException failure = e instanceof SupervisionException se ? se
                    : new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot start version "
                    + p.spec().version() + ": " + e.getMessage(), e);
            if (closed) {
                // detaching: whatever runs now keeps running, recorded in the durable state, for the next
                // dispatcher to adopt (undoing would stop the new process and could not restart the old one)
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": the sidecar dispatcher"
                        + " stopped during the update to " + p.spec().version() + "; left as it is for the next one", e);
            }
            undo(s, p, oldSpec, oldRun, oldWasRunning, oldPhase, oldDetail, oldRestartAt, oldConfig);
            throw failure;
        }
    }

    /** After a failed replacement: stop the new process, restore {@code current}, the config and the old process. */
    private void undo(Supervised s, Prepared p, Spec oldSpec, Running oldRun, boolean oldWasRunning, Phase oldPhase,
                      String oldDetail, long oldRestartAt, byte[] oldConfig) {
        AddonId id = s.id;
        Running started;
        synchronized (s) {
            started = s.run;
        }
        if (started != null && started != oldRun) {
            try {
                stop(s, started, p.spec().params().stopGrace());
            } catch (SupervisionException e) {
                LOG.warn("Add-on {}: the failed new version could not be stopped: {}", id, e.getMessage());
            }
        }
        if (p.activation() != null) {
            try {
                p.activation().rollback();
            } catch (SupervisionException | RuntimeException e) {
                LOG.warn("Add-on {}: rolling back current failed: {}", id, e.getMessage());
            }
        }
        try {
            if (oldConfig != null) {
                Files2.writeAtomically(configFile(id), oldConfig);
            } else {
                Files.deleteIfExists(configFile(id));
            }
        } catch (IOException e) {
            LOG.warn("Add-on {}: restoring its config file failed: {}", id, e.getMessage());
        }
        if (oldSpec == null) {
            // a first install that failed leaves nothing behind but its logs
            synchronized (s) {
                s.run = null;
                s.spec = null;
            }
            existingHub().ifPresent(h -> h.unbind(id));
            try {
                Files.deleteIfExists(stateFile(id));
            } catch (IOException e) {
                LOG.warn("Add-on {}: cannot delete {}: {}", id, stateFile(id), e.getMessage());
            }
            supervised.remove(id, s);
            return;
        }
        synchronized (s) {
            s.spec = oldSpec;
            if (oldRun != null && oldRun.alive()) {
                s.run = oldRun;             // it could not be stopped: keep supervising it
                persistQuietly(s);
                return;
            }
            if (oldWasRunning) {
                try {
                    start(s, oldSpec);
                    LOG.info("Add-on {}: rolled back to version {} (pid {})", id, oldSpec.version(), s.run.pid);
                } catch (IOException e) {
                    s.run = null;
                    s.enter(Phase.FAILED, "cannot restart version " + oldSpec.version() + " after a failed update: "
                            + e.getMessage());
                    persistQuietly(s);
                }
            } else {
                s.run = null;
                s.enter(oldPhase, oldDetail);
                s.restartAtNanos = oldRestartAt;
                persistQuietly(s);
            }
        }
    }

    /** Stages and activates the artifact, grants capabilities, reads the parameters and merges the config. */
    private Prepared prepare(AddonRecord record) throws SupervisionException {
        Assignment a = record.assignment();
        AddonId id = a.id();
        String fingerprint = Spec.fingerprint(a);
        switch (a.delivery()) {
            case "pushed_artifact" -> {
                StagedArtifact staged = stager.stage(record);
                Activation activation = stager.activate(record, staged);
                try {
                    AddonManifest m = staged.manifest();
                    Params params;
                    try {
                        params = Params.fromManifest(m.parameters(), defaults);
                    } catch (IllegalArgumentException e) {
                        throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": " + e.getMessage());
                    }
                    Path exec = record.current().resolve(m.binary());
                    if (!Files.isRegularFile(exec) || !Files.isExecutable(exec)) {
                        throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": its binary "
                                + m.binary() + " is not an executable file in the artifact");
                    }
                    if (!a.capabilities().isEmpty()) {
                        PrivilegedOperations p = privileged;
                        if (p == null) {
                            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + " needs capabilities "
                                    + a.capabilities() + " but no PrivilegedOperations service is registered"
                                    + " (the agent is not root and no updater is available)");
                        }
                        exec = p.grantCapabilities(id, staged, m.binary(), a.capabilities());
                    }
                    Optional<Path> defaultConfig = m.config().isPresent()
                            ? Optional.of(inside(id, staged.directory(), m.config().get())) : Optional.empty();
                    byte[] config = mergedConfig(id, defaultConfig, a);
                    Spec spec = new Spec(id, a.version(), fingerprint, exec, a.args(), a.env(), params, a.resources(),
                            defaultConfig, Files2.sha256(config));
                    return new Prepared(spec, activation, config);
                } catch (SupervisionException | RuntimeException e) {
                    try {
                        activation.rollback();
                    } catch (SupervisionException r) {
                        LOG.warn("Add-on {}: rolling back current failed: {}", id, r.getMessage());
                    }
                    if (e instanceof SupervisionException se) {
                        throw se;
                    }
                    throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + e, e);
                }
            }
            case "os_package" -> {
                String binary = a.binary().orElseThrow(() -> new SupervisionException(Disposition.PERMANENT,
                        "add-on " + id + ": an os_package sidecar needs the absolute path of its program in binary"));
                Path exec = Path.of(binary);
                if (!exec.isAbsolute()) {
                    throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": binary \"" + binary
                            + "\" of an os_package sidecar must be an absolute path");
                }
                if (!a.capabilities().isEmpty()) {
                    throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": capabilities are granted"
                            + " only to pushed artifacts; an os_package sets its own");
                }
                byte[] config = mergedConfig(id, Optional.empty(), a);
                return new Prepared(new Spec(id, a.version(), fingerprint, exec, a.args(), a.env(), defaults,
                        a.resources(), Optional.empty(), Files2.sha256(config)), null, config);
            }
            default -> throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": a sidecar needs a"
                    + " program; delivery " + a.delivery() + " has none");
        }
    }

    /** A file named by the manifest, which must be a regular file inside the staged directory. */
    private static Path inside(AddonId id, Path staged, String name) throws SupervisionException {
        try {
            Path root = staged.toRealPath();
            Path file = staged.resolve(name).normalize();
            if (!file.startsWith(staged) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)
                    || !file.toRealPath().startsWith(root)) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": config file \"" + name
                        + "\" is not a regular file inside the artifact");
            }
            return file;
        } catch (IOException e) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": config file \"" + name
                    + "\" cannot be read: " + e.getMessage(), e);
        }
    }

    private byte[] mergedConfig(AddonId id, Optional<Path> defaultConfig, Assignment a) throws SupervisionException {
        try {
            JsonObject base = defaultConfig.isPresent()
                    ? Files2.object(Files.readString(defaultConfig.get(), StandardCharsets.UTF_8),
                    "the default config " + defaultConfig.get().getFileName())
                    : new JsonObject();
            return Files2.bytes(Files2.mergeConfig(base, Files2.object(a.configJson(), "the assignment's config")));
        } catch (IllegalArgumentException e) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read its default config: "
                    + e.getMessage(), e);
        }
    }

    private String configHash(Optional<Path> defaultConfig, Assignment a) {
        try {
            return Files2.sha256(mergedConfig(a.id(), defaultConfig, a));
        } catch (SupervisionException e) {
            return "";
        }
    }

    private void writeConfig(AddonId id, byte[] config) throws SupervisionException {
        try {
            Files2.writeAtomically(configFile(id), config);
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot write "
                    + configFile(id) + ": " + e.getMessage(), e);
        }
    }

    // ---- processes ----------------------------------------------------------------------------------

    /** Starts the spec's program in its own session; records it durably before returning. */
    private Running start(Supervised s, Spec spec) throws IOException {
        AddonId id = s.id;
        Path home = layout.addonHome(id);
        Path stateDir = Files.createDirectories(home.resolve("state"));
        Path logDir = Files.createDirectories(home.resolve("log"));
        rotateLogs(id);
        String address = NotifyHub.address(layout.data(), id);
        hub().bind(id, address);
        String launchId = Launches.newId();
        synchronized (s) {
            // durable before the process exists: an agent killed before the pid is recorded finds it by this id
            s.run = null;
            s.launchId = launchId;
            s.enter(Phase.STARTING, "");
            try {
                persist(s);
            } catch (IOException e) {
                throw new IOException("cannot record the launch in " + stateFile(id) + ": " + e.getMessage(), e);
            }
        }

        List<String> command = new ArrayList<>();
        // the JVM's children inherit its ignored signals (HUP under nohup) and a blocked SIGQUIT;
        // env resets them, then execs the program (same pid). A path with '=' would read as an assignment.
        if (!spec.exec().toString().contains("=")) {
            command.add(Processes.ENV);
            command.add("--default-signal");
        }
        command.add(spec.exec().toString());
        command.addAll(spec.args());
        Map<String, String> env = new HashMap<>();
        env.put("PATH", DEFAULT_PATH);
        INHERITED_ENV.forEach(k -> {
            if (System.getenv(k) != null) {
                env.put(k, System.getenv(k));
            }
        });
        env.putAll(spec.env());
        env.put("STEWARD_ADDON_ID", id.value());
        env.put("STEWARD_ADDON_VERSION", spec.version());
        env.put("STEWARD_ADDON_CONFIG", configFile(id).toString());
        env.put("STEWARD_ADDON_STATE", stateDir.toString());
        env.put("NOTIFY_SOCKET", address);
        env.remove(Launches.ENV);            // the keeper adds it for the program only (Launches.find)
        env.remove("WATCHDOG_PID");
        if (spec.params().watchdog().isZero()) {
            env.remove("WATCHDOG_USEC");
        } else {
            env.put("WATCHDOG_USEC", Long.toString(spec.params().watchdog().toNanos() / 1000));
        }

        synchronized (s) {
            Keeper.Launched launched = Keeper.launch(command, env, stateDir, launchId, records.exitFile(id),
                    logDir.resolve("stdout.log"), logDir.resolve("stderr.log"));
            long startedNanos = System.nanoTime();
            long pid = launched.pid();
            Instant startInstant = ProcessHandle.of(pid).flatMap(h -> h.info().startInstant()).orElse(Instant.now());
            Running run = new Running(pid, launched.keeper(), false, startInstant, launched.startTicks(), startedNanos);
            s.run = run;
            s.statusText = "";
            s.stopping = false;
            s.reloading = false;
            s.enter(Phase.STARTING, "");
            s.limitsProblem = cgroups.apply(id, pid, spec.resources()).orElse(null);
            try {
                persist(s);
            } catch (IOException e) {
                // without a durable record the process would be an orphan after a crash: do not keep it
                Processes.signalGroup(pid, "KILL");
                Processes.signal(pid, "KILL");
                s.run = null;
                throw new IOException("cannot record the started process in " + stateFile(id) + ": " + e.getMessage(), e);
            }
            LOG.info("Add-on {}: started version {} as pid {}", id, spec.version(), pid);
            return run;
        }
    }

    /** Waits until the process is ready, bounded by the start timeout; holds the add-on while it waits. */
    private void awaitReady(Supervised s, Running run, Spec spec) throws SupervisionException {
        AddonId id = s.id;
        Params params = spec.params();
        long graceNanos = Math.min(readyGrace.toNanos(), params.startTimeout().toNanos());
        synchronized (s) {
            while (true) {
                if (closed) {
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
                    String what = describeExit(code, run.endReason);
                    if (code.isPresent() && params.permanentExitCodes().contains(code.getAsInt())) {
                        throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + " " + what
                                + " while starting, which its manifest declares permanent (see "
                                + logFile(id, "stderr") + ")");
                    }
                    throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + " " + what
                            + " while starting (see " + logFile(id, "stderr") + ")");
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
    private void assumeReady(Supervised s, Running run) {
        s.lastAction = "ready assumed: adopted while starting, it stayed up for its start timeout without"
                + " READY=1 (one sent while no dispatcher listened is lost)";
        LOG.warn("Add-on {}: pid {} {}", s.id, run.pid, s.lastAction);
        markReady(s, run);
    }

    /** Caller holds {@code s}. */
    private void markReady(Supervised s, Running run) {
        run.ready = true;
        run.lastWatchdogNanos = System.nanoTime();
        if (s.phase != Phase.READY) {
            s.enter(Phase.READY, "");
            persistQuietly(s);
            LOG.info("Add-on {}: ready (pid {})", s.id, run.pid);
        }
    }

    /**
     * Stops the process group: SIGTERM, {@code grace}, SIGKILL. Called by an operation that holds the add-on
     * ({@link Supervised#busy}), never by the supervisor thread.
     */
    private void stop(Supervised s, Running run, Duration grace) throws SupervisionException {
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
            if (s.run == run) {
                s.run = null;
            }
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

    // ---- supervision loop ----------------------------------------------------------------------------

    private void tick() {
        try {
            long now = System.nanoTime();
            for (Supervised s : supervised.values()) {
                try {
                    check(s, now);
                } catch (RuntimeException e) {
                    LOG.warn("Supervising add-on {} failed; retrying", s.id, e);
                }
            }
            if (now - lastLogCheck >= LOG_CHECK_NANOS) {
                lastLogCheck = now;
                supervised.keySet().forEach(this::rotateLogs);
            }
        } catch (RuntimeException e) {         // never let the scheduled task die
            LOG.error("Sidecar supervision pass failed", e);
        }
        ticks.incrementAndGet();
    }

    /** Supervision passes done so far: tests wait for a number of passes, never for a length of time. */
    long supervisionTicks() {
        return ticks.get();
    }

    private void check(Supervised s, long now) {
        synchronized (s) {
            if (s.busy || closed || s.spec == null) {
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
                    long grace = Math.min(readyGrace.toNanos(), spec.params().startTimeout().toNanos());
                    long deadline = Math.max(run.startedNanos + spec.params().startTimeout().toNanos(), run.extendUntilNanos);
                    if (!spec.params().mustNotify() && now - run.startedNanos >= grace) {
                        markReady(s, run);
                    } else if (spec.params().mustNotify() && now - deadline >= 0 && run.adopted) {
                        assumeReady(s, run);
                    } else if (spec.params().mustNotify() && now - deadline >= 0) {
                        run.endReason = "did not report READY=1 within " + spec.params().startTimeout().toSeconds() + "s";
                        LOG.warn("Add-on {}: pid {} {}; stopping it", s.id, run.pid, run.endReason);
                        Processes.signalGroup(run.pid, "TERM");
                        run.killAtNanos = now + spec.params().stopGrace().toNanos();
                    }
                } else if (watchdogNanos(run, spec) > 0 && now - run.lastWatchdogNanos >= watchdogNanos(run, spec)) {
                    run.endReason = "missed its watchdog (no WATCHDOG=1 for "
                            + Duration.ofNanos(now - run.lastWatchdogNanos).toMillis() + " ms)";
                    LOG.warn("Add-on {}: pid {} {}; killing it", s.id, run.pid, run.endReason);
                    Processes.signalGroup(run.pid, "KILL");
                    run.killAtNanos = now + TimeUnit.SECONDS.toNanos(1);
                }
            } else if (s.phase == Phase.BACKOFF && now - s.restartAtNanos >= 0) {
                try {
                    start(s, spec);
                } catch (IOException | RuntimeException e) {
                    s.enter(Phase.FAILED, "cannot start version " + spec.version() + ": " + e.getMessage());
                    persistQuietly(s);
                    LOG.warn("Add-on {}: {}", s.id, s.detail);
                }
            }
        }
    }

    /** The process ended on its own (or by a watchdog kill): apply the restart policy. Caller holds {@code s}. */
    private void exited(Supervised s, Running run, Spec spec, long now) {
        OptionalInt code = run.exitCode();
        String what = describeExit(code, run.endReason);
        Duration uptime = Duration.ofNanos(now - run.startedNanos);
        if (!Processes.groupMembers(run.pid).isEmpty()) {
            Processes.signalGroup(run.pid, "KILL");   // what the leader left behind in its group
        }
        Decision d = policy.onExit(s.history, run.endReason == null ? code : OptionalInt.empty(),
                spec.params().permanentExitCodes(), uptime, Instant.now(), ThreadLocalRandom.current().nextDouble());
        s.run = null;
        s.history = d.history();
        if (d.action() != RestartPolicy.Action.REJECT) {     // restarted now or after the crash-loop delay
            io.steward.observe.StewardObserver.each(observers, o -> o.restarted(s.id));
        }
        switch (d.action()) {
            case REJECT -> {
                s.enter(Phase.REJECTED, what + ", which its manifest declares permanent; not restarted until the"
                        + " assignment changes");
                LOG.error("Add-on {}: {}", s.id, s.detail);
            }
            case CRASH_LOOP -> {
                s.restartAtNanos = now + d.delay().toNanos();
                s.enter(Phase.BACKOFF, "crash loop: " + d.history().exits().size() + " exits within "
                        + policy.window().toSeconds() + "s, the last " + what + " after " + millis(uptime));
                LOG.warn("Add-on {}: {}; next start in {}", s.id, s.detail, millis(d.delay()));
            }
            case RESTART -> {
                s.restartAtNanos = now + d.delay().toNanos();
                s.enter(Phase.BACKOFF, what + " after " + millis(uptime) + "; restart " + d.attempt());
                LOG.warn("Add-on {}: pid {} {}; restart {} in {}", s.id, run.pid, what + " after " + millis(uptime),
                        d.attempt(), millis(d.delay()));
            }
        }
        persistQuietly(s);
        s.notifyAll();
    }

    private long watchdogNanos(Running run, Spec spec) {
        return run.watchdogNanos > 0 ? run.watchdogNanos : spec.params().watchdog().toNanos();
    }

    /** A datagram on an add-on's notify socket (sidecar-notify thread). */
    private void onNotify(AddonId id, NotifyMessage m) {
        Supervised s = supervised.get(id);
        if (s == null) {
            return;
        }
        synchronized (s) {
            Running run = s.run;
            if (run == null) {
                return;
            }
            long now = System.nanoTime();
            m.status().ifPresent(text -> s.statusText = text);
            if (m.watchdog()) {
                run.lastWatchdogNanos = now;
            }
            m.watchdogUsec().ifPresent(usec -> {
                run.watchdogNanos = usec * 1000;
                run.lastWatchdogNanos = now;
            });
            m.extendTimeoutUsec().ifPresent(usec -> run.extendUntilNanos = now + usec * 1000);
            if (m.stopping()) {
                s.stopping = true;
            }
            if (m.reloading()) {
                s.reloading = true;
            }
            if (m.ready()) {
                s.reloading = false;
                if (!run.ready) {
                    run.ready = true;
                    if (!s.busy) {
                        markReady(s, run);
                    }
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

    // ---- adoption -------------------------------------------------------------------------------------

    /** Takes over what an earlier dispatcher or agent recorded: the live process, or the spec of a dead one. */
    private void reattach(Supervised s, JsonObject stored) {
        AddonId id = s.id;
        Spec spec;
        try {
            spec = Spec.fromJson(stored.getAsJsonObject("spec"));
        } catch (RuntimeException e) {
            LOG.warn("Add-on {}: ignoring unreadable {}: {}", id, stateFile(id), e.toString());
            return;
        }
        Optional<Running> live = records.liveProcess(id, stored);
        synchronized (s) {
            s.spec = spec;
            s.launchId = stored.has("launch_id") ? stored.get("launch_id").getAsString() : null;
            if (live.isPresent()) {
                Running run = live.get();
                try {
                    hub().bind(id, stored.has("notify_socket") ? stored.get("notify_socket").getAsString()
                            : NotifyHub.address(layout.data(), id));
                } catch (IOException e) {
                    LOG.warn("Add-on {}: cannot bind its notify socket again: {}", id, e.getMessage());
                }
                run.ready = bool(stored, "ready");
                run.lastWatchdogNanos = System.nanoTime();
                // it may have become ready while nobody listened: a fresh start timeout from now
                run.extendUntilNanos = System.nanoTime() + spec.params().startTimeout().toNanos();
                s.run = run;
                s.limitsProblem = stored.has("limits_problem") ? stored.get("limits_problem").getAsString() : null;
                s.enter(run.ready ? Phase.READY : Phase.STARTING, "");
                LOG.info("Add-on {}: adopted pid {} (version {}), not restarted", id, run.pid, spec.version());
            } else if (stored.has("rejected")) {
                s.run = null;
                s.enter(Phase.REJECTED, stored.get("rejected").getAsString());
            } else {
                s.run = null;
                s.enter(Phase.BACKOFF, "its recorded process is gone");
                s.restartAtNanos = System.nanoTime();
                LOG.info("Add-on {}: recorded pid {} is gone; starting it again", id,
                        stored.has("pid") ? stored.get("pid").getAsLong() : 0);
            }
        }
    }

    // ---- durable state (SidecarRecords) -----------------------------------------------------------------

    /** Caller holds {@code s}. */
    private void persist(Supervised s) throws IOException {
        records.write(s, existingHub().flatMap(h -> h.boundAddress(s.id)).orElse(NotifyHub.address(layout.data(), s.id)));
    }

    private void persistQuietly(Supervised s) {
        try {
            persist(s);
        } catch (IOException e) {
            // a write interrupted by deactivation (ClosedByInterruptException) has no message; the old record stays
            LOG.warn("Add-on {}: cannot write {}: {}", s.id, stateFile(s.id), e.getMessage() != null ? e.getMessage() : e);
        }
    }

    private Optional<JsonObject> readState(AddonId id) {
        return records.read(id);
    }

    Path stateFile(AddonId id) {
        return records.file(id);
    }

    Path configFile(AddonId id) {
        return layout.addonHome(id).resolve("config.json");
    }

    Path logFile(AddonId id, String stream) {
        return layout.addonHome(id).resolve("log").resolve(stream + ".log");
    }

    private void rotateLogs(AddonId id) {
        for (String stream : List.of("stdout", "stderr")) {
            try {
                if (Files2.rotate(logFile(id, stream), logMaxBytes, logKeep)) {
                    LOG.debug("Add-on {}: rotated {}.log", id, stream);
                }
            } catch (IOException e) {
                LOG.debug("Add-on {}: rotating {}.log failed", id, stream, e);
            }
        }
    }

    // ---- status ---------------------------------------------------------------------------------------

    private SupervisionStatus status(Supervised s) {
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
                    if (run != null && s.spec != null && watchdogNanos(run, s.spec) > 0
                            && now - run.lastWatchdogNanos > watchdogNanos(run, s.spec) / 2) {
                        problems.add("watchdog late: last WATCHDOG=1 " + millis(Duration.ofNanos(now - run.lastWatchdogNanos))
                                + " ago (timeout " + millis(Duration.ofNanos(watchdogNanos(run, s.spec))) + ")");
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
            return new SupervisionStatus(s.id, KIND, state, Optional.empty(), version, detail, s.since);
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    /** Takes the add-on for one operation (waits for another one on the same add-on to finish). */
    private Supervised acquire(AddonId id) throws SupervisionException {
        while (true) {
            if (closed) {
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id
                        + ": the sidecar dispatcher is stopping");
            }
            Supervised s = supervised.computeIfAbsent(id, Supervised::new);
            synchronized (s) {
                while (s.busy && !closed) {
                    try {
                        s.wait(1000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": interrupted");
                    }
                }
                if (supervised.get(id) == s && !closed) {
                    s.busy = true;
                    return s;
                }
            }
        }
    }

    private void release(Supervised s) {
        synchronized (s) {
            s.busy = false;
            s.notifyAll();
        }
        // an add-on that never got a spec (its first install failed early) is not kept
        synchronized (s) {
            if (s.spec == null && s.run == null) {
                supervised.remove(s.id, s);
            }
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

    private static String millis(Duration d) {
        long ms = d.toMillis();
        return ms < 10_000 ? ms + " ms" : (ms / 1000) + "s";
    }

    private static byte[] readIfExists(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            return null;
        }
    }

    private static boolean bool(JsonObject o, String key) {
        return o.has(key) && o.get(key).getAsBoolean();
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
