package io.steward.supervision.sidecar.internal;

import io.steward.delivery.Activation;
import io.steward.delivery.AddonManifest;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/** Shared test plumbing: typed config from a map, a fake stager over prepared directories, add-on scripts. */
final class TestSupport {
    /** sd_notify client used by the test add-ons (Debian package systemd). */
    static final String SYSTEMD_NOTIFY = "/usr/bin/systemd-notify";

    private TestSupport() {
    }

    /** A Config whose attributes come from {@code values} (property names with dots) or the defaults. */
    static SidecarDispatcher.Config config(Map<String, Object> values) {
        return (SidecarDispatcher.Config) Proxy.newProxyInstance(SidecarDispatcher.Config.class.getClassLoader(),
                new Class<?>[] {SidecarDispatcher.Config.class}, (proxy, method, args) -> {
                    String key = method.getName().replace('_', '.');
                    if (values.containsKey(key)) {
                        Object v = values.get(key);
                        Class<?> t = method.getReturnType();
                        if (t == long.class) {
                            return ((Number) v).longValue();
                        }
                        if (t == int.class) {
                            return ((Number) v).intValue();
                        }
                        if (t == double.class) {
                            return ((Number) v).doubleValue();
                        }
                        return v;
                    }
                    Object d = method.getDefaultValue();
                    if (d == null) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    return d;
                });
    }

    /** Short timings for tests. */
    static Map<String, Object> fast() {
        Map<String, Object> m = new HashMap<>();
        m.put("ready.grace.millis", 200L);
        m.put("start.timeout.seconds", 10);
        m.put("stop.grace.seconds", 2);
        m.put("restart.base.millis", 50L);
        m.put("restart.max.millis", 400L);
        m.put("restart.jitter", 0.1);
        m.put("stable.uptime.seconds", 30L);
        m.put("crash.loop.restarts", 3);
        m.put("crash.loop.window.seconds", 30L);
        m.put("crash.loop.delay.seconds", 1L);
        m.put("poll.millis", 50L);
        return m;
    }

    static HostLayout layout(Path root) {
        return new HostLayout(root.resolve("data"), root.resolve("etc"), root.resolve("etc/trust"),
                root.resolve("units"), root.resolve("privileged"));
    }

    /** The assignment of a pushed sidecar with a made-up artifact reference (the fake stager ignores it). */
    static Assignment assignment(String id, String version, String configJson, Map<String, String> env,
                                 List<String> args) {
        return new Assignment(new AddonId(id), version, true, "sidecar", "pushed_artifact",
                Optional.of(new ArtifactRef("file:///nowhere/" + id + "-" + version + ".tar.gz", "0".repeat(64), "",
                        Optional.empty())),
                Optional.empty(), args, env, configJson, List.of(), Resources.NONE);
    }

    static Assignment assignment(String id, String version, String configJson) {
        return assignment(id, version, configJson, Map.of(), List.of());
    }

    static AddonRecord record(HostLayout layout, Assignment a) {
        return new AddonRecord(a, layout.addonHome(a.id()), 1);
    }

    /**
     * Writes {@code <home>/versions/<version>/} with an executable {@code run.sh} and an optional
     * {@code defaults.json}, and registers the manifest with the stager.
     */
    static void prepare(FakeStager stager, HostLayout layout, String id, String version, String script,
                        Map<String, String> manifestParameters, String defaultConfig) throws IOException {
        Path dir = layout.addonHome(new AddonId(id)).resolve("versions").resolve(version);
        Files.createDirectories(dir);
        Path run = dir.resolve("run.sh");
        Files.writeString(run, script, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
        if (defaultConfig != null) {
            Files.writeString(dir.resolve("defaults.json"), defaultConfig, StandardCharsets.UTF_8);
        }
        register(stager, id, version, manifestParameters, defaultConfig != null);
    }

    /** Tells the stager the manifest of a version directory written earlier (by another JVM, say). */
    static void register(FakeStager stager, String id, String version, Map<String, String> manifestParameters,
                         boolean hasDefaultConfig) {
        stager.manifests.put(id + "@" + version, new AddonManifest(id, version, "sidecar", "run.sh", List.of(),
                List.of(), hasDefaultConfig ? Optional.of("defaults.json") : Optional.empty(), manifestParameters));
    }

    /**
     * A bash add-on. It records its pid in {@code $STEWARD_ADDON_STATE/pids}, then runs {@code body}; helpers:
     * {@code notify ARGS} (systemd-notify, never blocking), {@code idle} (sleep in the background and wait, so
     * traps run at once).
     */
    static String script(String body) {
        return "#!/bin/bash\n"
                + "notify() { " + SYSTEMD_NOTIFY + " --no-block \"$@\"; }\n"
                + "idle() { sleep \"${1:-0.05}\" & wait $!; }\n"
                + "echo $$ >> \"$STEWARD_ADDON_STATE/pids\"\n"
                + body + "\n";
    }

    /** Polls {@code condition} every 20 ms until it holds or {@code deadline} passes. */
    static void await(String what, Duration deadline, java.util.concurrent.Callable<Boolean> condition) {
        Awaitility.await(what).atMost(deadline).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(20))
                .ignoreExceptions().until(condition);
    }

    static void await(String what, java.util.concurrent.Callable<Boolean> condition) {
        await(what, Duration.ofSeconds(15), condition);
    }

    /** Pids the add-on recorded, oldest first. */
    static List<Long> pids(HostLayout layout, String id) throws IOException {
        Path file = layout.addonHome(new AddonId(id)).resolve("state").resolve("pids");
        if (!Files.exists(file)) {
            return List.of();
        }
        return Files.readAllLines(file).stream().filter(l -> !l.isBlank()).map(Long::parseLong).toList();
    }

    /** True while {@code pid} is a live process (a zombie counts as dead). */
    static boolean alive(long pid) {
        return Processes.stat(pid).map(s -> !s.zombie()).orElse(false);
    }

    /**
     * Kills every process group an add-on under {@code root} recorded, then waits for their keepers to record
     * the exits and end: no test leaves processes behind, nor a keeper writing into a tree being deleted.
     */
    static void killAll(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            return;
        }
        List<Long> keepers = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : files.filter(f -> f.getFileName().toString().equals("pids")).toList()) {
                for (String line : Files.readAllLines(p)) {
                    long pid = line.isBlank() ? 0 : Long.parseLong(line.trim());
                    if (pid > 1 && alive(pid)) {
                        keeperOf(pid).ifPresent(keepers::add);
                        Processes.signalGroup(pid, "KILL");
                    }
                }
            }
        }
        try {
            // polling a condition with a deadline: nothing signals a keeper's end
            Awaitility.await().atMost(Duration.ofSeconds(10)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(10))
                    .until(() -> keepers.stream().noneMatch(TestSupport::alive));
        } catch (ConditionTimeoutException e) {
            // as before: a keeper still up after 10 s is left to the next test's cleanup
        }
    }

    /** The keeper a sidecar runs under: its parent, when that is a {@code steward-keeper} shell. */
    static Optional<Long> keeperOf(long pid) {
        return Processes.stat(pid).map(Processes.Stat::ppid).filter(pp -> {
            try {
                return new String(Files.readAllBytes(Path.of("/proc", Long.toString(pp), "cmdline")),
                        StandardCharsets.US_ASCII).contains("\0steward-keeper\0");
            } catch (IOException e) {
                return false;
            }
        });
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Stages prepared directories: {@code <home>/versions/<version>} written by {@link #prepare}. */
    static final class FakeStager implements ArtifactStager {
        final Map<String, AddonManifest> manifests = new ConcurrentHashMap<>();
        final AtomicInteger stages = new AtomicInteger();
        final AtomicInteger commits = new AtomicInteger();
        final AtomicInteger rollbacks = new AtomicInteger();
        final AtomicInteger removals = new AtomicInteger();
        private final HostLayout layout;

        FakeStager(HostLayout layout) {
            this.layout = layout;
        }

        @Override
        public StagedArtifact stage(AddonRecord addon) throws SupervisionException {
            stages.incrementAndGet();
            Assignment a = addon.assignment();
            AddonManifest m = manifests.get(a.id() + "@" + a.version());
            Path dir = layout.addonHome(a.id()).resolve("versions").resolve(a.version());
            if (m == null || !Files.isDirectory(dir)) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + a.id() + ": no test artifact for "
                        + a.version());
            }
            return new StagedArtifact(dir, m, "0".repeat(64));
        }

        @Override
        public Activation activate(AddonRecord addon, StagedArtifact staged) throws SupervisionException {
            Path current = addon.current();
            Optional<Path> previous;
            try {
                previous = Files.isSymbolicLink(current)
                        ? Optional.of(current.resolveSibling(Files.readSymbolicLink(current)).normalize())
                        : Optional.empty();
                link(current, staged.directory());
            } catch (IOException e) {
                throw new SupervisionException(Disposition.TRANSIENT, "cannot activate: " + e, e);
            }
            return new Activation() {
                @Override
                public StagedArtifact staged() {
                    return staged;
                }

                @Override
                public Optional<Path> previous() {
                    return previous;
                }

                @Override
                public void rollback() throws SupervisionException {
                    rollbacks.incrementAndGet();
                    try {
                        if (previous.isPresent()) {
                            link(current, previous.get());
                        } else {
                            Files.deleteIfExists(current);
                        }
                    } catch (IOException e) {
                        throw new SupervisionException(Disposition.TRANSIENT, "cannot roll back: " + e, e);
                    }
                }

                @Override
                public void commit() {
                    commits.incrementAndGet();
                }
            };
        }

        private static void link(Path current, Path target) throws IOException {
            Path tmp = current.resolveSibling(".current.tmp");
            Files.deleteIfExists(tmp);
            Files.createSymbolicLink(tmp, current.getParent().relativize(target));
            Files.move(tmp, current, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }

        @Override
        public Optional<StagedArtifact> current(AddonId id) {
            return Optional.empty();
        }

        @Override
        public void remove(AddonId id) throws SupervisionException {
            removals.incrementAndGet();
            try {
                Files.deleteIfExists(layout.addonHome(id).resolve("current"));
                deleteTree(layout.addonHome(id).resolve("versions"));
            } catch (IOException e) {
                throw new SupervisionException(Disposition.TRANSIENT, "cannot remove: " + e, e);
            }
        }
    }
}
