package io.steward.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.helper.AddonHelper;
import io.steward.helper.HelperRequest;
import io.steward.helper.HelperResult;
import io.steward.supervision.AddonCapability;
import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.SupervisionDispatcher;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.UnitState;
import io.steward.systemd.testing.SystemdSandbox;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.namespace.BundleNamespace;
import org.osgi.framework.namespace.HostNamespace;
import org.osgi.framework.namespace.PackageNamespace;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.framework.wiring.BundleRevisions;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.framework.wiring.FrameworkWiring;

/**
 * Hot swap of every supervision kind while its add-ons run (PRODUCT §7.6, STYLE §7): five add-ons of each
 * of the five kinds, delivered as real signed artifacts through the real delivery bundle (made by the test
 * driver with the JDK's Ed25519 and commons-compress, the key in {@code steward.trust}), the systemd kinds
 * against the systemd sandbox. Each kind bundle is updated {@value #UPDATES} times, then stopped and
 * started. After every step: the status of every add-on ({@code detached} while its kind is stopped,
 * {@code ready} otherwise), the dispatcher of the kind re-attached to each of its add-ons, nothing
 * restarted (sidecar pids, systemd {@code ActiveEnterTimestamp} and {@code MainPID}), toggles and helpers
 * registered again, {@code steward:kinds} naming the bundle and version that serves the kind, no bundle
 * wired to a kind bundle and none waiting for a refresh; after a stop, no thread of the kind left. After
 * the whole sequence the framework's threads and open file descriptors are back to their baseline.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HotSwapIT extends PlatformTestSupport {
    /** Framework property: a random tag in every add-on id of this run (the sandbox's unit dir is shared). */
    private static final String TAG = "steward.test.hotswap.tag";
    private static final int PER_KIND = 5;
    private static final int UPDATES = 20;
    private static final String VERSION = "1.0.0";
    private static final Duration CONVERGE = Duration.ofSeconds(120);
    /** The assignment document the driver prepares in {@code steward.etc}. */
    private static final String PREPARED = "hotswap-assignments.json";

    /** The kinds in the order they are swapped, each with the symbolic name of its bundle. */
    private static final Map<String, String> BUNDLES = new LinkedHashMap<>();
    /** Each kind's short infix in add-on ids. */
    private static final Map<String, String> INFIX = Map.of("config_toggle", "tog", "sidecar", "car",
            "ephemeral_helper", "hlp", "systemd_service", "svc", "systemd_timer", "tim");
    /** The prefix of the thread names each kind's bundle uses (STYLE §7: threads are named and owned). */
    private static final Map<String, String> THREADS = Map.of("config_toggle", "config-toggle",
            "sidecar", "sidecar-", "ephemeral_helper", "ephemeral-helper-", "systemd_service", "systemd-service",
            "systemd_timer", "systemd-timer");

    static {
        BUNDLES.put("config_toggle", "io.steward.supervision.config.toggle");
        BUNDLES.put("sidecar", "io.steward.supervision.sidecar");
        BUNDLES.put("ephemeral_helper", "io.steward.supervision.ephemeral.helper");
        BUNDLES.put("systemd_service", "io.steward.supervision.systemd.service");
        BUNDLES.put("systemd_timer", "io.steward.supervision.systemd.timer");
    }

    /**
     * Threads of pools that keep idle threads for a while, so that their number at an instant depends on
     * timing; tolerated in the thread baseline: the JDK's process reaper pool (a thread per child process
     * waited for; idle ones end after 60 s), the JDK's common ForkJoinPool workers (idem), and core's
     * {@code core-dispatch} pool, a cached pool that runs each dispatcher call in isolation (a call
     * submitted while the previous thread is on its way back to the pool gets a new thread; idle ones end
     * after 60 s). No thread of a kind bundle is tolerated.
     */
    private static final Pattern TOLERATED_THREADS =
            Pattern.compile("process reaper.*|ForkJoinPool\\.commonPool-worker-\\d+|core-dispatch-\\d+|core-pass-\\d+");
    /** How many more of the tolerated threads than at the baseline may be alive at the end. */
    private static final int TOLERATED_EXTRA = 4;

    // driver only (no field of a type the probe bundle lacks, such as SystemdSandbox)
    private Path sandboxUnits;
    private Path sandboxDirectory;
    private String tag;

    // ---------------------------------------------------------------- driver: platform and artifacts

    @Configuration
    @Override
    public Option[] config() throws IOException {
        SystemdSandbox sandbox;
        try {
            sandbox = SystemdSandbox.shared();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        sandboxUnits = sandbox.unitDir();
        sandboxDirectory = sandbox.newDirectory("hotswap-");
        tag = UUID.randomUUID().toString().substring(0, 6);
        List<Option> options = new ArrayList<>(List.of(super.config()));
        options.add(frameworkProperty("steward.systemd.bus").value(sandbox.address()));
        options.add(frameworkProperty(TAG).value(tag));
        options.addAll(deliveryBundles());
        for (File jar : List.of(
                reactorBundle("bundle.lib.dbus.java", "lib-dbus-java", "io.steward.lib.dbus-java"),
                reactorBundle("bundle.systemd.dbus", "systemd-dbus", "io.steward.systemd.dbus"),
                reactorBundle("bundle.lib.junixsocket", "lib-junixsocket", "io.steward.lib.junixsocket"),
                reactorBundle("bundle.sidecar", "sidecar", BUNDLES.get("sidecar")),
                reactorBundle("bundle.ephemeral.helper", "ephemeral-helper", BUNDLES.get("ephemeral_helper")),
                reactorBundle("bundle.systemd.service", "systemd-service", BUNDLES.get("systemd_service")),
                reactorBundle("bundle.systemd.timer", "systemd-timer", BUNDLES.get("systemd_timer")))) {
            options.add(bundle(jar.toURI().toString()));
        }
        return options.toArray(new Option[0]);
    }

    @Override
    protected Path unitDir(Path root) {
        return sandboxUnits;
    }

    /** Under the sandbox's scratch directory: the sandboxed systemd runs the units' programs from there. */
    @Override
    protected Path privilegedRoot(Path root) throws IOException {
        return Files.createDirectories(sandboxDirectory.resolve("privileged"));
    }

    /**
     * Signs the artifacts, trusts the key and writes the assignment document next to the watched file: the
     * test moves it into place, so nothing runs unless the test (and its clean-up) does.
     */
    @Override
    protected void beforeBoot(Path data, Path etc) throws IOException {
        SignedArtifacts signer = new SignedArtifacts("hotswap");
        signer.trust(etc.resolve("trust"));
        Path artifacts = data.getParent().resolve("artifacts");
        List<String> addons = new ArrayList<>();
        for (String kind : BUNDLES.keySet()) {
            for (String id : ids(tag, kind)) {
                addons.add(assignment(signer, artifacts, kind, id));
            }
        }
        Files.writeString(etc.resolve(PREPARED), Assignments.document("hotswap-1",
                addons.toArray(new String[0])), StandardCharsets.UTF_8);
    }

    private static String assignment(SignedArtifacts signer, Path artifacts, String kind, String id)
            throws IOException {
        String head = "{\"id\":\"" + id + "\",\"version\":\"" + VERSION + "\",\"supervision\":\"" + kind + "\",";
        if (kind.equals("config_toggle")) {
            return head + "\"delivery\":\"compiled_in\",\"capabilities\":[\"" + id + "-cap\"]}";
        }
        Map<String, String> files = new TreeMap<>();
        String service = "steward-" + id + ".service";
        switch (kind) {
            case "sidecar" -> {
                files.put("addon.json", manifest(id, kind, "run.sh", ",\"notify\":true"));
                // records every pid it ever ran as, says READY=1, then waits as the same process
                files.put("run.sh", "#!/bin/bash\necho $$ >> \"$STEWARD_ADDON_STATE/pids\"\n"
                        + "/usr/bin/systemd-notify --no-block --ready\nexec sleep infinity\n");
            }
            case "ephemeral_helper" -> {
                files.put("addon.json", manifest(id, kind, "helper.sh", ""));
                files.put("helper.sh", "#!/bin/sh\necho \"helper $STEWARD_ADDON_ID says: $*\"\n");
            }
            case "systemd_service" -> {
                files.put("addon.json", manifest(id, kind, "run.sh", ",\"units\":[\"" + service + "\"]"));
                files.put("run.sh", "#!/bin/sh\nexec sleep infinity\n");
                files.put(service, "[Unit]\nDescription=hot-swap test " + id + "\n[Service]\n"
                        + "ExecStart=@ADDON_HOME@/run.sh\n[Install]\nWantedBy=multi-user.target\n");
            }
            case "systemd_timer" -> {
                String timer = "steward-" + id + ".timer";
                files.put("addon.json", manifest(id, kind, "run.sh",
                        ",\"units\":[\"" + timer + "\",\"" + service + "\"]"));
                files.put("run.sh", "#!/bin/sh\nexit 0\n");
                files.put(service, "[Unit]\nDescription=hot-swap test " + id + "\n[Service]\nType=oneshot\n"
                        + "ExecStart=@ADDON_HOME@/run.sh\n");
                files.put(timer, "[Unit]\nDescription=hot-swap test " + id + "\n[Timer]\nOnActiveSec=1h\n"
                        + "[Install]\nWantedBy=timers.target\n");
            }
            default -> throw new IllegalArgumentException(kind);
        }
        String artifact = signer.pack(id, VERSION, files, artifacts.resolve(id + "-" + VERSION + ".tar.gz"));
        return head + "\"delivery\":\"pushed_artifact\",\"artifact\":" + artifact + "}";
    }

    private static String manifest(String id, String kind, String binary, String more) {
        return "{\"id\":\"" + id + "\",\"version\":\"" + VERSION + "\",\"supervision\":\"" + kind
                + "\",\"binary\":\"" + binary + "\"" + more + "}";
    }

    private static List<String> ids(String tag, String kind) {
        List<String> ids = new ArrayList<>();
        for (int i = 1; i <= PER_KIND; i++) {
            ids.add("hs" + tag + "-" + INFIX.get(kind) + "-" + i);
        }
        return ids;
    }

    // ---------------------------------------------------------------- in the framework: fixtures

    private List<String> ids(String kind) {
        return ids(Objects.requireNonNull(context.getProperty(TAG), TAG), kind);
    }

    private List<String> allIds() {
        List<String> all = new ArrayList<>();
        BUNDLES.keySet().forEach(kind -> all.addAll(ids(kind)));
        return all;
    }

    private Bundle kindBundle(String kind) {
        return installedBundle(BUNDLES.get(kind));
    }

    private SystemdManager systemd() {
        List<SystemdManager> found = new ArrayList<>();
        await("SystemdManager is registered", () -> {
            ServiceReference<SystemdManager> ref = context.getServiceReference(SystemdManager.class);
            SystemdManager s = ref == null ? null : context.getService(ref);
            if (s != null) {
                found.add(s);
            }
            return s != null;
        });
        return found.get(0);
    }

    private Collection<ServiceReference<SupervisionDispatcher>> dispatchers(String kind) throws Exception {
        return context.getServiceReferences(SupervisionDispatcher.class,
                "(" + SupervisionDispatcher.KIND_PROPERTY + "=" + kind + ")");
    }

    private static long serviceId(ServiceReference<?> ref) {
        return (Long) ref.getProperty(Constants.SERVICE_ID);
    }

    /** Waits until a dispatcher of {@code kind} newer than {@code after} (a service id) is registered; returns its id. */
    private long awaitNewDispatcher(String kind, long after) {
        long[] id = new long[1];
        await("a new " + kind + " dispatcher is registered", () -> {
            for (ServiceReference<SupervisionDispatcher> ref : dispatchers(kind)) {
                if (serviceId(ref) > after) {
                    id[0] = serviceId(ref);
                    return true;
                }
            }
            return false;
        });
        return id[0];
    }

    private Path stateDir(String id) {
        return dataDir().resolve("addons").resolve(id).resolve("state");
    }

    /** The pid the sidecar kind recorded for {@code id}. */
    private long sidecarPid(String id) throws IOException {
        JsonObject state = JsonParser.parseString(Files.readString(
                dataDir().resolve("state/sidecar/" + id + ".json"))).getAsJsonObject();
        return state.get("pid").getAsLong();
    }

    private static boolean alive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X';
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * What would change if an add-on restarted: a sidecar's recorded pid and every pid it ever started as,
     * a service's {@code ActiveEnterTimestamp} and {@code MainPID}, a timer's {@code ActiveEnterTimestamp}.
     * Checks on the way that each sidecar process and each unit is alive.
     */
    private Map<String, String> workloads() throws Exception {
        Map<String, String> w = new TreeMap<>();
        for (String id : ids("sidecar")) {
            long pid = sidecarPid(id);
            assertTrue(id + ": pid " + pid + " runs", alive(pid));
            w.put(id, "pid " + pid + ", started as " + Files.readAllLines(stateDir(id).resolve("pids")));
        }
        SystemdManager systemd = systemd();
        for (String id : ids("systemd_service")) {
            UnitState u = systemd.unit("steward-" + id + ".service");
            assertTrue(u.describe(), u.active());
            w.put(id, "active since " + u.activeEnterTimestamp().orElseThrow() + ", MainPID " + u.mainPid());
        }
        for (String id : ids("systemd_timer")) {
            UnitState u = systemd.unit("steward-" + id + ".timer");
            assertTrue(u.describe(), u.active());
            w.put(id, "active since " + u.activeEnterTimestamp().orElseThrow());
        }
        return w;
    }

    private List<String> registered(Class<?> type, String id) throws Exception {
        ServiceReference<?>[] refs = context.getServiceReferences(type.getName(),
                "(" + AddonCapability.ADDON_ID + "=" + id + ")");
        List<String> found = new ArrayList<>();
        for (ServiceReference<?> ref : refs == null ? new ServiceReference<?>[0] : refs) {
            found.add(ref.getBundle().getSymbolicName());
        }
        return found;
    }

    /** Kind → "bundle version", from {@code steward:kinds --json}. */
    private Map<String, String> shellKinds() {
        Map<String, String> kinds = new TreeMap<>();
        for (JsonElement k : JsonParser.parseString(Shell.run(context, "steward:kinds --json")).getAsJsonObject()
                .getAsJsonArray("kinds")) {
            JsonObject o = k.getAsJsonObject();
            kinds.put(o.get("kind").getAsString(), o.get("bundle").getAsString() + " " + o.get("version").getAsString());
        }
        return kinds;
    }

    private static List<String> threadNames() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName).sorted()
                .toList();
    }

    private static long openFileDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    // ---------------------------------------------------------------- in the framework: checks after a step

    /** After a step: every add-on's status, read right after a reconcile pass that followed the step. */
    private void assertStates(String step, String stoppedKind) throws Exception {
        Map<String, SupervisionState> wanted = new TreeMap<>();
        Map<String, SupervisionState> actual = new TreeMap<>();
        Map<AddonId, SupervisionStatus> statuses = reconcileNow().statuses().stream()
                .collect(Collectors.toMap(SupervisionStatus::id, s -> s));
        for (String kind : BUNDLES.keySet()) {
            for (String id : ids(kind)) {
                wanted.put(id, kind.equals(stoppedKind) ? SupervisionState.DETACHED : SupervisionState.READY);
                SupervisionStatus s = statuses.get(new AddonId(id));
                actual.put(id, s == null ? null : s.state());
            }
        }
        assertEquals(step + ": " + statuses.values(), wanted, actual);
    }

    /** After an update or a start: the kind is served by its bundle's current revision and re-attached to every add-on. */
    private void assertAttached(String step, String kind) throws Exception {
        Bundle bundle = kindBundle(kind);
        assertEquals(step, Bundle.ACTIVE, bundle.getState());
        assertEquals(step + ": steward:kinds", bundle.getSymbolicName() + " " + bundle.getVersion(),
                shellKinds().get(kind));
        ServiceReference<SupervisionDispatcher> ref = dispatchers(kind).iterator().next();
        assertEquals(step, bundle, ref.getBundle());
        SupervisionDispatcher dispatcher = context.getService(ref);
        try {
            for (String id : ids(kind)) {
                SupervisionStatus s = dispatcher.status(new AddonId(id));
                assertEquals(step + ": the new " + kind + " dispatcher supervises " + id + " (" + s.detail() + ")",
                        SupervisionState.READY, s.state());
            }
        } finally {
            context.ungetService(ref);
        }
        for (String id : ids("config_toggle")) {
            assertEquals(step + ": toggle " + id, List.of(BUNDLES.get("config_toggle")),
                    registered(AddonCapability.class, id));
        }
        for (String id : ids("ephemeral_helper")) {
            assertEquals(step + ": helper " + id, List.of(BUNDLES.get("ephemeral_helper")),
                    registered(AddonHelper.class, id));
        }
    }

    /** After a stop: the kind is gone, its add-ons' services with it, and every thread its bundle named. */
    private void assertStopped(String step, String kind) throws Exception {
        assertTrue(step, dispatchers(kind).isEmpty());
        assertTrue(step + ": steward:kinds", !shellKinds().containsKey(kind));
        if (kind.equals("config_toggle")) {
            for (String id : ids(kind)) {
                assertEquals(step + ": toggle " + id, List.of(), registered(AddonCapability.class, id));
            }
        }
        if (kind.equals("ephemeral_helper")) {
            for (String id : ids(kind)) {
                assertEquals(step + ": helper " + id, List.of(), registered(AddonHelper.class, id));
            }
        }
        String prefix = THREADS.get(kind);
        await(step + ": no thread named " + prefix + "* or after " + BUNDLES.get(kind) + " is left", DEADLINE,
                () -> threadNames().stream().noneMatch(n -> n.startsWith(prefix) || n.contains(BUNDLES.get(kind))),
                () -> "threads " + threadNames());
    }

    /**
     * Nothing wires to a kind bundle, so updating one never refreshes another: a kind exports nothing,
     * its dependency closure is itself, no other bundle has a wire to it, and no revision waits for a refresh.
     */
    private void assertNothingWiresTo(String step, String kind) {
        Bundle bundle = kindBundle(kind);
        FrameworkWiring wiring = context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION).adapt(FrameworkWiring.class);
        assertEquals(step + ": dependency closure", Set.of(bundle), Set.copyOf(wiring.getDependencyClosure(List.of(bundle))));
        assertEquals(step + ": bundles waiting for a refresh", Set.of(), Set.copyOf(wiring.getRemovalPendingBundles()));
        BundleRevision revision = bundle.adapt(BundleRevision.class);
        assertEquals(step + ": exports", List.of(), revision.getDeclaredCapabilities(PackageNamespace.PACKAGE_NAMESPACE));
        BundleWiring bw = bundle.adapt(BundleWiring.class);
        for (String ns : List.of(PackageNamespace.PACKAGE_NAMESPACE, BundleNamespace.BUNDLE_NAMESPACE,
                HostNamespace.HOST_NAMESPACE)) {
            assertEquals(step + ": wires from other bundles in " + ns, List.of(), bw.getProvidedWires(ns));
        }
        assertEquals(step + ": revisions of " + bundle.getSymbolicName(), 1,
                bundle.adapt(BundleRevisions.class).getRevisions().size());
        Bundle api = installedBundle("io.steward.api");
        assertEquals(step + ": revisions of io.steward.api", 1, api.adapt(BundleRevisions.class).getRevisions().size());
    }

    // ---------------------------------------------------------------- the test

    @Test
    public void everyKindIsUpdatedStoppedAndStartedWhileItsAddonsRunAndNothingRestarts() throws Exception {
        long t0 = System.nanoTime();
        writeAssignments(Files.readString(assignmentFile().resolveSibling(PREPARED), StandardCharsets.UTF_8));
        for (String id : allIds()) {
            awaitState(CONVERGE, id, SupervisionState.READY);
        }
        assertStates("after the first install", null);
        Map<String, String> workloads = workloads();
        for (String id : ids("sidecar")) {
            assertEquals(id + " started once: " + workloads.get(id), 1,
                    Files.readAllLines(stateDir(id).resolve("pids")).size());
        }
        for (String kind : BUNDLES.keySet()) {
            assertAttached("after the first install", kind);
            assertNothingWiresTo("after the first install", kind);
        }
        List<String> baselineThreads = threadNames();
        long baselineFds = openFileDescriptors();
        System.out.println("HotSwapIT: " + allIds().size() + " add-ons ready after " + millis(t0) + " ms; baseline "
                + baselineThreads.size() + " threads, " + baselineFds + " open file descriptors");

        for (String kind : BUNDLES.keySet()) {
            long t1 = System.nanoTime();
            Bundle bundle = kindBundle(kind);
            long dispatcher = serviceId(dispatchers(kind).iterator().next());
            for (int i = 1; i <= UPDATES; i++) {
                String step = kind + " update " + i;
                bundle.update();
                dispatcher = awaitNewDispatcher(kind, dispatcher);
                assertStates(step, null);
                assertAttached(step, kind);
                assertNothingWiresTo(step, kind);
                assertEquals(step + ": restarts", workloads, workloads());
            }
            bundle.stop();
            await(kind + " stop: its dispatcher is unregistered", () -> dispatchers(kind).isEmpty());
            assertStates(kind + " stop", kind);
            assertStopped(kind + " stop", kind);
            assertEquals(kind + " stop: restarts", workloads, workloads());

            bundle.start();
            dispatcher = awaitNewDispatcher(kind, dispatcher);
            assertStates(kind + " start", null);
            assertAttached(kind + " start", kind);
            assertNothingWiresTo(kind + " start", kind);
            assertEquals(kind + " start: restarts", workloads, workloads());
            System.out.println("HotSwapIT: " + kind + ": " + UPDATES + " updates, stop and start in " + millis(t1)
                    + " ms");
        }
        for (String id : ids("sidecar")) {
            assertEquals(id + " never started again", 1, Files.readAllLines(stateDir(id).resolve("pids")).size());
        }

        // threads and file descriptors back to the baseline
        await("the threads are back to the baseline (" + TOLERATED_THREADS + " tolerated up to "
                + TOLERATED_EXTRA + " more)", Duration.ofSeconds(30), () -> {
                    List<String> now = threadNames();
                    return count(now, false) <= count(baselineThreads, false)
                            && count(now, true) <= count(baselineThreads, true) + TOLERATED_EXTRA;
                }, () -> "baseline " + baselineThreads + "; now " + threadNames());
        await("the open file descriptors are back to the baseline of " + baselineFds, Duration.ofSeconds(30),
                () -> openFileDescriptors() <= baselineFds, () -> {
                    try {
                        return "open now: " + openFileDescriptors() + " " + describeFds();
                    } catch (IOException e) {
                        return e.toString();
                    }
                });
        System.out.println("HotSwapIT: " + threadNames().size() + " threads, " + openFileDescriptors()
                + " open file descriptors after the sequence");

        // the adopted add-ons are really served: a helper runs, a toggle is consumable
        String helper = ids("ephemeral_helper").get(0);
        ServiceReference<?>[] refs = context.getServiceReferences(AddonHelper.class.getName(),
                "(" + AddonHelper.ADDON_ID + "=" + helper + ")");
        AddonHelper h = (AddonHelper) context.getService(refs[0]);
        HelperResult r = h.run(HelperRequest.of("hi"));
        context.ungetService(refs[0]);
        assertEquals(r.stderrText(), "helper " + helper + " says: hi\n", r.stdoutText());

        // removal stops what survived every swap
        List<Long> pids = new ArrayList<>();
        for (String id : ids("sidecar")) {
            pids.add(sidecarPid(id));
        }
        writeAssignments(Assignments.document(Assignments.nextRevision("hotswap-none")));
        for (String id : allIds()) {
            awaitRemovedOrGone(id);
        }
        for (long pid : pids) {
            await("sidecar pid " + pid + " is stopped", () -> !alive(pid));
        }
        Path units = Path.of(context.getProperty("steward.unit.dir"));
        try (Stream<Path> left = Files.list(units)) {
            assertEquals("unit files left", List.of(), left.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains("hs" + context.getProperty(TAG))).toList());
        }
        System.out.println("HotSwapIT: the whole test took " + millis(t0) + " ms");
    }

    private static long count(List<String> threads, boolean tolerated) {
        return threads.stream().filter(n -> TOLERATED_THREADS.matcher(n).matches() == tolerated).count();
    }

    private static String describeFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.map(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString();
                } catch (IOException e) {
                    return "?";
                }
            }).sorted().toList().toString();
        }
    }

    private static long millis(long since) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
    }

    /** A test that failed halfway leaves no kind stopped, no sidecar and no unit behind. */
    @After
    public void cleanUp() throws Exception {
        for (String kind : BUNDLES.keySet()) {
            Bundle b = kindBundle(kind);
            if (b.getState() != Bundle.ACTIVE) {
                b.start();
            }
        }
        if (supervision().statuses().stream().anyMatch(s -> s.state() != SupervisionState.REMOVED)) {
            writeAssignments(Assignments.document(Assignments.nextRevision("hotswap-cleanup")));
            try {
                for (String id : allIds()) {
                    awaitRemovedOrGone(id);
                }
            } catch (AssertionError e) {
                System.out.println("HotSwapIT clean-up: " + e.getMessage());
            }
        }
        for (String id : ids("sidecar")) {
            Path pids = stateDir(id).resolve("pids");
            if (Files.exists(pids)) {
                for (String line : Files.readAllLines(pids)) {
                    if (!line.isBlank() && alive(Long.parseLong(line.trim()))) {
                        new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + line.trim()).start()
                                .waitFor(10, TimeUnit.SECONDS);
                    }
                }
            }
        }
    }
}
