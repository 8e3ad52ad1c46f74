package io.steward.bench;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * Benchmark drivers that boot a real Felix with the distribution's bundles.
 * <ul>
 * <li>{@code felix-baseline HOME}: boot a plain Felix with SCR, ConfigAdmin, FileInstall and Gogo
 * (the PRODUCT §8 baseline of {@code steward apply}), then stop.</li>
 * <li>{@code noop-reconcile HOME N...}: for each N, assign N {@code config_toggle} add-ons, wait until
 * all are ready, then time no-op reconcile passes through {@code SupervisionService.reconcile()}.</li>
 * </ul>
 * The Steward API is reached by reflection (only JDK types cross the boundary), like the launcher does.
 */
public final class ReconcileBench {
    private static final int WARMUP = 10;
    private static final int RUNS = 30;

    private ReconcileBench() {
    }

    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[1]).toAbsolutePath();
        // pax-logging-api takes its level from a system property only
        System.setProperty("org.ops4j.pax.logging.DefaultServiceLog.level", "ERROR");
        switch (args[0]) {
            case "felix-baseline" -> felixBaseline(home);
            case "noop-reconcile" -> {
                List<long[]> rows = new ArrayList<>();
                for (int i = 2; i < args.length; i++) {
                    int n = Integer.parseInt(args[i]);
                    rows.add(new long[] {n, noopReconcile(home, n)});
                }
                long base = rows.get(0)[1] / rows.get(0)[0];
                System.out.println("| add-ons | no-op pass, median | per add-on | per add-on vs " + rows.get(0)[0] + " |");
                System.out.println("|---:|---:|---:|---:|");
                for (long[] r : rows) {
                    long perAddon = r[1] / r[0];
                    System.out.printf("| %d | %.2f ms | %.1f µs | %.2f× |%n", r[0], r[1] / 1e6, perAddon / 1e3,
                            (double) perAddon / base);
                }
            }
            default -> throw new IllegalArgumentException("unknown bench " + args[0]);
        }
    }

    private static void felixBaseline(Path home) throws Exception {
        Path tmp = Files.createTempDirectory("felix-baseline");
        List<String> wanted = List.of("org.apache.felix.scr", "org.osgi.service.component", "org.osgi.util.promise",
                "org.osgi.util.function", "org.apache.felix.configadmin", "org.apache.felix.fileinstall",
                "org.apache.felix.gogo.runtime", "org.apache.felix.gogo.command");
        // FileInstall polls every 2 s by default and its watcher ends at the next poll: a short
        // poll keeps the baseline a measure of booting, not of that wait
        Framework fw = framework(tmp, Map.of("felix.fileinstall.dir", tmp.resolve("load").toString(),
                "felix.fileinstall.poll", "50", "felix.fileinstall.noInitialDelay", "true"));
        List<Bundle> bundles = new ArrayList<>();
        for (Path jar : jars(home.resolve("bundle"))) {
            String name = jar.getFileName().toString();
            if (wanted.stream().anyMatch(name::startsWith)) {
                bundles.add(fw.getBundleContext().installBundle(jar.toUri().toString()));
            }
        }
        for (Bundle b : bundles) {
            b.start();
        }
        fw.stop();
        fw.waitForStop(10_000);
        Trees.delete(tmp);
    }

    /** Median wall time of a no-op reconcile pass over {@code n} ready add-ons, in nanoseconds. */
    private static long noopReconcile(Path home, int n) throws Exception {
        Path tmp = Files.createTempDirectory("noop-reconcile");
        Path etc = Files.createDirectories(tmp.resolve("etc"));
        StringBuilder doc = new StringBuilder("{\"revision\":\"bench\",\"addons\":[");
        for (int i = 0; i < n; i++) {
            doc.append(i == 0 ? "" : ",").append("{\"id\":\"toggle-").append(i).append("\",\"version\":\"1.0.0\",")
                    .append("\"supervision\":\"config_toggle\",\"capabilities\":[\"cap-").append(i).append("\"]}");
        }
        Files.writeString(etc.resolve("assignments.json"), doc.append("]}"));
        Map<String, String> props = new HashMap<>();
        props.put("steward.data", tmp.resolve("data").toString());
        props.put("steward.etc", etc.toString());
        Framework fw = framework(tmp.resolve("cache"), props);
        List<Bundle> bundles = new ArrayList<>();
        List<Path> all = new ArrayList<>(jars(home.resolve("bundle")));
        all.addAll(jars(home.resolve("deploy")));    // the supervision kinds
        for (Path jar : all) {
            String name = jar.getFileName().toString();
            if (!name.contains("gogo.shell") && !name.contains("fileinstall")) {
                bundles.add(fw.getBundleContext().installBundle(jar.toUri().toString()));
            }
        }
        for (Bundle b : bundles) {
            b.start();
        }
        try {
            return measure(fw, n);
        } finally {
            fw.stop();
            fw.waitForStop(10_000);
            Trees.delete(tmp);
        }
    }

    private static long measure(Framework fw, int n) throws Exception {
        BundleContext ctx = fw.getBundleContext();
        ServiceReference<?> ref = await(() -> ctx.getServiceReference("io.steward.supervision.SupervisionService"));
        Object service = ctx.getService(ref);
        Class<?> api = ref.getBundle().loadClass("io.steward.supervision.SupervisionService");
        Method reconcile = api.getMethod("reconcile");
        Method statuses = api.getMethod("statuses");
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (readyCount((Collection<?>) statuses.invoke(service)) < n) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("add-ons did not become ready within 2 minutes");
            }
            pass(reconcile, service);
        }
        for (int i = 0; i < WARMUP; i++) {
            pass(reconcile, service);
        }
        long[] times = new long[RUNS];
        for (int i = 0; i < RUNS; i++) {
            long t0 = System.nanoTime();
            pass(reconcile, service);
            times[i] = System.nanoTime() - t0;
        }
        java.util.Arrays.sort(times);
        return times[RUNS / 2];
    }

    private static void pass(Method reconcile, Object service) throws Exception {
        ((CompletionStage<?>) reconcile.invoke(service)).toCompletableFuture().get(2, TimeUnit.MINUTES);
    }

    private static long readyCount(Collection<?> statuses) throws Exception {
        long ready = 0;
        for (Object s : statuses) {
            Object state = s.getClass().getMethod("state").invoke(s);
            if (state.toString().equals("READY")) {
                ready++;
            }
        }
        return ready;
    }

    private static <T> T await(java.util.function.Supplier<T> probe) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        T value;
        while ((value = probe.get()) == null) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out waiting for the SupervisionService");
            }
            Thread.sleep(10);   // polling a condition with a deadline, not synchronisation by sleep
        }
        return value;
    }

    private static Framework framework(Path storage, Map<String, String> extra) throws Exception {
        Map<String, String> props = new HashMap<>(extra);
        props.put("org.osgi.framework.storage", storage.toString());
        props.put("org.osgi.framework.storage.clean", "onFirstInit");
        Framework fw = ServiceLoader.load(FrameworkFactory.class).iterator().next().newFramework(props);
        fw.start();
        return fw;
    }

    private static List<Path> jars(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
        }
    }
}
