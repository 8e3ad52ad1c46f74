package io.steward.core.internal;

import io.steward.audit.AuditSink;
import io.steward.core.internal.DesiredSet.Desired;
import io.steward.observe.StewardObserver;
import io.steward.supervision.AddonId;
import io.steward.supervision.AuditTrail;
import io.steward.supervision.HostLayout;
import io.steward.supervision.KindInfo;
import io.steward.supervision.PlanStep;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AssignmentSource;
import io.steward.supervision.spi.ResultSink;
import io.steward.supervision.spi.StatusSink;
import io.steward.supervision.spi.SupervisionDispatcher;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.ComponentServiceObjects;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.FieldOption;
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
 * The reconciler. Every pass runs on the single thread {@code core-reconciler} ({@link PassScheduler}), so
 * passes are serialized whatever triggers them (a source change, the shell, the periodic timer, a dispatcher
 * coming or going) and requests that arrive while one is queued coalesce into it. The desired set
 * ({@link DesiredSet}) is computed before any side effect, each add-on is marked desired in the ledger before
 * its dispatcher is called ({@link AddonTransitions}), and each dispatcher call is isolated
 * ({@link DispatcherCalls}: timeout, exceptions turned into states).
 * <p>
 * This class is the DS component: its references feed the {@link DispatcherRegistry} and the lists of
 * sources and sinks, and a pass is wired here from planner to {@link PassExecutor} to {@link StatusBoard}.
 * <p>
 * Configuration PID {@value #PID}. In a one-shot process (framework property {@code steward.command}
 * set to apply, plan or status) it runs no pass on its own: the shell asks for exactly one.
 */
@Component(service = {SupervisionService.class, AuditSink.class}, immediate = true, configurationPid = Reconciler.PID)
@Designate(ocd = Reconciler.Config.class)
public final class Reconciler implements SupervisionService, AuditSink {
    static final String PID = "io.steward.core";
    private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

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

    private final HostLayout layout;
    /** The result spools of timers and helpers to the {@link ResultSink}; only in the agent. */
    private final ResultsPump results;
    private final Bundle systemBundle;     // null outside a framework (unit tests)
    private final boolean automatic;
    private final Backoff backoff;
    private final GsonAssignmentCodec codec = new GsonAssignmentCodec();
    private final Clock clock = Clock.systemUTC();
    private final PassScheduler loop;
    private final DispatcherCalls calls;
    private final ExecutorService workers;     // add-ons of concurrent kinds, during a pass
    private final AgentNotifier notifier;      // sd_notify to the agent's own unit; reconcile thread only
    private final DispatcherRegistry registry = new DispatcherRegistry();
    private final DesiredSet desiredSet;
    private final StatusBoard board = new StatusBoard(clock);
    private final AgentLock lock;
    private final PassReporter reporter;

    // copy-on-write, read once per pass
    volatile List<AssignmentSource> sources = List.of();
    private volatile List<StatusSink> sinks = List.of();
    private final Object listLock = new Object();

    // set on the reconcile thread before any pass; all are safe for the workers of a pass (one add-on each)
    private Ledger ledger;
    private AuditLog audit;
    private AddonTransitions transitions;
    private PassExecutor executor;
    // confined to the reconcile thread
    private String brokenBecause;
    private List<String> lastWarnings = List.of();   // log a warning once, not every pass

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
                TimeUnit.SECONDS, new LinkedBlockingQueue<>(), PassScheduler.named("core-pass"));
        pool.allowCoreThreadTimeOut(true);     // an idle agent keeps no worker
        this.workers = pool;
        this.calls = new DispatcherCalls(Duration.ofSeconds(config.call_timeout_seconds()));
        this.backoff = new Backoff(Duration.ofSeconds(config.retry_base_seconds()),
                Duration.ofSeconds(config.retry_max_seconds()), 0.2);
        this.notifier = automatic ? AgentNotifier.from(System.getenv(), ProcessHandle.current().pid())
                : AgentNotifier.NONE;
        this.results = automatic ? new ResultsPump(layout, SpoolIngester.Limits.DEFAULT, 2_000) : null;
        this.desiredSet = new DesiredSet(layout, codec);
        this.lock = new AgentLock(layout, automatic, clock);
        this.reporter = new PassReporter(automatic, notifier, observers, () -> sinks, clock);
        this.loop = new PassScheduler(mine -> reporter.run(mine, () -> pass(false)), clock);
        loop.execute(this::open);
        if (automatic) {
            // the first pass comes with the first source or dispatcher to bind, or with the timer
            loop.passEvery(config.interval_seconds());
            // the watchdog hears from this thread only: a pass that hangs silences it
            notifier.pingEvery().ifPresent(every -> loop.runEvery(every, notifier::alive));
        }
        LOG.info("Reconciler started on {} ({}, interval {}s)", layout.data(),
                automatic ? "agent" : "one-shot " + command, config.interval_seconds());
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        // let a pass in progress finish its current step; interrupt it only if it hangs
        loop.shutdown();
        if (!loop.awaitTermination(Duration.ofSeconds(5))) {
            loop.shutdownNow();
            workers.shutdownNow();
            calls.shutdownNow();
            if (!loop.awaitTermination(Duration.ofSeconds(5))) {
                LOG.warn("Reconciler thread did not stop within 10s");
            }
        }
        workers.shutdownNow();
        calls.shutdownNow();
        loop.failWaiters();
        if (results != null) {
            results.close();
        }
        lock.release();
        LOG.info("Reconciler stopped");
    }

    // ---- references -------------------------------------------------------------------------

    // ComponentServiceObjects, not the service: binding must not activate the kind (see LazyDispatcher)
    @Reference(service = SupervisionDispatcher.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC)
    void addDispatcher(ComponentServiceObjects<SupervisionDispatcher> objects,
                       ServiceReference<SupervisionDispatcher> ref) {
        if (registry.add(objects, ref) && automatic) {
            reconcileSoon();   // adopt what the new dispatcher's kind owns
        }
    }

    void removeDispatcher(ServiceReference<SupervisionDispatcher> ref) {
        registry.remove(ref);
        if (automatic && !frameworkStopping()) {
            reconcileSoon();   // its add-ons become detached; nothing is stopped
        }
    }

    /** While the framework shuts down, its bundles stop one by one: no pass (and no warning) for each. */
    private boolean frameworkStopping() {
        return systemBundle != null && systemBundle.getState() == Bundle.STOPPING;
    }

    /** Metrics and health watch passes here (whiteboard); nothing they do changes a pass. */
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            fieldOption = FieldOption.UPDATE)
    private final List<StewardObserver> observers = new CopyOnWriteArrayList<>();

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void addSource(AssignmentSource source) {
        synchronized (listLock) {
            List<AssignmentSource> next = new ArrayList<>(sources);
            next.add(source);
            sources = List.copyOf(next);
        }
        if (automatic) {
            reconcileSoon();   // a source that appears (or comes back) brings its document
        }
    }

    void removeSource(AssignmentSource source) {
        synchronized (listLock) {
            List<AssignmentSource> next = new ArrayList<>(sources);
            next.removeIf(s -> s == source);
            sources = List.copyOf(next);
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void addStatusSink(StatusSink sink) {
        synchronized (listLock) {
            List<StatusSink> next = new ArrayList<>(sinks);
            next.add(sink);
            sinks = List.copyOf(next);
        }
    }

    void removeStatusSink(StatusSink sink) {
        synchronized (listLock) {
            List<StatusSink> next = new ArrayList<>(sinks);
            next.removeIf(s -> s == sink);
            sinks = List.copyOf(next);
        }
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
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

    // ---- SupervisionService -----------------------------------------------------------------

    @Override
    public List<KindInfo> kinds() {
        return registry.kinds();
    }

    @Override
    public List<SupervisionStatus> statuses() {
        return board.statuses();
    }

    @Override
    public Optional<SupervisionStatus> status(AddonId id) {
        return board.status(id);
    }

    @Override
    public void reconcileSoon() {
        loop.queuePass(null);
    }

    @Override
    public CompletionStage<ReconcileReport> reconcile() {
        CompletableFuture<ReconcileReport> result = new CompletableFuture<>();
        loop.queuePass(result);
        return result;
    }

    @Override
    public CompletionStage<ReconcileReport> plan() {
        return loop.submit(() -> pass(true));
    }

    @Override
    public void setEnabled(AddonId id, boolean enabled) {
        loop.submit(() -> {
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
        loop.submit(() -> {
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

    // ---- the pass -------------------------------------------------------------------------------

    private void open() {
        try {
            ledger = Ledger.load(layout.state(), codec);
            audit = new AuditLog(layout.state(), clock);
            board.desiredFrom(ledger);
            board.publish(ledger);
        } catch (IOException | RuntimeException e) {
            brokenBecause = "cannot open Steward's state in " + layout.state() + ": " + e.getMessage();
            LOG.error("{}", brokenBecause, e);
            return;
        }
        transitions = new AddonTransitions(ledger, audit, registry, calls, board, layout, codec, backoff, clock);
        executor = new PassExecutor(transitions, registry, ledger, workers, notifier, clock);
        if (automatic) {
            try {
                lock.acquire();     // an agent holds the data directory from its start, not from its first pass
            } catch (IllegalStateException e) {
                reporter.refusedBefore(e.getMessage());     // logged once here, not at every pass
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
            lock.acquire();
        }
        Instant started = clock.instant();
        long t0 = System.nanoTime();
        List<String> warnings = new ArrayList<>();
        Desired desired = desiredSet.collect(sources, ledger.holds(), board::heldKind, warnings);
        if (results != null) {
            warnings.addAll(results.warnings());
        }
        // a one-shot plan beside a running agent says what that agent does: it has adopted what it owns
        Predicate<AddonId> attached = dryRun && !automatic && !lock.held() && lock.agentRunning()
                ? id -> true : transitions::attached;
        List<Planner.Decision> decisions = Planner.decide(new Planner.Inputs(desired.assigned(), desired.unassigned(),
                desired.authoritative(), ledger.entries(), kind -> registry.dispatcherFor(kind).isPresent(), attached,
                codec::fingerprint, started));
        List<PlanStep> steps = new ArrayList<>();
        if (dryRun) {
            decisions.forEach(d -> steps.add(d.step()));
            board.publish(ledger);      // a view only: what the ledger and the holds say, with the kinds of held add-ons
        } else {
            board.desired(desired.assigned());
            board.forgetRemovedBefore(started.minus(Duration.ofMinutes(10)));
            steps.addAll(executor.executeAll(decisions));
            board.publish(ledger);
            if (automatic) {
                loop.scheduleRetry(ledger.entries(), desired.assigned().keySet());
            }
        }
        if (automatic && !dryRun && !warnings.equals(lastWarnings)) {
            warnings.forEach(w -> LOG.warn("{}", w));    // once per change; a one-shot command prints them itself
            lastWarnings = List.copyOf(warnings);
        }
        return new ReconcileReport(desired.revision(), steps, board.statuses(), warnings, started,
                Duration.ofNanos(System.nanoTime() - t0));
    }
}
