package io.steward.bench;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Install and start N {@code systemd_service} add-ons, then a no-op reconcile of them, against the systemd
 * sandbox: Steward's D-Bus path (the kind's shared code, the in-process installer and the D-Bus manager,
 * driven as core drives a dispatcher) beside upstream's way (copy the unit, {@code systemctl daemon-reload},
 * {@code systemctl enable --now}, per add-on, through {@code nsenter}). Prints a markdown table.
 * <p>
 * Steward's classes are loaded by name from the class path that {@code bench/systemd-bench.sh} builds, so this
 * module keeps no compile-time dependency on them. Args: bus-address sandbox-pid unit-dir work-dir count
 * confirm-millis [simple|notify] [parallelism].
 */
public final class SystemdBench {
    private SystemdBench() {
    }

    /** The same add-on both ways: a long-running program, of the given service type. */
    static String unit(String type, String execStart) {
        String notify = type.equals("notify") ? "NotifyAccess=all\n" : "";
        return "[Service]\nType=" + type + "\n" + notify + "ExecStart=" + execStart + "\n[Install]\nWantedBy=multi-user.target\n";
    }

    static String script(String type) {
        return type.equals("notify") ? "#!/bin/sh\nsystemd-notify --ready\nexec sleep 3600\n" : "#!/bin/sh\nexec sleep 3600\n";
    }

    public static void main(String[] args) throws Exception {
        String bus = args[0];
        String sandboxPid = args[1];
        Path unitDir = Path.of(args[2]);
        Path work = Path.of(args[3]);
        int n = Integer.parseInt(args[4]);
        long confirm = Long.parseLong(args[5]);
        String type = args.length > 6 ? args[6] : "simple";    // simple: a settle window; notify: READY=1
        int parallelism = args.length > 7 ? Integer.parseInt(args[7]) : 32;    // core's default

        // ---- upstream: cp + daemon-reload + enable --now per add-on
        Path upstreamRoot = Files.createDirectories(work.resolve("upstream"));
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            String unit = "steward-bu" + i + ".service";
            Path home = Files.createDirectories(upstreamRoot.resolve("bu" + i));
            Path run = home.resolve("run.sh");
            Files.writeString(run, script(type));
            Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.writeString(unitDir.resolve(unit), unit(type, run.toString()));
            systemctl(sandboxPid, "daemon-reload");
            systemctl(sandboxPid, "enable", "--now", unit);
        }
        double upstreamApply = (System.nanoTime() - t0) / 1e9;
        t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {      // upstream's health check: systemctl show per add-on
            systemctl(sandboxPid, "show", "-p", "ActiveState,SubState", "steward-bu" + i + ".service");
        }
        double upstreamNoop = (System.nanoTime() - t0) / 1e9;

        // ---- Steward
        ClassLoader cl = SystemdBench.class.getClassLoader();
        Class<?> managerType = cl.loadClass("io.steward.systemd.SystemdManager");
        Object manager = cl.loadClass("io.steward.systemd.bus.DbusSystemdManager")
                .getConstructor(String.class, Duration.class).newInstance(bus, Duration.ofSeconds(10));
        Method statistics = managerType.getMethod("statistics");
        Path data = Files.createDirectories(work.resolve("data"));
        Path priv = Files.createDirectories(work.resolve("priv"));
        Class<?> layoutType = cl.loadClass("io.steward.supervision.HostLayout");
        Object layout = layoutType.getConstructors()[0].newInstance(data, data.resolve("etc"), data.resolve("trust"),
                unitDir, priv);
        Class<?> installerType = cl.loadClass("io.steward.privileged.UnitInstaller");
        Object installer = cl.loadClass("io.steward.systemd.install.SystemdUnitInstaller")
                .getConstructor(managerType, layoutType, Duration.class)
                .newInstance(manager, layout, Duration.ofMillis(confirm));
        Class<?> stagerType = cl.loadClass("io.steward.delivery.ArtifactStager");
        Object stager = Proxy.newProxyInstance(cl, new Class<?>[] {stagerType}, new PreStaged(cl, data));
        Object kind = cl.loadClass("io.steward.systemd.units.UnitSupervisor")
                .getConstructor(String.class, managerType, installerType, stagerType, layoutType, Duration.class)
                .newInstance("systemd_service", manager, installer, stager, layout, Duration.ofSeconds(60));
        Method apply = kind.getClass().getMethod("apply", cl.loadClass("io.steward.supervision.spi.AddonRecord"));
        // the same install without reading back what systemd loaded: what the post-load check costs
        Method unchecked = cl.loadClass("io.steward.systemd.install.SystemdUnitInstaller")
                .getDeclaredMethod("withoutLoadedCheck", managerType, layoutType, Duration.class);
        unchecked.setAccessible(true);
        Object uncheckedKind = kind.getClass()
                .getConstructor(String.class, managerType, installerType, stagerType, layoutType, Duration.class)
                .newInstance("systemd_service", manager, unchecked.invoke(null, manager, layout,
                        Duration.ofMillis(confirm)), stager, layout, Duration.ofSeconds(60));
        Method status = kind.getClass().getMethod("status", cl.loadClass("io.steward.supervision.AddonId"));

        // one at a time (a kind without supervision.concurrent), then as core runs the systemd kinds: up to
        // its parallelism at once; two sets of add-ons, so both are first installs
        List<Object> serialRecords = prepare(cl, "bq", n, type, data);
        Object before = statistics.invoke(manager);
        t0 = System.nanoTime();
        applyAll(serialRecords, 1, apply, kind);
        double serialApply = (System.nanoTime() - t0) / 1e9;
        Object serialCalls = minus(statistics.invoke(manager), before);

        List<Object> uncheckedRecords = prepare(cl, "bn", n, type, data);
        before = statistics.invoke(manager);
        t0 = System.nanoTime();
        applyAll(uncheckedRecords, parallelism, apply, uncheckedKind);
        double uncheckedApply = (System.nanoTime() - t0) / 1e9;
        Object uncheckedCalls = minus(statistics.invoke(manager), before);

        List<Object> records = prepare(cl, "bs", n, type, data);
        before = statistics.invoke(manager);
        t0 = System.nanoTime();
        applyAll(records, parallelism, apply, kind);
        double stewardApply = (System.nanoTime() - t0) / 1e9;
        Object applyCalls = minus(statistics.invoke(manager), before);

        before = statistics.invoke(manager);
        t0 = System.nanoTime();
        for (Object r : records) {       // what core does on a converged pass: status(), then nothing
            status.invoke(kind, r.getClass().getMethod("id").invoke(r));
        }
        double stewardStatus = (System.nanoTime() - t0) / 1e9;
        Object statusCalls = minus(statistics.invoke(manager), before);
        before = statistics.invoke(manager);
        t0 = System.nanoTime();
        for (Object r : records) {       // apply() of an unchanged assignment
            apply.invoke(kind, r);
        }
        double stewardNoopApply = (System.nanoTime() - t0) / 1e9;
        Object noopCalls = minus(statistics.invoke(manager), before);

        System.out.println("## install + start " + n + " systemd_service add-ons, then a no-op reconcile (one run, "
                + "same sandbox; confirm window " + confirm + " ms)");
        System.out.println();
        System.out.println("| measure | upstream: cp + systemctl daemon-reload + enable --now (nsenter) | Steward over D-Bus | ratio | Steward D-Bus calls (mutating) |");
        System.out.println("|---|---:|---:|---:|---:|");
        System.out.printf("| apply %d add-ons, one at a time | %.2f s | %.2f s | %.3f | %s |%n", n, upstreamApply,
                serialApply, serialApply / upstreamApply, calls(serialCalls));
        System.out.printf("| apply %d add-ons, %d at a time (core's parallelism) | %.2f s | %.2f s | %.3f | %s |%n", n,
                parallelism, upstreamApply, stewardApply, stewardApply / upstreamApply, calls(applyCalls));
        System.out.printf("| the same, without reading back what systemd loaded | %.2f s | %.2f s | %.3f | %s |%n",
                upstreamApply, uncheckedApply, uncheckedApply / upstreamApply, calls(uncheckedCalls));
        System.out.printf("| post-load verification: cost per add-on | — | %+.1f ms (%+.0f %%) | — | — |%n",
                (stewardApply - uncheckedApply) * 1000 / n, (stewardApply / uncheckedApply - 1) * 100);
        System.out.printf("| no-op reconcile (status of each) | %.2f s (systemctl show) | %.3f s | %.3f | %s |%n",
                upstreamNoop, stewardStatus, stewardStatus / upstreamNoop, calls(statusCalls));
        System.out.printf("| no-op apply of unchanged assignments | — | %.3f s | — | %s |%n", stewardNoopApply,
                calls(noopCalls));

        // ---- clean up both sides
        Method remove = kind.getClass().getMethod("remove", cl.loadClass("io.steward.supervision.AddonId"));
        for (Object r : serialRecords) {
            remove.invoke(kind, r.getClass().getMethod("id").invoke(r));
        }
        for (Object r : records) {
            remove.invoke(kind, r.getClass().getMethod("id").invoke(r));
        }
        for (Object r : uncheckedRecords) {
            remove.invoke(kind, r.getClass().getMethod("id").invoke(r));
        }
        for (int i = 0; i < n; i++) {
            systemctl(sandboxPid, "disable", "--now", "steward-bu" + i + ".service");
            Files.deleteIfExists(unitDir.resolve("steward-bu" + i + ".service"));
        }
        systemctl(sandboxPid, "daemon-reload");
        manager.getClass().getMethod("close").invoke(manager);
    }

    private static String calls(Object stats) throws Exception {
        long c = (long) stats.getClass().getMethod("calls").invoke(stats);
        long m = (long) stats.getClass().getMethod("mutatingCalls").invoke(stats);
        return c + " (" + m + ")";
    }

    /** N add-ons with their artifact already in place (staging is not what this benchmark measures). */
    private static List<Object> prepare(ClassLoader cl, String prefix, int n, String type, Path data) throws Exception {
        List<Object> records = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String id = prefix + i;
            Path artifact = Files.createDirectories(data.resolve("addons").resolve(id).resolve("versions/1.0"));
            Path run = artifact.resolve("run.sh");
            Files.writeString(run, script(type));
            Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.writeString(artifact.resolve("steward-" + id + ".service"), unit(type, "@ADDON_HOME@/run.sh"));
            records.add(record(cl, id, data));
        }
        return records;
    }

    /** apply() of every record, {@code threads} at a time, as core's pass does; each must end ready. */
    private static void applyAll(List<Object> records, int threads, Method apply, Object kind) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Object>> results = new ArrayList<>();
            for (Object r : records) {
                results.add(pool.submit(() -> apply.invoke(kind, r)));
            }
            for (Future<Object> f : results) {
                Object s = f.get();
                if (!s.toString().contains("READY")) {
                    throw new IllegalStateException("not ready: " + s);
                }
            }
        } finally {
            pool.shutdown();
        }
    }

    private static Object minus(Object a, Object b) throws Exception {
        return a.getClass().getMethod("minus", a.getClass()).invoke(a, b);
    }

    private static Object record(ClassLoader cl, String id, Path data) throws Exception {
        Object addonId = cl.loadClass("io.steward.supervision.AddonId").getConstructor(String.class).newInstance(id);
        Object artifact = cl.loadClass("io.steward.supervision.ArtifactRef").getConstructors()[0].newInstance(
                "file:///bench/" + id + ".tar.gz", "0".repeat(64), "", Optional.empty());
        Class<?> resources = cl.loadClass("io.steward.supervision.Resources");
        Object none = resources.getField("NONE").get(null);
        Constructor<?> assignment = cl.loadClass("io.steward.supervision.Assignment").getConstructors()[0];
        Object a = assignment.newInstance(addonId, "1.0", true, "systemd_service", "pushed_artifact",
                Optional.of(artifact), Optional.of("run.sh"), List.of(), Map.of(), "{}", List.of(), none);
        return cl.loadClass("io.steward.supervision.spi.AddonRecord").getConstructors()[0]
                .newInstance(a, data.resolve("addons").resolve(id), 1L);
    }

    private static void systemctl(String pid, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("nsenter", "-t", pid, "-m", "-p", "-u", "-i", "-C", "systemctl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("systemctl " + String.join(" ", args) + " failed: " + out);
        }
    }

    /** An ArtifactStager whose artifacts are already staged (staging is not what this benchmark measures). */
    private static final class PreStaged implements java.lang.reflect.InvocationHandler {
        private final ClassLoader cl;
        private final Path data;

        PreStaged(ClassLoader cl, Path data) {
            this.cl = cl;
            this.data = data;
        }

        private Object staged(String id) throws Exception {
            Path dir = data.resolve("addons").resolve(id).resolve("versions/1.0");
            Object manifest = cl.loadClass("io.steward.delivery.AddonManifest").getConstructors()[0].newInstance(
                    id, "1.0", "systemd_service", "run.sh", List.of("steward-" + id + ".service"), List.of(),
                    Optional.empty(), Map.of());
            return cl.loadClass("io.steward.delivery.StagedArtifact").getConstructors()[0]
                    .newInstance(dir, manifest, "0".repeat(64));
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            switch (method.getName()) {
                case "stage":
                    return staged(args[0].getClass().getMethod("id").invoke(args[0]).toString());
                case "current": {
                    String id = args[0].toString();
                    return Files.isSymbolicLink(data.resolve("addons").resolve(id).resolve("current"))
                            ? Optional.of(staged(id)) : Optional.empty();
                }
                case "activate": {
                    Path home = (Path) args[0].getClass().getMethod("home").invoke(args[0]);
                    Path tmp = home.resolve(".current.tmp");
                    Files.deleteIfExists(tmp);
                    Files.createSymbolicLink(tmp, Path.of("versions/1.0"));
                    Files.move(tmp, home.resolve("current"), StandardCopyOption.ATOMIC_MOVE,
                            StandardCopyOption.REPLACE_EXISTING);
                    Object st = args[1];
                    Class<?> activation = cl.loadClass("io.steward.delivery.Activation");
                    return Proxy.newProxyInstance(cl, new Class<?>[] {activation}, (p, m, a) -> switch (m.getName()) {
                        case "staged" -> st;
                        case "previous" -> Optional.empty();
                        case "toString" -> "activation";
                        default -> null;
                    });
                }
                case "remove":
                    return null;
                case "toString":
                    return "pre-staged";
                case "hashCode":
                    return System.identityHashCode(proxy);
                case "equals":
                    return proxy == args[0];
                default:
                    throw new UnsupportedOperationException(method.getName());
            }
        }
    }

}
