package io.steward.systemd.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A real systemd for tests: the sandbox of {@code tools/systemd-sandbox.sh} (systemd as PID 1 of private
 * namespaces, its system bus reachable from the host by socket path).
 * <p>
 * {@link #shared()} uses the sandbox CI started ({@code DBUS_SYSTEM_BUS_ADDRESS},
 * {@code STEWARD_TEST_SYSTEMD_SCRATCH}, {@code STEWARD_TEST_SYSTEMD_UNIT_DIR}, {@code STEWARD_TEST_SYSTEMD_PID}
 * in the environment or as system properties); without them it starts one for this JVM (root only) and
 * stops it at exit. It never skips: a test that needs systemd fails when there is none.
 * {@link #startPrivate()} always starts a fresh one, for tests that stop and restart systemd.
 */
public final class SystemdSandbox implements AutoCloseable {
    private static SystemdSandbox shared;

    private final Path scratch;
    private final Path unitDir;
    private final boolean owned;
    private String address;
    private long pid;

    private SystemdSandbox(Path scratch, Path unitDir, String address, long pid, boolean owned) {
        this.scratch = scratch;
        this.unitDir = unitDir;
        this.address = address;
        this.pid = pid;
        this.owned = owned;
    }

    private static String setting(String name) {
        String v = System.getProperty(name);
        return v != null && !v.isBlank() ? v : System.getenv(name);
    }

    /** The sandbox of this test run. */
    public static synchronized SystemdSandbox shared() throws IOException, InterruptedException {
        if (shared != null) {
            return shared;
        }
        String address = setting("DBUS_SYSTEM_BUS_ADDRESS");
        String scratch = setting("STEWARD_TEST_SYSTEMD_SCRATCH");
        String units = setting("STEWARD_TEST_SYSTEMD_UNIT_DIR");
        String pid = setting("STEWARD_TEST_SYSTEMD_PID");
        if (address != null && scratch != null && units != null && !units.isBlank() && pid != null) {
            shared = new SystemdSandbox(Path.of(scratch), Path.of(units), address, Long.parseLong(pid.trim()), false);
        } else {
            shared = startPrivate();
            SystemdSandbox s = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(s::closeQuietly, "systemd-sandbox-stop"));
        }
        return shared;
    }

    /** A fresh sandbox owned by the caller, who closes it. */
    public static SystemdSandbox startPrivate() throws IOException, InterruptedException {
        if (!"root".equals(System.getProperty("user.name"))) {
            throw new IllegalStateException("the systemd tests need root to start tools/systemd-sandbox.sh, or a "
                    + "running sandbox named by DBUS_SYSTEM_BUS_ADDRESS and STEWARD_TEST_SYSTEMD_*");
        }
        Path scratch = Path.of("/tmp/sdsb-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectories(scratch);
        Path units = scratch.resolve("units");
        SystemdSandbox s = new SystemdSandbox(scratch, units, "", 0, true);
        s.start();
        return s;
    }

    /** (Re)starts an owned sandbox: same scratch and unit directory, so unit files survive. */
    public void start() throws IOException, InterruptedException {
        requireOwned();
        run("start");
        for (String line : run("env")) {
            if (line.startsWith("DBUS_SYSTEM_BUS_ADDRESS=")) {
                address = line.substring(line.indexOf('=') + 1);
            } else if (line.startsWith("STEWARD_TEST_SYSTEMD_PID=")) {
                pid = Long.parseLong(line.substring(line.indexOf('=') + 1).trim());
            }
        }
    }

    /** Stops an owned sandbox (systemd powers off; the units' processes end with it). */
    public void stop() throws IOException, InterruptedException {
        requireOwned();
        run("stop");
    }

    private void requireOwned() {
        if (!owned) {
            throw new IllegalStateException("this sandbox belongs to CI; start a private one");
        }
    }

    private List<String> run(String verb) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("bash", script().toString(), verb).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("SCRATCH", scratch.toString());
        env.put("UNIT_DIR", unitDir.toString());
        Process p = pb.start();
        List<String> lines = new ArrayList<>();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("systemd-sandbox.sh " + verb + " failed: " + out);
        }
        lines.addAll(out.lines().toList());
        return lines;
    }

    private static Path script() {
        String configured = System.getProperty("steward.test.sandbox.script");
        if (configured != null) {
            return Path.of(configured);
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("tools/systemd-sandbox.sh");
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("tools/systemd-sandbox.sh not found above " + Path.of("").toAbsolutePath());
    }

    /** The bus address, {@code unix:path=…}. */
    public String address() {
        return address;
    }

    /** The host directory that is the sandbox's {@code /etc/systemd/system}. */
    public Path unitDir() {
        return unitDir;
    }

    /** A fresh directory visible inside the sandbox (under SCRATCH), for data dirs and privileged roots. */
    public Path newDirectory(String prefix) throws IOException {
        Files.createDirectories(scratch.resolve("t"));
        return Files.createTempDirectory(scratch.resolve("t"), prefix);
    }

    /** Runs {@code systemctl} inside the sandbox (as a person at a shell would); returns its output. */
    public String systemctl(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("nsenter", "-t", Long.toString(pid), "-m", "-p", "-u", "-i", "-C",
                "systemctl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(60, TimeUnit.SECONDS);
        return out;
    }

    /** The PID (host namespace) of the sandbox's systemd. */
    public long pid() {
        return pid;
    }

    private void closeQuietly() {
        try {
            close();
        } catch (Exception e) {
            System.err.println("stopping the systemd sandbox failed: " + e);
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (owned) {
            stop();
            PathsForTests.deleteTree(scratch);
        }
    }

    /** Small helpers shared by the systemd tests. */
    public static final class PathsForTests {
        private PathsForTests() {
        }

        public static void deleteTree(Path root) throws IOException {
            if (!Files.exists(root)) {
                return;
            }
            try (var walk = Files.walk(root)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
