package io.steward.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The production topology, end to end and in OSGi: the root {@code steward-updater} started through
 * {@code bin/steward-updater}, and {@code bin/steward} run as the unprivileged user {@code steward}
 * ({@code setpriv}) against it and a real systemd (tools/systemd-sandbox.sh). A signed {@code systemd_service}
 * add-on goes in through the updater's socket (the agent cannot write the unit directory), runs under
 * systemd, and is removed the same way. Needs root and the {@code steward} user, as CI has.
 */
class NonRootAgentIT {
    private static final Path DIST = Path.of(System.getProperty("steward.home", "target/steward")).toAbsolutePath();
    private static final String AGENT = "steward";
    private static final long DEADLINE_SECONDS = 120;

    private static Sandbox sandbox;
    private static Path root;
    private static Path home;
    private static Path etc;
    private static Path data;
    private static Path priv;
    private static Path socket;
    private static Path updaterLog;
    private static Process updater;
    private static int runs;

    /** The CI's sandbox (.ci/run exports it), or a private one this class starts and stops. */
    private record Sandbox(String address, Path scratch, Path unitDir, boolean owned) {
        static Sandbox open() throws Exception {
            String address = System.getenv("DBUS_SYSTEM_BUS_ADDRESS");
            String scratch = System.getenv("STEWARD_TEST_SYSTEMD_SCRATCH");
            String units = System.getenv("STEWARD_TEST_SYSTEMD_UNIT_DIR");
            if (address != null && scratch != null && units != null) {
                return new Sandbox(address, Path.of(scratch), Path.of(units), false);
            }
            Path own = Path.of("/tmp/sdsb-" + UUID.randomUUID().toString().substring(0, 8));
            Files.createDirectories(own);
            Sandbox s = new Sandbox("unix:path=" + own.resolve("dbus/system_bus_socket"), own, own.resolve("units"), true);
            s.script("start");
            return s;
        }

        void script(String verb) throws Exception {
            Path tool = DIST;
            while (tool != null && !Files.isRegularFile(tool.resolve("tools/systemd-sandbox.sh"))) {
                tool = tool.getParent();
            }
            if (tool == null) {
                throw new IllegalStateException("tools/systemd-sandbox.sh not found above " + DIST);
            }
            ProcessBuilder pb = new ProcessBuilder(tool.resolve("tools/systemd-sandbox.sh").toString(), verb)
                    .redirectErrorStream(true);
            pb.environment().put("SCRATCH", scratch.toString());
            pb.environment().put("UNIT_DIR", unitDir.toString());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("systemd-sandbox.sh " + verb + " failed: " + out);
            }
        }
    }

    @BeforeAll
    static void start() throws Exception {
        if (!"root".equals(System.getProperty("user.name"))) {
            fail("this test starts the root steward-updater and runs the agent as " + AGENT + ": run it as root (CI does)");
        }
        UserPrincipal agent;
        try {
            agent = Path.of("/").getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(AGENT);
        } catch (IOException e) {
            throw new AssertionError("create the user " + AGENT + " as .ci/run does: " + e.getMessage(), e);
        }
        sandbox = Sandbox.open();
        // under the sandbox's scratch: the sandboxed systemd runs the add-on's program from the privileged root
        root = Files.createTempDirectory(sandbox.scratch(), "nonroot-");
        for (Path p = root; p != null && !p.equals(Path.of("/tmp")) && !p.equals(Path.of("/")); p = p.getParent()) {
            addExecute(p);       // the agent's user reaches the bus socket and its files
        }
        home = copyDistribution(root.resolve("home"));
        etc = dir("etc", "rwxr-xr-x");
        Path updaterTrust = dir("updater-trust", "rwxr-xr-x");
        priv = dir("priv", "rwxr-xr-x");
        data = dir("data", "rwxr-x---");
        Files.setOwner(data, agent);
        Path run = dir("run", "rwxr-xr-x");
        socket = run.resolve("updater.sock");

        Run keygen = run(false, "keygen", "--out", root.resolve("it").toString());
        assertEquals(0, keygen.exit(), keygen::toString);
        Files.createDirectories(etc.resolve("trust"));
        Files.copy(root.resolve("it.pub.pem"), etc.resolve("trust/it.pem"));
        Files.copy(root.resolve("it.pub.pem"), updaterTrust.resolve("it.pem"));

        updaterLog = root.resolve("updater.log");
        ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/steward-updater").toString(), "--socket",
                socket.toString(), "--agent-user", AGENT, "--data", data.toString(), "--privileged-root", priv.toString(),
                "--unit-dir", sandbox.unitDir().toString(), "--trust", updaterTrust.toString(), "--state",
                dir("updater-state", "rwx------").toString(), "--systemd-bus", sandbox.address())
                .redirectErrorStream(true).redirectOutput(updaterLog.toFile());
        pb.environment().clear();
        pb.environment().put("PATH", "/usr/bin:/bin");
        updater = pb.start();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!(Files.exists(socket) && Files.readString(updaterLog).contains("serving"))) {
            if (!updater.isAlive() || System.nanoTime() > end) {
                fail("the updater did not come up; its log:\n" + Files.readString(updaterLog));
            }
            Thread.sleep(100);     // polling a condition with a deadline
        }
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (updater != null) {
                updater.destroy();
                if (!updater.waitFor(30, TimeUnit.SECONDS)) {
                    updater.destroyForcibly();
                }
            }
        } finally {
            if (sandbox != null && sandbox.owned()) {
                sandbox.script("stop");
                try (Stream<Path> all = Files.walk(sandbox.scratch())) {
                    for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        }
    }

    @Test
    void aNonRootAgentInstallsAndRemovesASystemdServiceThroughTheUpdater() throws Exception {
        String id = "nr" + UUID.randomUUID().toString().substring(0, 6);
        String unit = "steward-" + id + ".service";
        Path addon = dir("addon-" + id, "rwxr-xr-x");
        Files.writeString(addon.resolve("addon.json"), "{\"id\":\"" + id + "\",\"version\":\"1.0.0\","
                + "\"supervision\":\"systemd_service\",\"binary\":\"run.sh\",\"units\":[\"" + unit + "\"]}\n");
        Files.writeString(addon.resolve("run.sh"), "#!/bin/sh\nexec sleep infinity\n");
        Files.setPosixFilePermissions(addon.resolve("run.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(addon.resolve(unit), "[Unit]\nDescription=non-root agent test " + id + "\n[Service]\n"
                + "ExecStart=@ADDON_HOME@/run.sh\n[Install]\nWantedBy=multi-user.target\n");
        Path artifact = root.resolve("repo").resolve(id + "-1.0.0.tar.gz");
        Files.createDirectories(artifact.getParent());
        Run pack = run(false, "pack", addon.toString(), "--key", root.resolve("it.key.pem").toString(), "--out",
                artifact.toString(), "--json");
        assertEquals(0, pack.exit(), pack::toString);
        JsonObject packed = JsonParser.parseString(pack.stdout()).getAsJsonObject();
        Path doc = etc.resolve("assignments.json");
        Files.writeString(doc, "{\"revision\":\"nonroot-1\",\"addons\":[{\"id\":\"" + id + "\",\"version\":\"1.0.0\","
                + "\"supervision\":\"systemd_service\",\"artifact\":{\"url\":\"" + artifact.toUri() + "\",\"sha256\":\""
                + packed.get("sha256").getAsString() + "\",\"signature\":\"" + packed.get("signature").getAsString()
                + "\",\"key\":\"" + packed.get("key").getAsString() + "\"}}]}\n");

        Run apply = run(true, "apply", "-a", doc.toString(), "--json");
        assertEquals(0, apply.exit(), () -> apply + "\nupdater log:\n" + updaterLogText());
        Path unitFile = sandbox.unitDir().resolve(unit);
        assertTrue(Files.isRegularFile(unitFile, LinkOption.NOFOLLOW_LINKS), "the updater wrote " + unitFile);
        assertEquals("root", Files.getOwner(unitFile).getName(), "written by the updater, not the agent");
        assertTrue(Files.readString(unitFile).matches("(?s).*\nExecStart=" + priv.resolve(id).resolve("versions")
                + "/[0-9a-f]{64}/run.sh\n.*"), "runs the updater's immutable verified copy: " + Files.readString(unitFile));
        JsonObject status = status(id);
        assertEquals("ready", status.get("state").getAsString(), status::toString);
        assertTrue(status.get("detail").getAsString().contains("active"), status::toString);

        Files.writeString(doc, "{\"revision\":\"nonroot-2\",\"addons\":[]}\n");
        Run remove = run(true, "apply", "-a", doc.toString(), "--json");
        assertEquals(0, remove.exit(), () -> remove + "\nupdater log:\n" + updaterLogText());
        assertFalse(Files.exists(unitFile, LinkOption.NOFOLLOW_LINKS), "the unit is removed through the updater");
    }

    // ---------------------------------------------------------------- helpers

    record Run(List<String> command, int exit, String stdout, String stderr) {
        @Override
        public String toString() {
            return String.join(" ", command) + "\nexit " + exit + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
        }
    }

    /** bin/steward, as the agent's user (setpriv) or as root (the artifact tools), with this test's roots. */
    private static Run run(boolean asAgent, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        if (asAgent) {
            command.addAll(List.of("setpriv", "--reuid", AGENT, "--regid", AGENT, "--clear-groups", "--"));
        }
        command.add(home.resolve("bin/steward").toString());
        command.addAll(List.of(args));
        command.addAll(List.of("--data", data.toString(), "--etc", etc.toString(), "--trust",
                etc.resolve("trust").toString(), "--unit-dir", sandbox.unitDir().toString(), "--privileged-root",
                priv.toString(), "--systemd-bus", sandbox.address()));
        int n = ++runs;
        Path out = root.resolve("run-" + n + ".out");
        Path err = root.resolve("run-" + n + ".err");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", "/usr/bin:/bin");
        env.put("LANG", "C.UTF-8");
        env.put("HOME", asAgent ? "/nonexistent" : root.toString());
        env.put("STEWARD_JAVA_OPTS", "-Dsteward.updater.socket=" + socket);
        Process p = pb.start();
        if (!p.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            fail(String.join(" ", command) + " did not finish within " + DEADLINE_SECONDS + " s");
        }
        return new Run(command, p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private static JsonObject status(String id) throws Exception {
        Run status = run(true, "status", "--json");
        assertEquals(0, status.exit(), status::toString);
        for (JsonElement a : JsonParser.parseString(status.stdout()).getAsJsonObject().getAsJsonArray("addons")) {
            if (a.getAsJsonObject().get("id").getAsString().equals(id)) {
                return a.getAsJsonObject();
            }
        }
        throw new AssertionError(id + " is not in the status: " + status);
    }

    private static String updaterLogText() {
        try {
            return Files.readString(updaterLog);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /**
     * The distribution's tree as an installation lays it out: root-owned, nothing writable by others
     * (bin/steward-updater refuses anything else), readable by the agent's user.
     */
    private static Path copyDistribution(Path target) throws IOException {
        for (String top : List.of("bin", "bundle", "deploy", "lib", "etc/deploy-trust")) {
            Path source = DIST.resolve(top);
            try (Stream<Path> files = Files.walk(source)) {
                for (Path p : files.toList()) {
                    Path t = target.resolve(top).resolve(source.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(t);
                    } else {
                        Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
                    }
                    Files.setPosixFilePermissions(t, PosixFilePermissions.fromString(
                            Files.isDirectory(t) || Files.isExecutable(p) ? "rwxr-xr-x" : "rw-r--r--"));
                }
            }
        }
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
        return target;
    }

    private static Path dir(String name, String mode) throws IOException {
        Path d = Files.createDirectories(root.resolve(name));
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString(mode));
        return d;
    }

    private static void addExecute(Path p) throws IOException {
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
        perms.add(PosixFilePermission.OTHERS_EXECUTE);
        perms.add(PosixFilePermission.GROUP_EXECUTE);
        if (p.equals(root)) {
            perms.add(PosixFilePermission.OTHERS_READ);
        }
        Files.setPosixFilePermissions(p, perms);
    }
}
