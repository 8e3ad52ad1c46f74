package io.steward.bench;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * The sidecar kind in a real Felix (core, the sidecar bundle and its junixsocket wrapper, the runtime
 * bundles): {@code SidecarBench RUNTIME_BUNDLE_DIR STEWARD_JAR...}.
 * <ul>
 * <li>latency, p50/p95 over 20 runs each: an assignment change handed to core (a new document from an
 * {@code AssignmentSource} registered here, then {@code reconcile()}) until the add-on is {@code ready}:
 * a new sidecar, a version change (stop the old process, start the new, READY=1), a config change
 * (rewrite the config, SIGHUP, same pid);</li>
 * <li>the agent's CPU and RSS while it supervises 0 and then 50 idle sidecars.</li>
 * </ul>
 * The artifact side is a stager registered here that "stages" prepared directories, so the figures are the
 * kind's own (no download or signature check; those are the delivery bench's). The add-ons are bash scripts
 * that send READY=1 with {@code /usr/bin/systemd-notify}. The Steward API is reached by reflection.
 */
public final class SidecarBench {
    private static final int RUNS = 20;
    private static final int IDLE = 50;
    private static final Duration CPU_WINDOW = Duration.ofSeconds(20);
    private static final String SCRIPT = String.join("\n", "#!/bin/bash",
            "trap 'exit 0' TERM",
            "trap '/usr/bin/systemd-notify --no-block --status=reloaded' HUP",
            "/usr/bin/systemd-notify --no-block --ready",
            "while true; do sleep 3600 & wait $!; done", "");

    private final BundleContext ctx;
    private final Bundle api;
    private final Path data;
    private final Object codec;
    private final AtomicReference<Object> snapshot = new AtomicReference<>();
    private final Object supervision;
    private int revision;

    private SidecarBench(BundleContext ctx, Bundle api, Path data) throws Exception {
        this.ctx = ctx;
        this.api = api;
        this.data = data;
        this.codec = service("io.steward.supervision.AssignmentCodec");
        BenchScriptStager.register(ctx, api, data, SCRIPT);
        setDocument("{\"revision\":\"empty\",\"addons\":[]}");
        registerSource();
        this.supervision = service("io.steward.supervision.SupervisionService");
        await("the sidecar kind has a dispatcher", () -> kinds().contains("sidecar"));
    }

    public static void main(String[] args) throws Exception {
        Path runtime = Path.of(args[0]);
        Path tmp = Files.createTempDirectory("sidecar-bench");
        Map<String, String> props = new HashMap<>();
        props.put("steward.data", tmp.resolve("data").toString());
        props.put("steward.etc", Files.createDirectories(tmp.resolve("etc")).toString());
        props.put("org.osgi.framework.storage", tmp.resolve("cache").toString());
        props.put("org.osgi.framework.storage.clean", "onFirstInit");
        Framework fw = ServiceLoader.load(FrameworkFactory.class).iterator().next().newFramework(props);
        fw.start();
        List<Bundle> bundles = new ArrayList<>();
        try (Stream<Path> s = Files.list(runtime)) {
            for (Path jar : s.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
                String name = jar.getFileName().toString();
                if (!name.startsWith("io.steward.") && !name.contains("gogo.shell") && !name.contains("fileinstall")) {
                    bundles.add(fw.getBundleContext().installBundle(jar.toUri().toString()));
                }
            }
        }
        Bundle api = null;
        for (int i = 1; i < args.length; i++) {
            Bundle b = fw.getBundleContext().installBundle(Path.of(args[i]).toUri().toString());
            bundles.add(b);
            if ("io.steward.api".equals(b.getSymbolicName())) {
                api = b;
            }
        }
        for (Bundle b : bundles) {
            b.start();
        }
        try {
            SidecarBench bench = new SidecarBench(fw.getBundleContext(), api, tmp.resolve("data"));
            List<String> rows = new ArrayList<>();
            rows.addAll(bench.latencies());
            rows.addAll(bench.idle());
            System.out.println("| sidecar measure | p50 | p95 | note |");
            System.out.println("|---|---:|---:|---|");
            rows.forEach(System.out::println);
        } finally {
            fw.stop();
            fw.waitForStop(30_000);
            killLeftovers(tmp.resolve("data"));
            Trees.delete(tmp);
        }
    }

    // ---------------------------------------------------------------- measures

    private List<String> latencies() throws Exception {
        long[] install = new long[RUNS];
        long[] upgrade = new long[RUNS];
        long[] reload = new long[RUNS];
        for (int i = 0; i < RUNS; i++) {
            String id = "lat-" + i;
            install[i] = timed(doc(List.of(sidecar(id, "1.0.0", "{}"))), id, "1.0.0");
            upgrade[i] = timed(doc(List.of(sidecar(id, "1.0.1", "{}"))), id, "1.0.1");
            long pid = pid(id);
            reload[i] = timed(doc(List.of(sidecar(id, "1.0.1", "{\"round\":" + i + "}"))), id, "1.0.1");
            if (pid(id) != pid) {
                throw new IllegalStateException("a config change restarted " + id);
            }
            timedRemoval(doc(List.of()), id);
        }
        return List.of(row("assignment → ready: new sidecar", install, "stage (prepared dir), start, READY=1"),
                row("assignment → ready: version change", upgrade, "stop old (SIGTERM), start new, READY=1"),
                row("assignment → applied: config change", reload, "rewrite config, SIGHUP, same pid"));
    }

    private List<String> idle() throws Exception {
        settle();
        double[] base = cpuAndRss();
        List<String> addons = new ArrayList<>();
        for (int i = 0; i < IDLE; i++) {
            addons.add(sidecar("idle-" + i, "1.0.0", "{}"));
        }
        setDocument(doc(addons));
        reconcile();
        await(IDLE + " sidecars are ready", () -> readyCount() == IDLE);
        settle();
        double[] loaded = cpuAndRss();
        int threads = Thread.getAllStackTraces().size();
        List<String> rows = new ArrayList<>();
        rows.add(String.format("| agent CPU, 0 sidecars | %.2f %% | | one core, over %d s |", base[0],
                CPU_WINDOW.toSeconds()));
        rows.add(String.format("| agent CPU, %d idle sidecars | %.2f %% | | one core, over %d s, incl. a no-op"
                + " reconcile every 30 s |", IDLE, loaded[0], CPU_WINDOW.toSeconds()));
        rows.add(String.format("| agent RSS, 0 → %d idle sidecars | %.0f MiB → %.0f MiB | | JVM threads now: %d |",
                IDLE, base[1], loaded[1], threads));
        setDocument(doc(List.of()));
        reconcile();
        await("the idle sidecars are removed", () -> readyCount() == 0);
        return rows;
    }

    /** CPU of this JVM in % of one core over the window, and its RSS in MiB at the end. */
    private static double[] cpuAndRss() throws Exception {
        ProcessHandle self = ProcessHandle.current();
        Duration cpu0 = self.info().totalCpuDuration().orElseThrow();
        long t0 = System.nanoTime();
        Thread.sleep(CPU_WINDOW.toMillis());      // the measurement window itself
        Duration cpu1 = self.info().totalCpuDuration().orElseThrow();
        double percent = 100.0 * (cpu1.minus(cpu0).toNanos()) / (System.nanoTime() - t0);
        long rssKb = 0;
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                rssKb = Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return new double[] {percent, rssKb / 1024.0};
    }

    private static void settle() throws InterruptedException {
        System.gc();
        Thread.sleep(2000);                       // let start-up work (JIT, logging) finish before measuring
    }

    private long timed(String document, String id, String version) throws Exception {
        long t0 = System.nanoTime();
        setDocument(document);
        reconcile();
        Object s = status(id).orElseThrow(() -> new IllegalStateException(id + " has no status"));
        if (!"READY".equals(call(s, "state").toString()) || !Optional.of(version).equals(call(s, "activeVersion"))) {
            throw new IllegalStateException(id + " is not ready at " + version + ": " + s);
        }
        return System.nanoTime() - t0;
    }

    private void timedRemoval(String document, String id) throws Exception {
        setDocument(document);
        reconcile();
        await(id + " is removed", () -> status(id).map(s -> "REMOVED".equals(call(s, "state").toString())).orElse(true));
    }

    private static String row(String what, long[] nanos, String note) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        double p50 = sorted[(int) Math.ceil(0.50 * sorted.length) - 1] / 1e6;
        double p95 = sorted[(int) Math.ceil(0.95 * sorted.length) - 1] / 1e6;
        return String.format("| %s | %.0f ms | %.0f ms | %s, %d runs |", what, p50, p95, note, nanos.length);
    }

    // ---------------------------------------------------------------- assignments

    private String doc(List<String> addons) {
        return "{\"revision\":\"bench-" + (++revision) + "\",\"addons\":[" + String.join(",", addons) + "]}";
    }

    private static String sidecar(String id, String version, String config) {
        return "{\"id\":\"" + id + "\",\"version\":\"" + version + "\",\"supervision\":\"sidecar\","
                + "\"delivery\":\"pushed_artifact\",\"artifact\":{\"url\":\"file:///bench/" + id + "-" + version
                + ".tar.gz\",\"sha256\":\"" + "ab".repeat(32) + "\"},\"config\":" + config + "}";
    }

    private void setDocument(String json) throws Exception {
        Object parsed = api.loadClass("io.steward.supervision.AssignmentCodec").getMethod("parse", String.class,
                boolean.class).invoke(codec, json, true);
        Object document = parsed.getClass().getMethod("document").invoke(parsed);
        Class<?> snapshotType = api.loadClass("io.steward.supervision.spi.AssignmentSource$Snapshot");
        Constructor<?> c = snapshotType.getConstructors()[0];
        snapshot.set(c.newInstance("bench", Optional.of(document), Optional.empty(), List.of(), Instant.now()));
    }

    private void registerSource() throws Exception {
        Class<?> type = api.loadClass("io.steward.supervision.spi.AssignmentSource");
        Object source = Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, a) ->
                switch (m.getName()) {
                    case "snapshot" -> snapshot.get();
                    case "toString" -> "bench source";
                    case "hashCode" -> System.identityHashCode(p);
                    case "equals" -> p == a[0];
                    default -> throw new UnsupportedOperationException(m.getName());
                });
        ctx.registerService(type.getName(), source, null);
    }

    // ---------------------------------------------------------------- Steward by reflection

    private Object service(String type) throws Exception {
        AtomicReference<ServiceReference<?>> ref = new AtomicReference<>();
        await(type + " is registered", () -> {
            ref.set(ctx.getServiceReference(type));
            return ref.get() != null;
        });
        return ctx.getService(ref.get());
    }

    private void reconcile() throws Exception {
        ((CompletionStage<?>) call(supervision, "reconcile")).toCompletableFuture().get(2, TimeUnit.MINUTES);
    }

    private Optional<Object> status(String id) throws Exception {
        Object addonId = api.loadClass("io.steward.supervision.AddonId").getConstructor(String.class).newInstance(id);
        Method m = api.loadClass("io.steward.supervision.SupervisionService").getMethod("status", addonId.getClass());
        return ((Optional<?>) m.invoke(supervision, addonId)).map(o -> o);
    }

    private long readyCount() throws Exception {
        long n = 0;
        for (Object s : (Collection<?>) call(supervision, "statuses")) {
            if ("READY".equals(call(s, "state").toString())) {
                n++;
            }
        }
        return n;
    }

    private List<String> kinds() throws Exception {
        List<String> kinds = new ArrayList<>();
        for (Object k : (Collection<?>) call(supervision, "kinds")) {
            kinds.add((String) call(k, "kind"));
        }
        return kinds;
    }

    private long pid(String id) throws Exception {
        String detail = (String) call(status(id).orElseThrow(), "detail");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("pid (\\d+)").matcher(detail);
        if (!m.find()) {
            throw new IllegalStateException("no pid in " + detail);
        }
        return Long.parseLong(m.group(1));
    }

    static Object call(Object target, String method) {
        try {
            Method m = target.getClass().getMethod(method);
            m.setAccessible(true);
            return m.invoke(target);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(method + " on " + target, e);
        }
    }

    @FunctionalInterface
    private interface Condition {
        boolean holds() throws Exception;
    }

    private static void await(String what, Condition condition) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!condition.holds()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out waiting until " + what);
            }
            Thread.sleep(10);   // polling a condition with a deadline
        }
    }

    // ---------------------------------------------------------------- cleanup

    /** The framework stop detaches (sidecars outlive the agent by design): end what the bench started. */
    private static void killLeftovers(Path data) throws IOException {
        Path state = data.resolve("state/sidecar");
        if (!Files.isDirectory(state)) {
            return;
        }
        try (Stream<Path> s = Files.list(state)) {
            for (Path f : s.filter(p -> p.toString().endsWith(".json")).toList()) {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"pid\": (\\d+)").matcher(Files.readString(f));
                if (m.find()) {
                    long pid = Long.parseLong(m.group(1));
                    ProcessHandle.of(pid).ifPresent(h -> {
                        h.descendants().forEach(ProcessHandle::destroyForcibly);
                        h.destroyForcibly();
                    });
                }
            }
        }
    }
}
