package io.steward.core.internal;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.AssignmentDocument;
import io.steward.supervision.PlanStep.Action;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.AssignmentSource;
import io.steward.supervision.spi.SupervisionDispatcher;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.Version;
import org.osgi.service.component.ComponentServiceObjects;

/** The reconciler against fake dispatchers and sources; the real ones are exercised in itests. */
class ReconcilerTest {
    @TempDir
    Path data;

    private final GsonAssignmentCodec codec = new GsonAssignmentCodec();
    private final List<Reconciler> started = new ArrayList<>();
    private long nextServiceId = 100;

    /** Records every call; can be told to fail. */
    static class FakeDispatcher implements SupervisionDispatcher {
        final String kind;
        final Map<AddonId, String> running = new ConcurrentHashMap<>();
        final List<String> calls = Collections.synchronizedList(new ArrayList<>());
        final Map<AddonId, SupervisionException> failApply = new ConcurrentHashMap<>();
        /** The restart count each status reports, as systemd's NRestarts would be. */
        final Map<AddonId, Long> restarts = new ConcurrentHashMap<>();
        final AtomicInteger inFlight = new AtomicInteger();
        final AtomicInteger maxInFlight = new AtomicInteger();
        /** Registered with supervision.concurrent=true. */
        boolean concurrent;
        /** When set, each apply counts down and waits (with a deadline) until it reaches zero. */
        volatile CountDownLatch gathering;

        FakeDispatcher(String kind) {
            this.kind = kind;
        }

        @Override
        public SupervisionStatus apply(AddonRecord addon) throws SupervisionException {
            enter("apply " + addon.id() + " " + addon.assignment().version());
            try {
                CountDownLatch g = gathering;
                if (g != null) {
                    g.countDown();
                    g.await(10, TimeUnit.SECONDS);      // released early only when enough applies overlap
                }
                SupervisionException e = failApply.get(addon.id());
                if (e != null) {
                    throw e;
                }
                running.put(addon.id(), addon.assignment().version());
                return status(addon.id());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SupervisionException(Disposition.TRANSIENT, "interrupted");
            } finally {
                inFlight.decrementAndGet();
            }
        }

        @Override
        public SupervisionStatus adopt(AddonRecord addon) {
            calls.add("adopt " + addon.id());
            running.put(addon.id(), addon.assignment().version());
            return status(addon.id());
        }

        @Override
        public void remove(AddonId id) {
            calls.add("remove " + id);
            running.remove(id);
        }

        @Override
        public SupervisionStatus status(AddonId id) {
            String v = running.get(id);
            return v == null ? SupervisionStatus.of(id, kind, SupervisionState.PENDING, Optional.empty(), "unknown")
                    : SupervisionStatus.of(id, kind, SupervisionState.READY, Optional.of(v), "running")
                    .withRestarts(restarts.getOrDefault(id, 0L));
        }

        long count(String prefix) {
            synchronized (calls) {
                return calls.stream().filter(c -> c.startsWith(prefix)).count();
            }
        }

        private void enter(String call) {
            calls.add(call);
            maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
        }
    }

    /** A source whose document the test sets. */
    static final class FakeSource implements AssignmentSource {
        volatile Snapshot snapshot;

        void set(AssignmentDocument doc) {
            snapshot = new Snapshot("test", Optional.of(doc), Optional.empty(), List.of(), Instant.now());
        }

        void fail(String error) {
            snapshot = new Snapshot("test", snapshot.document(), Optional.of(error), List.of(), Instant.now());
        }

        @Override
        public Snapshot snapshot() {
            return snapshot;
        }
    }

    @AfterEach
    void stop() throws Exception {
        for (Reconciler r : started) {
            r.deactivate();
        }
    }

    private Reconciler reconciler(FakeSource source, Map<String, Object> config) {
        return reconciler(source, config, "apply");
    }

    /** {@code command} "run" makes an agent: passes of its own (timer, triggers), not only those asked for. */
    private Reconciler reconciler(FakeSource source, Map<String, Object> config, String command) {
        Map<String, String> props = Map.of("steward.data", data.toString(), "steward.etc",
                data.resolve("etc").toString(), "steward.command", command);
        BundleContext context = proxy(BundleContext.class, (m, a) -> m.getName().equals("getProperty")
                ? props.get((String) a[0]) : null);
        Reconciler.Config cfg = proxy(Reconciler.Config.class,
                (m, a) -> config.getOrDefault(m.getName(), m.getDefaultValue()));
        Reconciler r = new Reconciler(context, cfg);
        r.sources = List.of(source);
        started.add(r);
        return r;
    }

    private Reconciler reconciler(FakeSource source) {
        return reconciler(source, Map.of());
    }

    private void bind(Reconciler r, FakeDispatcher d) {
        bind(r, d, objects(d));
    }

    private void bind(Reconciler r, FakeDispatcher d, FakeObjects objects) {
        r.addDispatcher(objects, reference(d));
    }

    /** SCR's ComponentServiceObjects of a dispatcher: counts gets and ungets; can have no service to give. */
    static final class FakeObjects implements ComponentServiceObjects<SupervisionDispatcher> {
        final SupervisionDispatcher service;
        final AtomicInteger gets = new AtomicInteger();
        final AtomicInteger ungets = new AtomicInteger();

        FakeObjects(SupervisionDispatcher service) {
            this.service = service;
        }

        @Override
        public SupervisionDispatcher getService() {
            gets.incrementAndGet();
            return service;
        }

        @Override
        public void ungetService(SupervisionDispatcher s) {
            assertTrue(s == service, "only what was got is given back");
            ungets.incrementAndGet();
        }

        @Override
        public ServiceReference<SupervisionDispatcher> getServiceReference() {
            throw new UnsupportedOperationException();
        }
    }

    private static FakeObjects objects(FakeDispatcher d) {
        return new FakeObjects(d);
    }

    private final Map<FakeDispatcher, ServiceReference<SupervisionDispatcher>> refs = new HashMap<>();

    @SuppressWarnings("unchecked")
    private ServiceReference<SupervisionDispatcher> reference(FakeDispatcher d) {
        return refs.computeIfAbsent(d, x -> {
            long id = nextServiceId++;
            Bundle bundle = proxy(Bundle.class, (m, a) -> switch (m.getName()) {
                case "getSymbolicName" -> "test." + d.kind;
                case "getVersion" -> new Version(1, 0, 0);
                default -> null;
            });
            return proxy(ServiceReference.class, (m, a) -> switch (m.getName()) {
                case "getProperty" -> switch ((String) a[0]) {
                    case SupervisionDispatcher.KIND_PROPERTY -> d.kind;
                    case SupervisionDispatcher.CONCURRENT_PROPERTY -> d.concurrent ? Boolean.TRUE : null;
                    case Constants.SERVICE_ID -> id;
                    default -> null;
                };
                case "getBundle" -> bundle;
                default -> null;
            });
        });
    }

    @SuppressWarnings("unchecked")
    private static <T> T proxy(Class<T> type, java.util.function.BiFunction<java.lang.reflect.Method, Object[], Object> h) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, a) -> {
            if (m.getName().equals("hashCode")) {
                return System.identityHashCode(p);
            }
            if (m.getName().equals("equals")) {
                return p == a[0];
            }
            return h.apply(m, a);
        });
    }

    private AssignmentDocument doc(String... addons) throws Exception {
        return codec.parse(GsonAssignmentCodecTest.doc(String.join(",", addons)), true).document();
    }

    private static String toggle(String id, String version) {
        return GsonAssignmentCodecTest.toggle(id, version);
    }

    private static ReconcileReport run(Reconciler r) throws Exception {
        return r.reconcile().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private static SupervisionState state(ReconcileReport report, String id) {
        return report.statuses().stream().filter(s -> s.id().value().equals(id)).findFirst()
                .map(SupervisionStatus::state).orElse(null);
    }

    @Test
    void installsRecordsAndAuditsThenKeepsWithoutCallingApplyAgain() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0"), toggle("b", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        Reconciler r = reconciler(source);
        bind(r, toggles);

        ReconcileReport first = run(r);
        assertTrue(first.converged(), first.toString());
        assertEquals(SupervisionState.READY, state(first, "a"));
        assertEquals(2, toggles.count("apply"));
        assertTrue(Files.readString(data.resolve("state/ledger/a.json")).contains("\"installed\""));
        assertEquals(2, r.audit(10).records().size());

        ReconcileReport second = run(r);
        assertEquals(List.of(Action.KEEP, Action.KEEP), second.steps().stream().map(s -> s.action()).toList());
        assertEquals(2, toggles.count("apply"), "a converged add-on is not applied again");
    }

    @Test
    void theRestartCountADispatcherReportsIsInTheStatusOfEachPassAndGoesWithTheAddon() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0"), toggle("b", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        Reconciler r = reconciler(source);
        bind(r, toggles);
        AddonId a = new AddonId("a");
        toggles.restarts.put(a, 2L);
        run(r);
        assertEquals(2, r.status(a).orElseThrow().restarts(), "from apply");
        assertEquals(0, r.status(new AddonId("b")).orElseThrow().restarts());

        toggles.restarts.put(a, 5L);        // systemd restarted it three more times
        run(r);
        assertEquals(5, r.status(a).orElseThrow().restarts(), "from the status of a converged add-on");

        source.set(doc(toggle("b", "1.0")));
        run(r);
        SupervisionStatus gone = r.status(a).orElseThrow();
        assertEquals(SupervisionState.REMOVED, gone.state());
        assertEquals(0, gone.restarts(), "a removed add-on has no restart count");
    }

    @Test
    void aFailedRoundNeverRemovesWhatIsStillWantedAndDoesNotBlockOthers() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0"), toggle("b", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        Reconciler r = reconciler(source);
        bind(r, toggles);
        run(r);

        toggles.failApply.put(new AddonId("a"), new SupervisionException(Disposition.TRANSIENT, "add-on a: network down"));
        source.set(doc(toggle("a", "2.0"), toggle("b", "2.0")));
        ReconcileReport report = run(r);
        assertEquals(SupervisionState.FAILED, state(report, "a"));
        assertEquals(SupervisionState.READY, state(report, "b"), "b is updated although a failed");
        assertEquals("1.0", toggles.running.get(new AddonId("a")), "a keeps running its previous version");
        assertEquals(0, toggles.count("remove"));
        assertFalse(report.converged());

        ReconcileReport waiting = run(r);
        assertEquals(Action.WAIT_RETRY, waiting.steps().get(0).action(), "the retry waits for its backoff");
    }

    @Test
    void transientFailuresRetryOnceTheBackoffHasPassed() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        Reconciler r = reconciler(source, Map.of("retry_base_seconds", 1, "retry_max_seconds", 1));
        bind(r, toggles);
        toggles.failApply.put(new AddonId("a"), new SupervisionException(Disposition.TRANSIENT, "busy"));
        run(r);
        toggles.failApply.clear();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        ReconcileReport report;
        do {
            report = run(r);
        } while (state(report, "a") != SupervisionState.READY && System.nanoTime() < deadline);
        assertEquals(SupervisionState.READY, state(report, "a"));
    }

    @Test
    void permanentFailuresAreNotRetriedUntilTheAssignmentChanges() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        Reconciler r = reconciler(source);
        bind(r, toggles);
        toggles.failApply.put(new AddonId("a"), new SupervisionException(Disposition.PERMANENT, "bad signature"));
        assertEquals(SupervisionState.REJECTED, state(run(r), "a"));
        ReconcileReport again = run(r);
        assertEquals(Action.SKIP_REJECTED, again.steps().get(0).action());
        assertEquals(1, toggles.count("apply"));

        toggles.failApply.clear();
        source.set(doc(toggle("a", "1.1")));
        assertEquals(SupervisionState.READY, state(run(r), "a"), "a changed assignment is tried at once");
    }

    @Test
    void unknownKindIsRejectedAndAMissingDispatcherDetaches() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0"), toggle("b", "1.0").replace("config_toggle", "teleport")));
        Reconciler r = reconciler(source);
        ReconcileReport report = run(r);
        assertEquals(SupervisionState.DETACHED, state(report, "a"));
        assertEquals(SupervisionState.REJECTED, state(report, "b"));
        assertTrue(report.statuses().get(1).detail().contains("teleport is not known"));
    }

    @Test
    void dispatcherDepartureDetachesAndItsSuccessorAdoptsWithoutApplying() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        FakeDispatcher first = new FakeDispatcher("config_toggle");
        Reconciler r = reconciler(source);
        bind(r, first);
        run(r);

        r.removeDispatcher(reference(first));
        ReconcileReport detached = run(r);
        assertEquals(SupervisionState.DETACHED, state(detached, "a"));
        assertEquals(0, first.count("remove"), "detaching stops nothing");

        FakeDispatcher second = new FakeDispatcher("config_toggle");
        bind(r, second);
        ReconcileReport adopted = run(r);
        assertEquals(Action.ADOPT, adopted.steps().get(0).action());
        assertEquals(SupervisionState.READY, state(adopted, "a"));
        assertEquals(List.of("adopt a"), second.calls);
    }

    @Test
    void aSourceInErrorRemovesNothing() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        Reconciler r = reconciler(source);
        bind(r, toggles);
        run(r);
        source.snapshot = new AssignmentSource.Snapshot("test", Optional.empty(), Optional.of("broken"), List.of(),
                Instant.now());
        ReconcileReport report = run(r);
        assertEquals(0, toggles.count("remove"));
        assertTrue(report.warnings().get(0).contains("broken"));
    }

    @Test
    void aRestartedAgentKnowsWhatItOwnsFromTheLedger() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0"), toggle("b", "1.0")));
        Reconciler r = reconciler(source);
        bind(r, new FakeDispatcher("config_toggle"));
        run(r);
        r.deactivate();
        started.remove(r);

        source.set(doc(toggle("b", "1.0")));
        FakeDispatcher fresh = new FakeDispatcher("config_toggle");
        Reconciler restarted = reconciler(source);
        bind(restarted, fresh);
        ReconcileReport report = run(restarted);
        assertEquals(List.of("remove a", "adopt b"), fresh.calls);
        assertEquals(SupervisionState.REMOVED, state(report, "a"));
        assertTrue(report.converged());
    }

    @Test
    void aOneShotPlanSaysExactlyWhatItsApplyDoesOneStepPerAddon() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0"), toggle("b", "1.0")));
        Reconciler first = reconciler(source);
        bind(first, new FakeDispatcher("config_toggle"));
        run(first);
        first.deactivate();
        started.remove(first);

        // a new one-shot process: nothing is attached; a changes, b does not
        source.set(doc(toggle("a", "2.0"), toggle("b", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        Reconciler oneShot = reconciler(source);
        bind(oneShot, toggles);
        ReconcileReport plan = oneShot.plan().toCompletableFuture().get(10, TimeUnit.SECONDS);
        ReconcileReport applied = run(oneShot);
        assertEquals(List.of("a update", "b adopt"), steps(plan));
        assertEquals(steps(plan), steps(applied), "apply did what plan said, one step per add-on");
        assertEquals(plan.steps().get(0).reason(), applied.steps().get(0).reason());
        assertEquals(List.of("adopt a", "apply a 2.0", "adopt b"), toggles.calls);
        assertTrue(applied.converged());
    }

    @Test
    void aOneShotPlanBesideARunningAgentSaysWhatThatAgentDoes() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0"), toggle("b", "1.0")));
        Reconciler agent = reconciler(source);      // holds the lock from its first pass on
        bind(agent, new FakeDispatcher("config_toggle"));
        run(agent);

        source.set(doc(toggle("a", "2.0"), toggle("b", "1.0")));
        Reconciler oneShot = reconciler(source);
        bind(oneShot, new FakeDispatcher("config_toggle"));
        ReconcileReport plan = oneShot.plan().toCompletableFuture().get(10, TimeUnit.SECONDS);
        ReconcileReport done = run(agent);
        assertEquals(List.of("a update", "b keep"), steps(plan));
        assertEquals(steps(plan), steps(done));
    }

    private static List<String> steps(ReconcileReport r) {
        return r.steps().stream().map(s -> s.id() + " " + s.action().wireName()).toList();
    }

    @Test
    void planChangesNothing() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        Reconciler r = reconciler(source);
        bind(r, toggles);
        run(r);
        byte[] ledger = Files.readAllBytes(data.resolve("state/ledger/a.json"));
        source.set(doc(toggle("a", "2.0"), toggle("c", "1.0")));
        ReconcileReport plan = r.plan().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(List.of(Action.UPDATE, Action.INSTALL), plan.steps().stream().map(s -> s.action()).toList());
        assertEquals("assignment changed: version 1.0 → 2.0", plan.steps().get(0).reason());
        assertArrayEquals(ledger, Files.readAllBytes(data.resolve("state/ledger/a.json")));
        assertFalse(Files.exists(data.resolve("state/ledger/c.json")), "a planned install writes nothing");
        assertEquals(1, toggles.calls.size());
    }

    @Test
    void anOperatorHoldRemovesAndItsReleaseReinstalls() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        Reconciler r = reconciler(source);
        bind(r, toggles);
        run(r);
        r.setEnabled(new AddonId("a"), false);
        ReconcileReport held = run(r);
        assertEquals(SupervisionState.HELD, state(held, "a"), "a hold has its own state word");
        assertTrue(held.statuses().get(0).detail().contains("steward:enable a"), held.statuses().toString());
        assertEquals(1, toggles.count("remove"));
        // another process (steward status) sees the hold too, with the add-on's kind
        Reconciler other = reconciler(source);
        ReconcileReport seen = other.plan().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(SupervisionState.HELD, state(seen, "a"));
        assertEquals("config_toggle", seen.statuses().get(0).kind());
        r.setEnabled(new AddonId("a"), true);
        assertEquals(SupervisionState.READY, state(run(r), "a"));
        assertEquals(List.of("install", "hold", "remove", "release", "install"),
                r.audit(10).records().stream().map(x -> x.action()).toList());
    }

    @Test
    void passesAreSerializedWhateverTriggersThem() throws Exception {
        FakeSource source = new FakeSource();
        List<String> addons = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            addons.add(toggle("a" + i, "1.0"));
        }
        source.set(doc(addons.toArray(String[]::new)));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        Reconciler r = reconciler(source);
        bind(r, toggles);
        List<CompletableFuture<ReconcileReport>> all = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread thread = new Thread(() -> {
                for (int i = 0; i < 5; i++) {
                    synchronized (all) {
                        all.add(r.reconcile().toCompletableFuture());
                    }
                    r.reconcileSoon();
                }
            });
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
        assertEquals(1, toggles.maxInFlight.get(), "no two dispatcher calls overlapped");
        assertEquals(20, toggles.count("apply"), "each add-on was applied exactly once");
    }

    @Test
    void aConcurrentKindRunsAddonsInParallelUpToTheLimitWhileOtherKindsStayOneAtATime() throws Exception {
        FakeSource source = new FakeSource();
        List<String> addons = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            addons.add(toggle("c" + i, "1.0"));
            addons.add(toggle("s" + i, "1.0").replace("config_toggle", "sidecar"));
        }
        source.set(doc(addons.toArray(String[]::new)));
        FakeDispatcher concurrent = new FakeDispatcher("config_toggle");
        concurrent.concurrent = true;
        concurrent.gathering = new CountDownLatch(4);     // the first four applies wait for each other
        FakeDispatcher serial = new FakeDispatcher("sidecar");
        Reconciler r = reconciler(source, Map.of("parallelism", 4));
        bind(r, concurrent);
        bind(r, serial);

        ReconcileReport report = run(r);
        assertTrue(report.converged(), report.toString());
        assertEquals(4, concurrent.maxInFlight.get(), "four applies of the concurrent kind overlapped, no more");
        assertEquals(1, serial.maxInFlight.get(), "the other kind's calls never overlapped");
        assertEquals(16, concurrent.count("apply") + serial.count("apply"));
        assertEquals(addons.size(), report.steps().size());
        assertEquals("c0", report.steps().get(0).id().value(), "steps are reported in plan order");
    }

    @Test
    void removalsRunBeforeInstalls() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0"), toggle("b", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        toggles.concurrent = true;
        Reconciler r = reconciler(source);
        bind(r, toggles);
        run(r);

        source.set(doc(toggle("c", "1.0")));
        run(r);
        List<String> calls = List.copyOf(toggles.calls);
        int install = calls.indexOf("apply c 1.0");
        assertTrue(install > calls.indexOf("remove a") && install > calls.indexOf("remove b")
                && calls.contains("remove a") && calls.contains("remove b"), calls.toString());
    }

    @Test
    void aDispatcherThatThrowsIsIsolated() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0"), toggle("b", "1.0").replace("config_toggle", "sidecar")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle") {
            @Override
            public SupervisionStatus apply(AddonRecord addon) {
                throw new IllegalStateException("bug in a kind bundle");
            }
        };
        FakeDispatcher sidecars = new FakeDispatcher("sidecar");
        Reconciler r = reconciler(source);
        bind(r, toggles);
        bind(r, sidecars);
        ReconcileReport report = run(r);
        assertEquals(SupervisionState.FAILED, state(report, "a"));
        assertTrue(report.statuses().get(0).detail().contains("bug in a kind bundle"));
        assertEquals(SupervisionState.READY, state(report, "b"));
    }

    @Test
    void aMalformedLocalOverrideIsIgnoredInFull() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        Files.createDirectories(data.resolve("etc"));
        Files.writeString(data.resolve("etc/assignments.local.json"), "{\"addons\":[{\"id\":\"a\",\"version\":\"../x\"}]}");
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        Reconciler r = reconciler(source);
        bind(r, toggles);
        ReconcileReport report = run(r);
        assertEquals("1.0", toggles.running.get(new AddonId("a")));
        assertTrue(report.warnings().get(0).startsWith("ignoring the local override"), report.warnings().toString());

        Files.writeString(data.resolve("etc/assignments.local.json"), "{\"addons\":[{\"id\":\"a\",\"version\":\"1.5\"}]}");
        run(r);
        assertEquals("1.5", toggles.running.get(new AddonId("a")), "a valid override patches the version");
    }

    @Test
    void aKindIsNotActivatedUntilItsDispatcherIsCalledAndIsReleasedWhenUnbound() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc());
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        FakeObjects objects = objects(toggles);
        Reconciler r = reconciler(source);
        bind(r, toggles, objects);
        assertTrue(run(r).converged());
        assertEquals(0, objects.gets.get(), "nothing to do: the kind's service is never got");
        assertEquals(List.of("config_toggle"), r.kinds().stream().map(k -> k.kind()).toList());

        source.set(doc(toggle("a", "1.0"), toggle("b", "1.0")));
        run(r);
        run(r);
        assertEquals(1, objects.gets.get(), "got once, kept across calls and passes");
        assertEquals(0, objects.ungets.get());

        r.removeDispatcher(reference(toggles));
        assertEquals(1, objects.ungets.get(), "given back when unbound");
        assertEquals(SupervisionState.DETACHED, state(run(r), "a"));
        assertEquals(1, objects.gets.get());
    }

    @Test
    void aDispatcherThatCannotBeGotIsTreatedAsGone() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle");
        FakeObjects stopping = new FakeObjects(null);   // its bundle is stopping, or its activation failed
        Reconciler r = reconciler(source);
        bind(r, toggles, stopping);
        ReconcileReport report = run(r);
        assertEquals(SupervisionState.DETACHED, state(report, "a"));
        assertTrue(report.statuses().get(0).detail().contains("went away"), report.statuses().toString());
        assertEquals(0, stopping.ungets.get(), "nothing was got, so nothing is given back");
    }

    /** A dispatcher that unregisters (its bundle stops) while the call is running, then gives up. */
    private FakeDispatcher goesAwayDuringApply(Reconciler[] r) {
        return new FakeDispatcher("config_toggle") {
            @Override
            public SupervisionStatus apply(AddonRecord addon) throws SupervisionException {
                calls.add("apply " + addon.id() + " " + addon.assignment().version());
                running.put(addon.id(), addon.assignment().version());    // it got as far as starting it
                r[0].removeDispatcher(reference(this));
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + addon.id()
                        + ": the dispatcher stopped while waiting for readiness");
            }
        };
    }

    @Test
    void aDispatcherGoneDuringAFirstInstallLeavesItForTheNextWithoutAFailureOrBackoff() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        Reconciler[] r = {reconciler(source)};
        bind(r[0], goesAwayDuringApply(r));
        ReconcileReport interrupted = run(r[0]);
        assertEquals(SupervisionState.DETACHED, state(interrupted, "a"), interrupted.statuses().toString());
        String ledger = Files.readString(data.resolve("state/ledger/a.json"));
        assertFalse(ledger.contains("\"failure\""), "not a failure of the add-on: " + ledger);
        assertTrue(ledger.contains("\"in_flight\": true"), ledger);

        FakeDispatcher next = new FakeDispatcher("config_toggle");
        bind(r[0], next);
        ReconcileReport resumed = run(r[0]);
        assertEquals(Action.INSTALL, resumed.steps().get(0).action(), "no wait for a backoff: " + resumed.steps());
        assertEquals(SupervisionState.READY, state(resumed, "a"));
        assertEquals(List.of("apply a 1.0"), next.calls, "the next dispatcher is handed the same attempt");
        assertFalse(Files.readString(data.resolve("state/ledger/a.json")).contains("in_flight"));
    }

    @Test
    void aDispatcherGoneDuringAnUpdateLeavesTheNewVersionToBeAdoptedNotTheOld() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        Reconciler[] r = {reconciler(source)};
        FakeDispatcher first = new FakeDispatcher("config_toggle");
        bind(r[0], first);
        run(r[0]);
        r[0].removeDispatcher(reference(first));
        bind(r[0], goesAwayDuringApply(r));
        ReconcileReport adoptedOld = run(r[0]);      // adopts 1.0, then the update to 2.0 is interrupted below
        assertEquals(SupervisionState.READY, state(adoptedOld, "a"));
        source.set(doc(toggle("a", "2.0")));
        assertEquals(SupervisionState.DETACHED, state(run(r[0]), "a"));

        FakeDispatcher next = new FakeDispatcher("config_toggle");
        bind(r[0], next);
        ReconcileReport resumed = run(r[0]);
        assertEquals(Action.ADOPT, resumed.steps().get(0).action(), resumed.steps().toString());
        assertEquals(List.of("adopt a"), next.calls, "adopted as 2.0, which it runs: no restart into 1.0 and back");
        assertEquals("2.0", next.running.get(new AddonId("a")));
        assertEquals(Action.KEEP, run(r[0]).steps().get(0).action(), "2.0 counts as installed now");
    }

    @Test
    void aBackoffsDueTimeTriggersAPassBeforeThePeriodicOne() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        FakeDispatcher toggles = new FakeDispatcher("config_toggle") {
            @Override
            public SupervisionStatus apply(AddonRecord addon) throws SupervisionException {
                if (count("apply") == 0) {
                    calls.add("apply " + addon.id());
                    throw new SupervisionException(Disposition.TRANSIENT, "add-on a: busy");
                }
                return super.apply(addon);
            }
        };
        // an agent whose periodic pass is an hour away; the retry is due after about a second
        Reconciler r = reconciler(source, Map.of("interval_seconds", 3600, "retry_base_seconds", 1,
                "retry_max_seconds", 1), "run");
        bind(r, toggles);      // binding triggers the first pass
        // nothing else triggers a pass here
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                .until(() -> toggles.count("apply") >= 2);
        assertEquals(2, toggles.count("apply"), "the retry ran without a trigger: " + toggles.calls);
        assertEquals("1.0", toggles.running.get(new AddonId("a")));
    }

    @Test
    void anAddOnStillStartingIsLookedAtAgainSoonNotAtThePeriodicPass() throws Exception {
        FakeSource source = new FakeSource();
        source.set(doc(toggle("a", "1.0")));
        AtomicInteger statusCalls = new AtomicInteger();
        FakeDispatcher slow = new FakeDispatcher("config_toggle") {
            @Override
            public SupervisionStatus apply(AddonRecord addon) throws SupervisionException {
                super.apply(addon);
                return SupervisionStatus.of(addon.id(), kind, SupervisionState.STARTING, Optional.of("1.0"), "starting");
            }

            @Override
            public SupervisionStatus status(AddonId id) {
                statusCalls.incrementAndGet();
                return super.status(id);        // ready by now
            }
        };
        Reconciler r = reconciler(source, Map.of("interval_seconds", 3600), "run");
        bind(r, slow);
        // the periodic pass is an hour away
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                .until(() -> r.status(new AddonId("a")).map(s -> s.state() == SupervisionState.READY).orElse(false));
        assertEquals(SupervisionState.READY, r.status(new AddonId("a")).orElseThrow().state());
        assertTrue(statusCalls.get() >= 1);
    }

    /**
     * Fault campaign (docs/testing.md "Faults"): the state directory's disk fills up between passes. The update that would
     * be recorded first fails transiently with a sentence naming the ledger file and the cause, nothing is applied
     * that the ledger does not know, what runs keeps running, no torn or temporary file is left, and the pass after
     * the space is back converges. The disk is a 1 MiB tmpfs the test mounts over its data directory (root).
     */
    @Test
    void aFullStateDiskFailsTheUpdateTransientlyKeepsWhatRunsAndConvergesWhenSpaceIsBack() throws Exception {
        run("mount", "-t", "tmpfs", "-o", "size=1m", "steward-fault", data.toString());
        try {
            FakeSource source = new FakeSource();
            source.set(doc(toggle("a", "1.0"), toggle("b", "1.0")));
            FakeDispatcher toggles = new FakeDispatcher("config_toggle");
            Reconciler r = reconciler(source);
            bind(r, toggles);
            assertTrue(run(r).converged());
            Path ledgerFile = data.resolve("state/ledger/a.json");
            String recorded = Files.readString(ledgerFile);

            Path filler = data.resolve("filler");
            try (java.io.OutputStream out = Files.newOutputStream(filler)) {
                byte[] block = new byte[4096];
                while (Files.getFileStore(data).getUsableSpace() > 0) {
                    out.write(block);
                }
            } catch (java.io.IOException full) {
                // the disk is full
            }
            source.set(doc(toggle("a", "2.0"), toggle("b", "1.0")));
            ReconcileReport report = run(r);
            assertEquals(SupervisionState.FAILED, state(report, "a"));
            String detail = report.statuses().stream().filter(s -> s.id().value().equals("a")).findFirst()
                    .orElseThrow().detail();
            assertEquals("add-on a: update: cannot write the ledger file " + ledgerFile + ": No space left on device; "
                    + "retried at the next pass", detail);
            assertEquals(SupervisionState.READY, state(report, "b"));
            assertEquals("1.0", toggles.running.get(new AddonId("a")), "what runs keeps running");
            assertEquals(0, toggles.count("apply a 2.0"), "nothing is applied that the ledger does not record");
            assertEquals(recorded, Files.readString(ledgerFile), "the ledger file is the old one, whole");
            try (var files = Files.list(ledgerFile.getParent())) {
                assertEquals(List.of(), files.filter(f -> f.getFileName().toString().endsWith(".tmp")).toList());
            }

            Files.delete(filler);
            ReconcileReport after = run(r);
            assertEquals(SupervisionState.READY, state(after, "a"), after.toString());
            assertEquals("2.0", toggles.running.get(new AddonId("a")), "converged once space is back");
            r.deactivate();
        } finally {
            run("umount", "-l", data.toString());
        }
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", command) + ": " + out);
    }
}
