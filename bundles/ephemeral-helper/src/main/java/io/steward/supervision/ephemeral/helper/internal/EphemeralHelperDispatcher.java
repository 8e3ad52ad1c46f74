package io.steward.supervision.ephemeral.helper.internal;

import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.helper.AddonHelper;
import io.steward.privileged.PrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.annotations.SupervisionKind;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionDispatcher;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
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
import org.osgi.service.metatype.annotations.Option;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dispatcher of kind {@code ephemeral_helper}: stages a helper through the {@link ArtifactStager} and
 * registers an {@link AddonHelper} service for it (properties {@code addon.id}, {@code addon.version});
 * nothing runs until a consumer calls the service. Removal unregisters the service, lets the runs in
 * flight finish or kills them ({@code in.flight.on.remove}), then removes what was staged. Stopping the
 * bundle unregisters every helper the same way but leaves the staged files for the next dispatcher to
 * adopt.
 * <p>
 * Configuration PID {@value #PID}. Threading: {@code apply}, {@code adopt} and {@code remove} come from
 * core's reconcile thread and are serialized here; runs execute on their callers' threads, with the
 * pipes of each run served by this component's {@code ephemeral-helper-io-*} threads, stopped in
 * {@link #deactivate()}.
 */
@Component(service = SupervisionDispatcher.class, configurationPid = EphemeralHelperDispatcher.PID)
@Designate(ocd = EphemeralHelperDispatcher.Config.class)
@SupervisionKind(EphemeralHelperDispatcher.KIND)
public final class EphemeralHelperDispatcher implements SupervisionDispatcher {
    static final String KIND = "ephemeral_helper";
    static final String PID = "io.steward.supervision.ephemeral.helper";
    private static final Logger LOG = LoggerFactory.getLogger(EphemeralHelperDispatcher.class);
    /** After a kill, how long to wait for the runs' threads to be done with them. */
    private static final Duration KILL_WAIT = Duration.ofSeconds(10);

    @ObjectClassDefinition(name = "Steward ephemeral_helper kind",
            description = "Runs helper add-ons on demand; never keeps them running")
    public @interface Config {
        @AttributeDefinition(description = "Runs of one helper that may be in flight at once; a request beyond "
                + "it fails at once (BUSY) rather than queue")
        int max_concurrent_runs() default 4;

        @AttributeDefinition(description = "What happens to runs in flight when their helper is removed or this "
                + "bundle stops: finish (wait up to in.flight.grace.seconds, then kill) or kill (at once)",
                options = {@Option(label = "finish", value = "finish"), @Option(label = "kill", value = "kill")})
        String in_flight_on_remove() default "finish";

        @AttributeDefinition(description = "Seconds runs in flight may take to finish on removal or stop before "
                + "they are killed; keep it below core's call.timeout.seconds")
        int in_flight_grace_seconds() default 10;

        @AttributeDefinition(description = "Bytes of stdout, and as many of stderr, kept per run; the rest is "
                + "read and discarded and the result says it was truncated")
        int output_limit_bytes() default 1024 * 1024;

        @AttributeDefinition(description = "Absolute path of setsid(1); every run is started through it in a "
                + "process group of its own")
        String setsid_path() default "/usr/bin/setsid";

        @AttributeDefinition(description = "Absolute path of kill(1); it kills a run's process group")
        String kill_path() default "/bin/kill";
    }

    /** What {@code in.flight.on.remove} asks for. */
    enum InFlightRule { FINISH, KILL }

    /** The registered service of a helper and what it was made from. */
    private record Registered(Assignment assignment, Path executable, ServiceRegistration<AddonHelper> registration) {
    }

    /** One helper: its runs outlive version changes; {@code current} is replaced on each. */
    private static final class Helper {
        final HelperRuns runs;
        volatile Registered current;

        Helper(HelperRuns runs) {
            this.runs = runs;
        }
    }

    private final BundleContext context;
    private final ArtifactStager stager;
    private final int maxRuns;
    private final InFlightRule rule;
    private final Duration grace;
    private final ThreadPoolExecutor io;
    private final ProcessRunner runner;
    private final HelperPrograms programs;
    private final Map<AddonId, Helper> helpers = new ConcurrentHashMap<>();
    private boolean active = true;   // guarded by this

    /** Grants file capabilities; only helpers that ask for capabilities need it. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile PrivilegedOperations privileged;

    @Activate
    public EphemeralHelperDispatcher(BundleContext context, @Reference(name = "stager") ArtifactStager stager,
                                     Config config) {
        this.context = context;
        this.stager = stager;
        this.programs = new HelperPrograms(stager, () -> privileged);
        if (config.max_concurrent_runs() < 1) {
            throw new IllegalArgumentException("max.concurrent.runs must be at least 1, not "
                    + config.max_concurrent_runs());
        }
        if (config.in_flight_grace_seconds() < 0) {
            throw new IllegalArgumentException("in.flight.grace.seconds must not be negative, not "
                    + config.in_flight_grace_seconds());
        }
        if (config.output_limit_bytes() < 0) {
            throw new IllegalArgumentException("output.limit.bytes must not be negative, not "
                    + config.output_limit_bytes());
        }
        this.maxRuns = config.max_concurrent_runs();
        this.rule = switch (config.in_flight_on_remove().trim().toLowerCase(Locale.ROOT)) {
            case "finish" -> InFlightRule.FINISH;
            case "kill" -> InFlightRule.KILL;
            default -> throw new IllegalArgumentException("in.flight.on.remove must be finish or kill, not \""
                    + config.in_flight_on_remove() + "\"");
        };
        this.grace = Duration.ofSeconds(config.in_flight_grace_seconds());
        Path setsid = program("setsid.path", config.setsid_path());
        Path kill = program("kill.path", config.kill_path());
        AtomicInteger threads = new AtomicInteger();
        // no queue: every run needs its three pumps now, and the runs themselves are bounded per helper
        this.io = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(r, "ephemeral-helper-io-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.runner = new ProcessRunner(setsid, kill, config.output_limit_bytes(), KILL_WAIT, io);
        int orphans = runner.killOrphans();
        if (orphans > 0) {
            LOG.warn("Killed {} helper run(s) left running by an agent that died under them", orphans);
        }
        LOG.info("ephemeral_helper dispatcher started (max {} runs per helper, in flight on removal: {} within {}s)",
                maxRuns, rule.name().toLowerCase(Locale.ROOT), grace.toSeconds());
    }

    private static Path program(String property, String value) {
        Path p = Path.of(value);
        if (!p.isAbsolute() || !Files.isRegularFile(p) || !Files.isExecutable(p)) {
            throw new IllegalArgumentException(property + " must name an executable file by absolute path, not \""
                    + value + "\"");
        }
        return p;
    }

    /**
     * Unregisters every helper, lets runs in flight finish or kills them (the same rule as a removal),
     * and stops the pump threads. What is staged stays: the next dispatcher adopts it.
     */
    @Deactivate
    void deactivate() {
        List<HelperRun> inFlight = new ArrayList<>();
        synchronized (this) {
            active = false;
            for (Helper h : helpers.values()) {
                unregister(h.current);
                inFlight.addAll(h.runs.close());
            }
            helpers.clear();
        }
        try {
            settle(inFlight, "the bundle is stopping");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        io.shutdown();
        try {
            if (!io.awaitTermination(KILL_WAIT.toSeconds(), TimeUnit.SECONDS)) {
                io.shutdownNow();
                LOG.warn("ephemeral_helper pump threads did not stop within {}s", KILL_WAIT.toSeconds());
            }
        } catch (InterruptedException e) {
            io.shutdownNow();
            Thread.currentThread().interrupt();
        }
        LOG.info("ephemeral_helper dispatcher stopped");
    }

    // ---- SupervisionDispatcher ------------------------------------------------------------------

    @Override
    public synchronized SupervisionStatus apply(AddonRecord addon) throws SupervisionException {
        requireActive(addon.id());
        Assignment a = addon.assignment();
        Path executable = switch (a.delivery()) {
            case "pushed_artifact" -> programs.stageAndActivate(addon);
            case "os_package" -> HelperPrograms.packaged(a);
            default -> throw new SupervisionException(Disposition.PERMANENT, "add-on " + a.id()
                    + ": apply failed: an ephemeral_helper needs a program, and delivery " + a.delivery()
                    + " ships none");
        };
        HelperPrograms.createSpool(addon);
        register(addon, executable);
        return status(a.id());
    }

    @Override
    public synchronized SupervisionStatus adopt(AddonRecord addon) throws SupervisionException {
        requireActive(addon.id());
        Assignment a = addon.assignment();
        if (!a.delivery().equals("pushed_artifact")) {
            return apply(addon);
        }
        Optional<StagedArtifact> current;
        try {
            current = stager.current(a.id());
        } catch (RuntimeException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + a.id()
                    + ": adoption failed: cannot read its current version: " + e, e);
        }
        if (current.isEmpty() || !current.get().manifest().version().equals(a.version())) {
            LOG.info("Helper {}: current is {}, not the installed {}; staging it again", a.id(),
                    current.map(c -> c.manifest().version()).orElse("missing"), a.version());
            return apply(addon);
        }
        HelperPrograms.createSpool(addon);
        register(addon, programs.executable(addon, current.get()));
        return status(a.id());
    }

    @Override
    public void remove(AddonId id) throws SupervisionException {
        List<HelperRun> inFlight = List.of();
        synchronized (this) {
            Helper h = helpers.remove(id);
            if (h != null) {
                unregister(h.current);
                inFlight = h.runs.close();
            }
        }
        try {
            settle(inFlight, "helper " + id + " is being removed");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id
                    + ": removal interrupted while its runs in flight were finishing; they were killed", e);
        }
        PrivilegedOperations p = privileged;
        try {
            if (p != null) {
                p.release(id);
            }
            stager.remove(id);
        } catch (RuntimeException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": removal failed: " + e, e);
        }
        LOG.info("Helper {} removed", id);
    }

    @Override
    public SupervisionStatus status(AddonId id) {
        Helper h = helpers.get(id);
        Registered r = h == null ? null : h.current;
        if (r == null) {
            return SupervisionStatus.of(id, KIND, SupervisionState.PENDING, Optional.empty(),
                    "helper not registered by this dispatcher");
        }
        if (!Files.isExecutable(r.executable())) {
            // core applies it again
            return SupervisionStatus.of(id, KIND, SupervisionState.FAILED, Optional.of(r.assignment().version()),
                    "helper program " + r.executable() + " is gone");
        }
        return SupervisionStatus.of(id, KIND, SupervisionState.READY, Optional.of(r.assignment().version()),
                "on call as " + r.executable());
    }

    // ---- apply steps ------------------------------------------------------------------------------

    private void requireActive(AddonId id) throws SupervisionException {
        if (!active) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id
                    + ": the ephemeral_helper dispatcher is stopping");
        }
    }

    private void register(AddonRecord addon, Path executable) {
        Assignment a = addon.assignment();
        Helper h = helpers.computeIfAbsent(a.id(), id -> new Helper(new HelperRuns(id, maxRuns, runner)));
        Registered old = h.current;
        if (old != null && old.assignment().equals(a) && old.executable().equals(executable)) {
            return;   // unchanged: consumers keep the service they hold
        }
        Path workingDirectory = a.delivery().equals("pushed_artifact") ? addon.current() : Path.of("/");
        Invocation invocation = new Invocation(a.id(), a.version(), executable, a.args(), a.env(), workingDirectory,
                addon.spool());
        Hashtable<String, Object> properties = new Hashtable<>();
        properties.put(AddonHelper.ADDON_ID, a.id().value());
        properties.put(AddonHelper.ADDON_VERSION, a.version());
        ServiceRegistration<AddonHelper> registration = context.registerService(AddonHelper.class,
                new RegisteredHelper(invocation, h.runs, runner), properties);
        h.current = new Registered(a, executable, registration);
        unregister(old);   // after the new one is up: no gap for consumers
        LOG.info("Helper {} {} is on call as {}", a.id(), a.version(), executable);
    }

    private static void unregister(Registered r) {
        if (r == null) {
            return;
        }
        try {
            r.registration().unregister();
        } catch (IllegalStateException e) {
            // already gone with the bundle
        }
    }

    // ---- runs in flight ---------------------------------------------------------------------------

    /** Applies {@code in.flight.on.remove} to runs that no longer have a service. */
    private void settle(List<HelperRun> runs, String why) throws InterruptedException {
        if (runs.isEmpty()) {
            return;
        }
        try {
            if (rule == InFlightRule.KILL) {
                LOG.info("Killing {} helper run(s) in flight: {}", runs.size(), why);
                runs.forEach(HelperRun::abort);
            } else if (!awaitDone(runs, grace)) {
                LOG.warn("Killing helper run(s) still in flight after {}s: {}", grace.toSeconds(), why);
                runs.forEach(HelperRun::abort);
            }
            if (!awaitDone(runs, KILL_WAIT)) {
                LOG.warn("Helper run(s) not done {}s after they were killed: {}", KILL_WAIT.toSeconds(), why);
            }
        } catch (InterruptedException e) {
            runs.forEach(HelperRun::abort);
            throw e;
        }
    }

    private static boolean awaitDone(List<HelperRun> runs, Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        for (HelperRun run : runs) {
            try {
                run.done().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                return false;
            } catch (ExecutionException e) {
                // never completed exceptionally
            }
        }
        return true;
    }
}
