package io.steward.core.internal;

import io.steward.audit.AuditSink;
import io.steward.observe.StewardObserver;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.AssignmentCodec;
import io.steward.supervision.AssignmentDocument;
import io.steward.supervision.AuditTrail;
import io.steward.supervision.HostLayout;
import io.steward.supervision.InvalidDocumentException;
import io.steward.supervision.KindInfo;
import io.steward.supervision.PlanStep;
import io.steward.supervision.PlanStep.Action;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.AssignmentSource;
import io.steward.supervision.spi.ResultSink;
import io.steward.supervision.spi.StatusSink;
import io.steward.supervision.spi.SupervisionDispatcher;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.FieldOption;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reconciler. Every pass runs on the single thread {@code core-reconciler}, so passes are
 * serialized whatever triggers them (a source change, the shell, the periodic timer, a dispatcher
 * coming or going) and requests that arrive while one is queued coalesce into it. The desired set
 * is computed before any side effect, each add-on is marked desired in the ledger before its
 * dispatcher is called, and each dispatcher call is isolated (timeout, exceptions turned into states).
 * <p>
 * Configuration PID {@value #PID}. In a one-shot process (framework property {@code steward.command}
 * set to apply, plan or status) it runs no pass on its own: the shell asks for exactly one.
 */
@Component(service = {SupervisionService.class, AuditSink.class}, immediate = true, configurationPid = Reconciler.PID)
@Designate(ocd = Reconciler.Config.class)
public final class Reconciler implements SupervisionService, AuditSink {
    static final String PID = "io.steward.core";
    static final String LOCAL_OVERRIDE = "assignments.local.json";
    private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);
    /** How soon a pass looks again at a desired add-on that is still starting. */
    static final Duration STARTING_RECHECK = Duration.ofSeconds(1);

    @ObjectClassDefinition(name = "Steward reconciler")
    public @interface Config {
        @AttributeDefinition(description = "Seconds between periodic passes (health checks, retries)")
        int interval_seconds() default 30;

        @AttributeDefinition(description = "Seconds a dispatcher may take for one call before it counts as a transient failure")
        int call_timeout_seconds() default 120;

        @AttributeDefinition(description = "Seconds before the first retry of a transient failure")
        int retry_base_seconds() default 5;

        @AttributeDefinition(description = "Upper bound, in seconds, of the wait between retries")
        int retry_max_seconds() default 300;

        @AttributeDefinition(description = "How many add-ons of kinds that allow concurrent calls"
                + " (supervision.concurrent) one pass works on at the same time")
        int parallelism() default 32;
    }

    /** A registered dispatcher and where it comes from. */
    private record Bound(String kind, Long serviceId, int ranking, String bundle, String bundleVersion,
                         boolean concurrent, LazyDispatcher service) {
        /** The service object, got at the first call; one that cannot be got counts as gone. */
        SupervisionDispatcher dispatcher() {
            SupervisionDispatcher d = service.get();
            if (d == null) {
                throw new DispatcherGone();
            }
            return d;
        }
    }

    /**
     * Gets a dispatcher at its first call and keeps it until it is unbound: a kind with nothing to
     * do (a one-shot apply of an empty document) is never activated. SCR's locks are never taken
     * under this object's monitor (getService may activate the kind, ungetService deactivate it).
     */
    private static final class LazyDispatcher {
        private final org.osgi.service.component.ComponentServiceObjects<SupervisionDispatcher> objects;
        private SupervisionDispatcher got;
        private boolean released;

        LazyDispatcher(org.osgi.service.component.ComponentServiceObjects<SupervisionDispatcher> objects) {
            this.objects = objects;
        }

        SupervisionDispatcher get() {
            synchronized (this) {
                if (got != null || released) {
                    return got;
                }
            }
            SupervisionDispatcher d;
            try {
                d = objects.getService();   // null when its bundle is stopping or its activation failed
            } catch (IllegalStateException e) {
                d = null;                   // unbound meanwhile
            }
            SupervisionDispatcher extra;
            synchronized (this) {
                if (got == null && !released) {
                    got = d;
                    return d;
                }
                extra = d;                  // another call got it first, or it was unbound meanwhile
            }
            unget(extra);
            synchronized (this) {
                return got;
            }
        }

        void release() {
            SupervisionDispatcher d;
            synchronized (this) {
                released = true;
                d = got;
                got = null;
            }
            unget(d);
        }

        private void unget(SupervisionDispatcher d) {
            if (d != null) {
                try {
                    objects.ungetService(d);
                } catch (IllegalStateException e) {
                    // SCR already released what the reference got
                }
            }
        }
    }

    @FunctionalInterface
    private interface DispatcherCall<T> {
        T call(SupervisionDispatcher dispatcher) throws SupervisionException;
    }

    private final HostLayout layout;
    /** The result spools of timers and helpers to the {@link ResultSink}; only in the agent. */
    private final ResultsPump results;
    private final org.osgi.framework.Bundle systemBundle;     // null outside a framework (unit tests)
    private final boolean automatic;
    private final Duration callTimeout;
    private final Backoff backoff;
    private final GsonAssignmentCodec codec = new GsonAssignmentCodec();
    private final Clock clock = Clock.systemUTC();
    private final ScheduledExecutorService loop = reconcileThread();
    // a thread per call in flight (a hung call must not hold up the next), idle ones end after 5 s
    private final ExecutorService calls = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 5, TimeUnit.SECONDS,
            new java.util.concurrent.SynchronousQueue<>(), named("core-dispatch"));
    private final ExecutorService workers;     // add-ons of concurrent kinds, during a pass
    private final AgentNotifier notifier;      // sd_notify to the agent's own unit; reconcile thread only

    // copy-on-write, read once per pass
    volatile List<AssignmentSource> sources = List.of();
    private volatile List<StatusSink> sinks = List.of();

    private final Object boundLock = new Object();
    private volatile List<Bound> bound = List.of();

    // requests waiting for the next pass; guarded by itself
    private final List<CompletableFuture<ReconcileReport>> waiters = new ArrayList<>();
    private boolean passQueued;

    // set on the reconcile thread before any pass; both are safe for the workers of a pass (one add-on each)
    private Ledger ledger;
    private AuditLog audit;
    // confined to the reconcile thread
    private String brokenBecause;
    private FileChannel lockChannel;
    private FileLock lock;
    private final Map<AddonId, String> desiredVersions = new HashMap<>();
    private final Map<AddonId, String> heldKinds = new HashMap<>();       // the kind of a held add-on, from its assignment
    // also written by the workers of a pass, one add-on each
    private final Map<AddonId, Long> attachedTo = new ConcurrentHashMap<>();
    // the restart count each add-on's dispatcher last reported (systemd's NRestarts): not in the ledger, the
    // dispatcher's supervisor keeps it and reports it again on every status
    private final Map<AddonId, Long> restarts = new ConcurrentHashMap<>();
    private final Map<AddonId, SupervisionStatus> removed = new ConcurrentSkipListMap<>();

    private volatile List<SupervisionStatus> statuses = List.of();
    private List<String> lastWarnings = List.of();   // reconcile thread only: log a warning once, not every pass
    private String lastRefusal;                      // reconcile thread only: the same, for a refused pass
    private java.util.concurrent.ScheduledFuture<?> retryTimer;   // reconcile thread only: the next backoff's pass
    private Instant retryAt;

    @Activate
    public Reconciler(BundleContext context, Config config) {
        this.layout = HostLayout.from(context::getProperty);
        this.systemBundle = context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION);
        String command = context.getProperty("steward.command");
        this.automatic = command == null || command.isBlank() || command.equals("run");
        if (config.interval_seconds() < 1 || config.call_timeout_seconds() < 1 || config.parallelism() < 1) {
            throw new IllegalArgumentException("interval.seconds, call.timeout.seconds and parallelism must be at least 1");
        }
        ThreadPoolExecutor pool = new ThreadPoolExecutor(config.parallelism(), config.parallelism(), 5,
                TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>(), named("core-pass"));
        pool.allowCoreThreadTimeOut(true);     // an idle agent keeps no worker
        this.workers = pool;
        this.callTimeout = Duration.ofSeconds(config.call_timeout_seconds());
        this.backoff = new Backoff(Duration.ofSeconds(config.retry_base_seconds()),
                Duration.ofSeconds(config.retry_max_seconds()), 0.2);
        this.notifier = automatic ? AgentNotifier.from(System.getenv(), ProcessHandle.current().pid())
                : AgentNotifier.NONE;
        this.results = automatic ? new ResultsPump(layout, SpoolIngester.Limits.DEFAULT, 2_000) : null;
        loop.execute(this::open);
        if (automatic) {
            // the first pass comes with the first source or dispatcher to bind, or with the timer
            loop.scheduleWithFixedDelay(this::reconcileSoon, config.interval_seconds(), config.interval_seconds(),
                    TimeUnit.SECONDS);
            // the watchdog hears from this thread only: a pass that hangs silences it
            notifier.pingEvery().ifPresent(every -> loop.scheduleAtFixedRate(notifier::alive, every.toMillis(),
                    every.toMillis(), TimeUnit.MILLISECONDS));
        }
        LOG.info("Reconciler started on {} ({}, interval {}s)", layout.data(),
                automatic ? "agent" : "one-shot " + command, config.interval_seconds());
    }

    /** One thread; a retry pass still waiting when it shuts down is dropped, not awaited. */
    private static ScheduledExecutorService reconcileThread() {
        java.util.concurrent.ScheduledThreadPoolExecutor t = new java.util.concurrent.ScheduledThreadPoolExecutor(1,
                named("core-reconciler"));
        t.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        t.setRemoveOnCancelPolicy(true);
        return t;
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        // let a pass in progress finish its current step; interrupt it only if it hangs
        loop.shutdown();
        if (!loop.awaitTermination(5, TimeUnit.SECONDS)) {
            loop.shutdownNow();
            workers.shutdownNow();
            calls.shutdownNow();
            if (!loop.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.warn("Reconciler thread did not stop within 10s");
            }
        }
        workers.shutdownNow();
        calls.shutdownNow();
        synchronized (waiters) {
            waiters.forEach(w -> w.completeExceptionally(new IllegalStateException("the reconciler stopped")));
            waiters.clear();
        }
        if (results != null) {
            results.close();
        }
        releaseLock();
        LOG.info("Reconciler stopped");
    }

    // ---- dispatcher whiteboard -------------------------------------------------------------

    // ComponentServiceObjects, not the service: binding must not activate the kind (see LazyDispatcher)
    @Reference(service = SupervisionDispatcher.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC)
    void addDispatcher(org.osgi.service.component.ComponentServiceObjects<SupervisionDispatcher> objects,
                       ServiceReference<SupervisionDispatcher> ref) {
        Object kind = ref.getProperty(SupervisionDispatcher.KIND_PROPERTY);
        if (!(kind instanceof String k) || k.isBlank()) {
            LOG.warn("Ignoring a dispatcher of bundle {} without a {} property", ref.getBundle().getSymbolicName(),
                    SupervisionDispatcher.KIND_PROPERTY);
            return;
        }
        Object ranking = ref.getProperty(Constants.SERVICE_RANKING);
        Object concurrent = ref.getProperty(SupervisionDispatcher.CONCURRENT_PROPERTY);
        Bound b = new Bound(GsonAssignmentCodec.canonicalKind(k), (Long) ref.getProperty(Constants.SERVICE_ID),
                ranking instanceof Integer r ? r : 0, ref.getBundle().getSymbolicName(),
                ref.getBundle().getVersion().toString(),
                Boolean.TRUE.equals(concurrent) || "true".equals(concurrent), new LazyDispatcher(objects));
        synchronized (boundLock) {
            List<Bound> next = new ArrayList<>(bound);
            next.add(b);
            bound = List.copyOf(next);
        }
        LOG.info("Kind {} is served by {} {}", b.kind(), b.bundle(), b.bundleVersion());
        if (automatic) {
            reconcileSoon();   // adopt what the new dispatcher's kind owns
        }
    }

    void removeDispatcher(ServiceReference<SupervisionDispatcher> ref) {
        Long id = (Long) ref.getProperty(Constants.SERVICE_ID);
        List<Bound> gone;
        synchronized (boundLock) {
            gone = bound.stream().filter(b -> b.serviceId().equals(id)).toList();
            bound = bound.stream().filter(b -> !b.serviceId().equals(id)).toList();
        }
        gone.forEach(b -> b.service().release());
        if (automatic && !frameworkStopping()) {
            reconcileSoon();   // its add-ons become detached; nothing is stopped
        }
    }

    /** While the framework shuts down, its bundles stop one by one: no pass (and no warning) for each. */
    private boolean frameworkStopping() {
        return systemBundle != null && systemBundle.getState() == org.osgi.framework.Bundle.STOPPING;
    }

    /** Metrics and health watch passes here (whiteboard); nothing they do changes a pass. */
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            fieldOption = FieldOption.UPDATE)
    private final List<StewardObserver> observers = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void addSource(AssignmentSource source) {
        synchronized (boundLock) {
            List<AssignmentSource> next = new ArrayList<>(sources);
            next.add(source);
            sources = List.copyOf(next);
        }
        if (automatic) {
            reconcileSoon();   // a source that appears (or comes back) brings its document
        }
    }

    void removeSource(AssignmentSource source) {
        synchronized (boundLock) {
            List<AssignmentSource> next = new ArrayList<>(sources);
            next.removeIf(s -> s == source);
            sources = List.copyOf(next);
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void addStatusSink(StatusSink sink) {
        synchronized (boundLock) {
            List<StatusSink> next = new ArrayList<>(sinks);
            next.add(sink);
            sinks = List.copyOf(next);
        }
    }

    void removeStatusSink(StatusSink sink) {
        synchronized (boundLock) {
            List<StatusSink> next = new ArrayList<>(sinks);
            next.removeIf(s -> s == sink);
            sinks = List.copyOf(next);
        }
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    void setResultSink(ResultSink sink) {
        if (results != null) {
            results.sink(sink);
        }
    }

    void unsetResultSink(ResultSink sink) {
        if (results != null) {
            results.sinkGone(sink);
        }
    }

    /** Each sink gets the pass's report; a sink's failure is its own (logged), never the pass's. */
    private void tellSinks(ReconcileReport report) {
        for (StatusSink sink : sinks) {
            try {
                sink.passCompleted(report);
            } catch (RuntimeException e) {
                LOG.warn("Status sink {} failed: {}", sink.getClass().getName(), e.toString());
            }
        }
    }

    private Optional<Bound> dispatcherFor(String kind) {
        return bound.stream()
                .filter(b -> b.kind().equals(kind))
                .max(Comparator.comparingInt(Bound::ranking).thenComparing(Bound::serviceId, Comparator.reverseOrder()));
    }

    // ---- SupervisionService -----------------------------------------------------------------

    @Override
    public List<KindInfo> kinds() {
        Map<String, KindInfo> byKind = new TreeMap<>();
        for (Bound b : bound) {
            dispatcherFor(b.kind()).ifPresent(d -> byKind.put(d.kind(), new KindInfo(d.kind(), d.bundle(),
                    d.bundleVersion())));
        }
        return List.copyOf(byKind.values());
    }

    @Override
    public List<SupervisionStatus> statuses() {
        return statuses;
    }

    @Override
    public Optional<SupervisionStatus> status(AddonId id) {
        return statuses.stream().filter(s -> s.id().equals(id)).findFirst();
    }

    @Override
    public void reconcileSoon() {
        queuePass(null);
    }

    @Override
    public CompletionStage<ReconcileReport> reconcile() {
        CompletableFuture<ReconcileReport> result = new CompletableFuture<>();
        queuePass(result);
        return result;
    }

    @Override
    public CompletionStage<ReconcileReport> plan() {
        return submit(() -> pass(true));
    }

    @Override
    public void setEnabled(AddonId id, boolean enabled) {
        submit(() -> {
            ready();
            if (ledger.hold(id, !enabled)) {
                audit.append(id.value(), enabled ? "release" : "hold",
                        enabled ? "operator released the hold" : "operator held the add-on disabled");
            }
            return null;
        });
        reconcileSoon();
    }

    /** {@link AuditSink}: a line written on the queue, so it never races a pass's own lines. */
    @Override
    public void record(String subject, String action, String detail) {
        submit(() -> {
            ready();
            audit.append(subject, action, detail);
            return null;
        });
    }

    @Override
    public AuditTrail audit(int n) {
        try {
            return new AuditLog(layout.state(), clock).read(n);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the audit log in " + layout.state() + ": " + e.getMessage(), e);
        }
    }

    // ---- the queue ----------------------------------------------------------------------------

    private void queuePass(CompletableFuture<ReconcileReport> waiter) {
        synchronized (waiters) {
            if (waiter != null) {
                waiters.add(waiter);
            }
            if (passQueued || loop.isShutdown()) {
                return;
            }
            passQueued = true;
        }
        try {
            loop.execute(this::runQueuedPass);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            if (waiter != null) {
                waiter.completeExceptionally(new IllegalStateException("the reconciler stopped"));
            }
        }
    }

    private void runQueuedPass() {
        List<CompletableFuture<ReconcileReport>> mine;
        synchronized (waiters) {
            passQueued = false;
            mine = List.copyOf(waiters);
            waiters.clear();
        }
        Instant started = clock.instant();
        long t0 = System.nanoTime();
        try {
            ReconcileReport report = pass(false);
            notifier.passed(report);
            StewardObserver.each(observers, o -> o.passCompleted(report));
            mine.forEach(w -> w.complete(report));
            tellSinks(report);
        } catch (IllegalStateException e) {       // the state is unusable or locked: reported to callers
            notifier.refused(e.getMessage());
            passFailed(started, t0, e);
            if (automatic && !e.getMessage().equals(lastRefusal)) {
                LOG.error("Reconcile pass refused: {}", e.getMessage());   // once; a one-shot command prints it
            }
            lastRefusal = e.getMessage();
            mine.forEach(w -> w.completeExceptionally(e));
        } catch (RuntimeException e) {            // never let the loop die
            passFailed(started, t0, e);
            LOG.error("Reconcile pass failed: {}", e.getMessage(), e);
            notifier.refused("failed: " + e);
            mine.forEach(w -> w.completeExceptionally(e));
        }
    }

    private void passFailed(Instant started, long t0, RuntimeException e) {
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        StewardObserver.each(observers, o -> o.passFailed(started, took, String.valueOf(e.getMessage())));
    }

    private <T> CompletionStage<T> submit(java.util.concurrent.Callable<T> task) {
        CompletableFuture<T> result = new CompletableFuture<>();
        try {
            loop.execute(() -> {
                try {
                    result.complete(task.call());
                } catch (Exception e) {
                    result.completeExceptionally(e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            result.completeExceptionally(new IllegalStateException("the reconciler stopped"));
        }
        return result;
    }

    // ---- the pass -------------------------------------------------------------------------------

    private void open() {
        try {
            ledger = Ledger.load(layout.state(), codec);
            audit = new AuditLog(layout.state(), clock);
            ledger.entries().forEach((id, e) -> e.attempted().ifPresent(a -> desiredVersions.put(id, a.version())));
            publish();
        } catch (IOException | RuntimeException e) {
            brokenBecause = "cannot open Steward's state in " + layout.state() + ": " + e.getMessage();
            LOG.error("{}", brokenBecause, e);
            return;
        }
        if (automatic) {
            try {
                acquireLock();      // an agent holds the data directory from its start, not from its first pass
            } catch (IllegalStateException e) {
                lastRefusal = e.getMessage();       // logged once here, not at every pass
                LOG.error("{}", e.getMessage());
            }
        }
    }

    private void ready() {
        if (brokenBecause != null) {
            throw new IllegalStateException(brokenBecause);
        }
    }

    private ReconcileReport pass(boolean dryRun) {
        ready();
        if (!dryRun) {
            acquireLock();
        }
        Instant started = clock.instant();
        long t0 = System.nanoTime();
        List<String> warnings = new ArrayList<>();
        Desired desired = collectDesired(warnings);
        if (results != null) {
            warnings.addAll(results.warnings());
        }
        // a one-shot plan beside a running agent says what that agent does: it has adopted what it owns
        java.util.function.Predicate<AddonId> attached = dryRun && !automatic && lock == null && agentRunning()
                ? id -> true : this::attached;
        List<Planner.Decision> decisions = Planner.decide(new Planner.Inputs(desired.assigned, desired.unassigned,
                desired.authoritative, ledger.entries(), kind -> dispatcherFor(kind).isPresent(), attached,
                codec::fingerprint, started));
        List<PlanStep> steps = new ArrayList<>();
        if (dryRun) {
            decisions.forEach(d -> steps.add(d.step()));
            publish();      // a view only: what the ledger and the holds say, with the kinds of held add-ons
        } else {
            desiredVersions.clear();
            desired.assigned.forEach((id, a) -> desiredVersions.put(id, a.version()));
            removed.values().removeIf(s -> s.since().isBefore(started.minus(Duration.ofMinutes(10))));
            steps.addAll(executeAll(decisions));
            publish();
            if (automatic) {
                scheduleRetry(desired.assigned.keySet());
            }
        }
        if (automatic && !dryRun && !warnings.equals(lastWarnings)) {
            warnings.forEach(w -> LOG.warn("{}", w));    // once per change; a one-shot command prints them itself
            lastWarnings = List.copyOf(warnings);
        }
        return new ReconcileReport(desired.revision, steps, statuses, warnings, started,
                Duration.ofNanos(System.nanoTime() - t0));
    }

    /**
     * A backoff's due time is itself a trigger: a pass is queued for the earliest retry of a desired add-on,
     * rather than left to the periodic timer; so is a desired add-on still starting (an adopted sidecar in its
     * readiness grace, a unit activating), checked again within {@link #STARTING_RECHECK}. Reconcile thread only.
     */
    private void scheduleRetry(java.util.Set<AddonId> desiredIds) {
        Map<AddonId, Ledger.Entry> entries = ledger.entries();
        Instant now = clock.instant();
        Optional<Instant> next = entries.entrySet().stream()
                .filter(e -> desiredIds.contains(e.getKey()))
                .flatMap(e -> e.getValue().failure().stream())
                .filter(f -> !f.permanent())
                .map(Ledger.Failure::retryAt)
                .filter(at -> at.isAfter(now))
                .min(Comparator.naturalOrder());
        boolean starting = entries.entrySet().stream().anyMatch(e -> desiredIds.contains(e.getKey())
                && e.getValue().state() == SupervisionState.STARTING);
        if (starting && (next.isEmpty() || next.get().isAfter(now.plus(STARTING_RECHECK)))) {
            next = Optional.of(now.plus(STARTING_RECHECK));
        }
        if (next.isEmpty() || next.get().equals(retryAt) && retryTimer != null && !retryTimer.isDone()) {
            return;
        }
        if (retryTimer != null) {
            retryTimer.cancel(false);
        }
        retryAt = next.get();
        // one millisecond after the due time: the planner retries once "now" is no longer before it
        long delay = Duration.between(clock.instant(), retryAt).toMillis() + 1;
        try {
            retryTimer = loop.schedule(this::reconcileSoon, Math.max(1, delay), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            retryTimer = null;      // stopping
        }
    }

    private boolean attached(AddonId id) {
        Long to = attachedTo.get(id);
        return to != null && ledger.get(id).flatMap(e -> dispatcherFor(e.kind()))
                .map(b -> b.serviceId().equals(to)).orElse(false);
    }

    /**
     * Removals first (what goes away frees what it held), then the rest. Add-ons of kinds that allow
     * concurrent calls run on the workers, the others one at a time on this thread meanwhile; the
     * steps come back in plan order.
     */
    private List<PlanStep> executeAll(List<Planner.Decision> decisions) {
        java.util.concurrent.atomic.AtomicReferenceArray<List<PlanStep>> results =
                new java.util.concurrent.atomic.AtomicReferenceArray<>(decisions.size());
        for (boolean removals : new boolean[] {true, false}) {
            List<Future<?>> running = new ArrayList<>();
            for (int i = 0; i < decisions.size(); i++) {
                Planner.Decision d = decisions.get(i);
                if ((d.step().action() == Action.REMOVE) != removals) {
                    continue;
                }
                int slot = i;
                if (concurrent(d)) {
                    running.add(workers.submit(() -> results.set(slot, executeIsolated(d))));
                } else {
                    results.set(slot, executeIsolated(d));
                    notifier.alive();
                }
            }
            for (Future<?> f : running) {
                try {
                    f.get();    // executeIsolated turns every failure into a state; this only waits
                    notifier.alive();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();     // deactivation: the workers are being stopped too
                    running.forEach(r -> r.cancel(true));
                    break;
                } catch (ExecutionException e) {
                    LOG.error("A worker of the pass failed", e.getCause());
                }
            }
        }
        List<PlanStep> steps = new ArrayList<>();
        for (int i = 0; i < decisions.size(); i++) {
            List<PlanStep> done = results.get(i);
            steps.addAll(done == null ? List.of(decisions.get(i).step()) : done);
        }
        return steps;
    }

    /** Whether the decision calls a dispatcher that allows concurrent calls. */
    private boolean concurrent(Planner.Decision d) {
        return switch (d.step().action()) {
            case INSTALL, UPDATE, ADOPT, KEEP, REMOVE -> dispatcherFor(d.step().kind()).map(Bound::concurrent)
                    .orElse(false);
            case DETACHED, REJECT, SKIP_REJECTED, WAIT_RETRY -> false;
        };
    }

    /** One add-on's trouble never ends the pass for the others. */
    private List<PlanStep> executeIsolated(Planner.Decision d) {
        PlanStep step = d.step();
        try {
            return execute(d);
        } catch (DispatcherGone e) {
            setState(step.id(), step.kind(), SupervisionState.DETACHED, "the dispatcher of kind " + step.kind()
                    + " went away during the pass; left as it is", clock.instant());
        } catch (UncheckedIOException e) {
            // the state directory cannot be written (a full or read-only disk): transient, nothing was attempted
            // that is not on disk; the pass after the disk is back plans it again
            String detail = "add-on " + step.id() + ": " + step.action().wireName() + ": " + e.getMessage()
                    + "; retried at the next pass";
            LOG.error("{}", detail);
            recordDespiteTheDisk(step, detail);
        } catch (RuntimeException e) {
            LOG.error("Add-on {}: {} failed unexpectedly", step.id(), step.action().wireName(), e);
            recordDespiteTheDisk(step, step.action().wireName() + " failed unexpectedly: " + e);
        }
        return List.of(step);
    }

    /** FAILED with {@code detail}; in memory (status shows it) even when the ledger cannot be written. */
    private void recordDespiteTheDisk(PlanStep step, String detail) {
        try {
            setState(step.id(), step.kind(), SupervisionState.FAILED, detail, clock.instant());
        } catch (UncheckedIOException e) {
            LOG.debug("Add-on {}: its failure is not on disk either: {}", step.id(), e.getMessage());
            Instant now = clock.instant();
            ledger.showUnrecorded(step.id(), ledger.get(step.id()).orElse(Ledger.Entry.fresh(step.kind(), now))
                    .withState(SupervisionState.FAILED, detail, now));
        }
    }

    /** The kind's dispatcher unregistered between the decision and the call (a bundle update). */
    private static final class DispatcherGone extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DispatcherGone() {
            super(null, null, false, false);
        }
    }

    private Bound dispatcherNow(String kind) {
        return dispatcherFor(kind).orElseThrow(DispatcherGone::new);
    }

    private List<PlanStep> execute(Planner.Decision d) {
        PlanStep step = d.step();
        AddonId id = step.id();
        Instant now = clock.instant();
        switch (step.action()) {
            case INSTALL -> applyAddon(d.assignment().orElseThrow(), step.action().wireName());
            case UPDATE -> {
                // an add-on not attached to its kind's dispatcher (a one-shot apply, a new kind bundle)
                // is adopted first, so the dispatcher updates what runs; still one step
                if (attached(id) || adopt(id)) {
                    applyAddon(d.assignment().orElseThrow(), step.action().wireName());
                }
            }
            case ADOPT -> adopt(id);
            case KEEP -> d.assignment().ifPresent(this::checkHealth);
            case REMOVE -> removeAddon(id, step.kind(), step.reason());
            case DETACHED -> setState(id, step.kind(), SupervisionState.DETACHED, step.reason(), now);
            case REJECT -> {
                if (setState(id, step.kind(), SupervisionState.REJECTED, step.reason(), now)) {
                    LOG.error("Add-on {} rejected: {}", id, step.reason());   // once, when it becomes so
                }
            }
            case SKIP_REJECTED -> setState(id, step.kind(), SupervisionState.REJECTED, step.reason(), now);
            case WAIT_RETRY -> setState(id, step.kind(), SupervisionState.FAILED, step.reason(), now);
        }
        return List.of(step);
    }

    /** Records a state; whether it changed (a new add-on, another state or detail). */
    private boolean setState(AddonId id, String kind, SupervisionState state, String detail, Instant now) {
        Optional<Ledger.Entry> before = ledger.get(id);
        Ledger.Entry entry = before.orElse(Ledger.Entry.fresh(kind, now));
        Ledger.Entry next = entry.withState(state, detail, now);
        boolean changed = before.isEmpty() || entry.state() != state || !entry.detail().equals(detail);
        if (!next.equals(entry) || before.isEmpty()) {
            ledger.put(id, next);
        }
        return changed;
    }

    private void applyAddon(Assignment a, String action) {
        AddonId id = a.id();
        Instant now = clock.instant();
        Ledger.Entry before = ledger.get(id).orElse(Ledger.Entry.fresh(a.kind(), now));
        long generation = before.generation() + 1;
        // marked desired before the attempt: a crash or a failure leaves a record of what was tried
        Ledger.Entry attempting = new Ledger.Entry(a.kind(), Optional.of(a), before.installed(), generation,
                SupervisionState.STARTING, before.activeVersion(), action + " of " + a.version() + " in progress",
                now, before.failure(), true);
        ledger.put(id, attempting);
        Bound b = dispatcherNow(a.kind());
        try {
            SupervisionStatus s = call(b, id, "apply", d -> d.apply(new AddonRecord(a, layout.addonHome(id), generation)));
            restarts.put(id, s.restarts());
            ledger.put(id, new Ledger.Entry(a.kind(), Optional.of(a), Optional.of(a), generation, s.state(),
                    s.activeVersion().or(() -> Optional.of(a.version())), s.detail(), clock.instant(),
                    Optional.empty(), false));
            attachedTo.put(id, b.serviceId());
            audit.append(id.value(), action, "version " + a.version() + " applied by " + b.bundle() + ": " + s.detail());
            LOG.info("Add-on {}: {} of {} done, {}", id, action, a.version(), s.state().wireName());
        } catch (SupervisionException e) {
            if (!stillBound(b)) {
                // its dispatcher went away during the call (a kind update): not a failure of the add-on. The
                // attempt stays in flight, with no backoff, for the next dispatcher to adopt whatever it left
                ledger.put(id, attempting.withState(SupervisionState.DETACHED, "the dispatcher of kind " + a.kind()
                        + " went away during the " + action + " of " + a.version() + "; the next one adopts what it left",
                        clock.instant()));
                audit.append(id.value(), action + "-interrupted", "version " + a.version() + ": " + e.getMessage());
                LOG.info("Add-on {}: {} of {} interrupted by its dispatcher going away: {}", id, action, a.version(),
                        e.getMessage());
                return;
            }
            recordFailure(attempting, a, e);
            audit.append(id.value(), action + "-failed", "version " + a.version() + ": " + e.getMessage());
        }
    }

    private boolean stillBound(Bound b) {
        return bound.stream().anyMatch(x -> x.serviceId().equals(b.serviceId()));
    }

    private void recordFailure(Ledger.Entry entry, Assignment a, SupervisionException e) {
        Instant now = clock.instant();
        String fp = codec.fingerprint(a);
        boolean permanent = e.disposition() == Disposition.PERMANENT;
        int attempts = 1 + entry.failure().filter(f -> f.fingerprint().equals(fp)).map(Ledger.Failure::attempts)
                .orElse(0);
        Duration wait = permanent ? Duration.ZERO : backoff.delay(attempts, ThreadLocalRandom.current()::nextDouble);
        Ledger.Failure failure = new Ledger.Failure(fp, permanent, attempts, e.getMessage(), now.plus(wait));
        String detail = permanent ? e.getMessage() + "; not retried until the assignment changes"
                : e.getMessage() + "; retry " + attempts + " in " + wait.toSeconds() + "s";
        ledger.put(a.id(), entry.withState(permanent ? SupervisionState.REJECTED : SupervisionState.FAILED, detail, now)
                .withFailure(Optional.of(failure)));
        if (permanent) {
            LOG.error("Add-on {} rejected: {}", a.id(), detail);     // an operator must act: it is not retried
        } else {
            LOG.warn("Add-on {} failed: {}", a.id(), detail);
        }
    }

    private boolean adopt(AddonId id) {
        Ledger.Entry entry = ledger.get(id).orElseThrow();
        Assignment inPlace = entry.inPlace().orElseThrow();
        Bound b = dispatcherNow(entry.kind());
        Instant now = clock.instant();
        try {
            SupervisionStatus s = call(b, id, "adopt",
                    d -> d.adopt(new AddonRecord(inPlace, layout.addonHome(id), entry.generation())));
            attachedTo.put(id, b.serviceId());
            restarts.put(id, s.restarts());
            Ledger.Entry next = entry.withState(s.state(), s.detail(), now);
            // an adopted interrupted attempt is what is installed now
            ledger.put(id, new Ledger.Entry(next.kind(), next.attempted(), Optional.of(inPlace), next.generation(),
                    next.state(), s.activeVersion().or(entry::activeVersion), next.detail(), next.since(),
                    next.failure(), false));
            LOG.info("Add-on {} adopted by {} {}: {}", id, b.bundle(), b.bundleVersion(), s.state().wireName());
            return true;
        } catch (SupervisionException e) {
            ledger.put(id, entry.withState(SupervisionState.FAILED, e.getMessage(), now));
            LOG.warn("Add-on {} could not be adopted: {}", id, e.getMessage());
            return false;
        }
    }

    /** Converged add-on: ask its dispatcher; one that lost its workload is applied again (self-healing). */
    private void checkHealth(Assignment a) {
        AddonId id = a.id();
        Ledger.Entry entry = ledger.get(id).orElseThrow();
        Bound b = dispatcherNow(a.kind());
        Instant now = clock.instant();
        try {
            SupervisionStatus s = call(b, id, "status", d -> d.status(id));
            restarts.put(id, s.restarts());
            if (s.state() == SupervisionState.PENDING || s.state() == SupervisionState.FAILED
                    || s.state() == SupervisionState.REMOVED) {
                LOG.warn("Add-on {} is {} ({}); applying it again", id, s.state().wireName(), s.detail());
                applyAddon(a, "heal");
                return;
            }
            Ledger.Entry next = entry.withState(s.state(), s.detail(), now);
            if (!next.equals(entry)) {
                ledger.put(id, next);
            }
        } catch (SupervisionException e) {
            Ledger.Entry next = entry.withState(SupervisionState.DEGRADED, "status unknown: " + e.getMessage(), now);
            if (!next.equals(entry)) {
                ledger.put(id, next);
            }
        }
    }

    private void removeAddon(AddonId id, String kind, String why) {
        Optional<Ledger.Entry> entry = ledger.get(id);
        Instant now = clock.instant();
        boolean touched = entry.map(e -> e.attempted().isPresent() || e.installed().isPresent()).orElse(false);
        if (touched) {
            Bound b = dispatcherNow(kind);
            try {
                call(b, id, "remove", d -> {
                    d.remove(id);
                    return null;
                });
            } catch (SupervisionException e) {
                ledger.put(id, entry.get().withState(SupervisionState.FAILED, "removal failed: " + e.getMessage()
                        + "; retried on the next pass", now));
                LOG.warn("Add-on {}: removal failed: {}", id, e.getMessage());
                return;
            }
            audit.append(id.value(), "remove", why);
            LOG.info("Add-on {} removed: {}", id, why);
        }
        ledger.remove(id);
        attachedTo.remove(id);
        restarts.remove(id);
        removed.put(id, new SupervisionStatus(id, kind, SupervisionState.REMOVED, Optional.empty(),
                Optional.empty(), "removed: " + why, now));
    }

    private <T> T call(Bound b, AddonId id, String operation, DispatcherCall<T> c) throws SupervisionException {
        // the dispatcher is got in the call: a kind's first activation is under the same timeout
        Future<T> future = calls.submit(() -> c.call(b.dispatcher()));
        try {
            return future.get(callTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof SupervisionException se) {
                throw se;
            }
            if (e.getCause() instanceof DispatcherGone gone) {
                throw gone;
            }
            // a buggy kind bundle, or one being deactivated under us
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + operation + " failed in "
                    + b.bundle() + ": " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + operation + " did not finish"
                    + " within " + callTimeout.toSeconds() + "s in " + b.bundle());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            future.cancel(true);
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + operation + " interrupted");
        }
    }

    // ---- desired set ------------------------------------------------------------------------------

    private record Desired(String revision, Map<AddonId, Assignment> assigned, Map<AddonId, String> unassigned,
                           boolean authoritative) {
    }

    private Desired collectDesired(List<String> warnings) {
        List<AssignmentSource> current = sources;
        boolean authoritative = !current.isEmpty();
        if (current.isEmpty()) {
            warnings.add("no assignment source is registered; nothing is removed until one is");
        }
        Map<AddonId, Assignment> all = new LinkedHashMap<>();
        List<String> revisions = new ArrayList<>();
        for (AssignmentSource source : current) {
            AssignmentSource.Snapshot snap;
            try {
                snap = source.snapshot();
            } catch (RuntimeException e) {
                warnings.add("an assignment source failed: " + e);
                authoritative = false;
                continue;
            }
            warnings.addAll(snap.warnings());
            snap.error().ifPresent(err -> warnings.add(snap.name() + ": " + err
                    + (snap.document().isPresent() ? "; its last valid document stays in effect" : "")));
            if (snap.document().isEmpty()) {
                authoritative = false;
                continue;
            }
            AssignmentDocument doc = snap.document().get();
            if (!doc.revision().isEmpty()) {
                revisions.add(doc.revision());
            }
            for (Assignment a : doc.addons()) {
                if (all.putIfAbsent(a.id(), a) != null) {
                    warnings.add(snap.name() + ": add-on " + a.id() + " is also assigned by another source; ignored here");
                }
            }
        }
        AssignmentDocument merged = applyOverride(new AssignmentDocument(String.join("+", revisions),
                new ArrayList<>(all.values())), warnings);
        Map<AddonId, Assignment> assigned = new LinkedHashMap<>();
        Map<AddonId, String> unassigned = new HashMap<>();
        for (Assignment a : merged.addons()) {
            if (ledger.holds().contains(a.id())) {
                heldKinds.put(a.id(), a.kind());
                unassigned.put(a.id(), "held disabled by an operator (steward:enable " + a.id() + " releases it)");
            } else if (!a.enabled()) {
                unassigned.put(a.id(), "disabled by its assignment");
            } else {
                assigned.put(a.id(), a);
            }
        }
        return new Desired(merged.revision(), assigned, unassigned, authoritative);
    }

    private AssignmentDocument applyOverride(AssignmentDocument doc, List<String> warnings) {
        Path file = layout.etc().resolve(LOCAL_OVERRIDE);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return doc;
        } catch (IOException e) {
            warnings.add("ignoring the local override " + file + ": cannot read it (" + e.getMessage() + ")");
            return doc;
        }
        try {
            AssignmentCodec.Parsed parsed = codec.applyOverride(doc, text);
            warnings.addAll(parsed.warnings());
            return parsed.document();
        } catch (InvalidDocumentException e) {
            warnings.add("ignoring the local override " + file + " in full: " + e.getMessage());
            return doc;
        }
    }

    // ---- status and lock ------------------------------------------------------------------------------

    private void publish() {
        Map<AddonId, SupervisionStatus> next = new TreeMap<>(removed);
        ledger.entries().forEach((id, e) -> next.put(id, new SupervisionStatus(id, e.kind(), e.state(),
                Optional.ofNullable(desiredVersions.get(id)), e.activeVersion(), e.detail(), e.since(),
                restarts.getOrDefault(id, 0L))));
        // a hold outlives the add-on's ledger entry: it is shown (in every process) until it is released
        for (AddonId id : ledger.holds()) {
            SupervisionStatus was = next.get(id);
            if (was == null || was.state() == SupervisionState.REMOVED) {
                next.put(id, new SupervisionStatus(id, was == null ? heldKinds.getOrDefault(id, "unknown") : was.kind(),
                        SupervisionState.HELD, Optional.empty(), Optional.empty(), "held disabled by an operator;"
                        + " steward:enable " + id + " releases it", was == null ? clock.instant() : was.since()));
            }
        }
        statuses = List.copyOf(next.values());
    }

    private void acquireLock() {
        if (lock != null) {
            return;
        }
        Path file = layout.state().resolve("agent.lock");
        try {
            Files.createDirectories(layout.state());
            FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (java.nio.channels.OverlappingFileLockException e) {
                l = null;
            }
            if (l == null) {
                ch.close();
                throw new IllegalStateException("another Steward agent is working on " + layout.data()
                        + " (it holds " + file + "); stop it or use its shell");
            }
            lockChannel = ch;
            lock = l;
            // who holds it, for the next process that finds it locked (steward status)
            String holder = "pid " + ProcessHandle.current().pid() + " " + (automatic ? "agent" : "one-shot")
                    + " since " + clock.instant() + "\n";
            ch.truncate(0);
            ch.write(java.nio.ByteBuffer.wrap(holder.getBytes(StandardCharsets.UTF_8)), 0);
        } catch (IOException e) {
            throw new IllegalStateException("cannot lock " + file + ": " + e.getMessage(), e);
        }
    }

    /** Whether another process holds the agent lock; only reads (a missing file: no agent). */
    private boolean agentRunning() {
        Path file = layout.state().resolve("agent.lock");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            try (FileLock probe = ch.tryLock(0, Long.MAX_VALUE, true)) {
                return probe == null;
            } catch (java.nio.channels.OverlappingFileLockException e) {
                return true;    // this JVM holds it (an embedding that runs a plan beside its agent)
            }
        } catch (IOException e) {
            return false;
        }
    }

    private void releaseLock() {
        try {
            if (lockChannel != null) {
                lockChannel.close();    // releases the lock
            }
        } catch (IOException e) {
            LOG.debug("Closing the agent lock failed", e);
        }
    }

    private static java.util.concurrent.ThreadFactory named(String prefix) {
        java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
