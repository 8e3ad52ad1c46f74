package io.steward.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The Debian package as an operator uses it, with real {@code dpkg} in a throwaway root ({@link PackageSandbox}:
 * overlays over the host's /etc, /usr and /var, its own systemd): install, both units active and the agent
 * {@code Type=notify} ready after its first pass, running as {@code steward}; a signed {@code systemd_service}
 * add-on and a sidecar assigned in /etc/steward/assignments.json reach {@code ready} through the updater;
 * the watchdog restarts a hung agent; an upgrade to a rebuilt package (the version bumped) restarts the agent
 * and the add-ons keep their pids; remove keeps the data; purge removes the add-ons' units and Steward's data
 * and leaves only the system user and what is not Steward's. The steps build on each other (ordered).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DebianPackageIT {
    private static final Path DIST = Path.of(System.getProperty("steward.home", "target/steward")).toAbsolutePath();
    private static final long DEADLINE_SECONDS = 120;
    private static final String SERVICE_ID = "pkgsvc";
    private static final String SERVICE_UNIT = "steward-" + SERVICE_ID + ".service";
    private static final String SIDECAR_ID = "pkgside";
    /** The operator's own unit, named like Steward's but written by hand: purge must leave it. */
    private static final String OPERATOR_UNIT = "steward-operator.service";

    private static PackageSandbox sandbox;
    private static Path deb;
    private static Path work;
    private static long sidecarPid;
    private static String servicePid;

    @BeforeAll
    static void start() throws Exception {
        if (!"root".equals(System.getProperty("user.name"))) {
            fail("this test runs dpkg inside a private root with its own systemd: run it as root (CI does)");
        }
        Path dir = Path.of(System.getProperty("steward.deb.dir", "target"));
        try (Stream<Path> debs = Files.list(dir)) {
            deb = debs.filter(p -> p.getFileName().toString().matches("steward_.*_all\\.deb"))
                    .max(Comparator.comparing(p -> p.toFile().lastModified()))
                    .orElseThrow(() -> new AssertionError("no steward_*_all.deb in " + dir + ": run mvn package"));
        }
        sandbox = PackageSandbox.start(DIST);
        work = sandbox.scratch().resolve("work");
        Files.createDirectories(work);
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (sandbox != null) {
            sandbox.close();
        }
    }

    /** README "Install as a service": no error, and only the warnings the README accepts. */
    @Test
    @Order(0)
    void lintianFindsNoErrorAndOnlyTheAcceptedWarnings() throws Exception {
        Process p = new ProcessBuilder("lintian", "--tag-display-limit", "0", deb.toString()).redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS), "lintian finished");
        java.util.Set<String> tags = new java.util.TreeSet<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^([EW]): steward: (\\S+)").matcher(out);
        while (m.find()) {
            tags.add(m.group(1) + ": " + m.group(2));
        }
        tags.removeAll(List.of("W: jar-not-in-usr-share", "W: maintainer-script-calls-systemctl"));
        assertEquals(java.util.Set.of(), tags, out);
    }

    @Test
    @Order(1)
    void installsEnablesAndStartsBothUnitsWithTheAgentReadyAfterItsFirstPass() throws Exception {
        // the operator's unit, there before Steward
        Files.writeString(sandbox.inside("/etc/systemd/system/" + OPERATOR_UNIT),
                "[Service]\nExecStart=/bin/sleep infinity\n");
        // a host without the user (CI's has one, made by .ci/run): removed in the sandbox's /etc overlay only
        if (sandbox.run("getent", "passwd", "steward").exit() == 0) {
            sandbox.ok("userdel", "steward");
        }
        if (sandbox.run("getent", "group", "steward").exit() == 0) {
            sandbox.ok("groupdel", "steward");
        }
        String out = sandbox.ok("dpkg", "-i", deb.toString());
        assertTrue(out.contains("Setting up steward"), out);
        String[] user = sandbox.ok("getent", "passwd", "steward").strip().split(":");
        assertTrue(Integer.parseInt(user[2]) < 1000, "a system user: " + String.join(":", user));
        assertEquals("/nonexistent", user[5]);
        assertEquals("/usr/sbin/nologin", user[6]);
        assertEquals(sandbox.ok("getent", "group", "steward").split(":")[2], user[3], "its own group");

        assertEquals("active", sandbox.property("steward.service", "ActiveState"));
        assertEquals("active", sandbox.property("steward-updater.socket", "ActiveState"));
        assertEquals("enabled", sandbox.property("steward.service", "UnitFileState"));
        assertEquals("enabled", sandbox.property("steward-updater.socket", "UnitFileState"));
        assertAgentReadyAfterItsOwnFirstPass();
        String pid = sandbox.property("steward.service", "MainPID");
        assertEquals("steward", sandbox.ok("ps", "-o", "user=", "-p", pid).strip(), "the agent runs as steward");

        assertMode("/var/lib/steward", "steward:steward 750");
        assertMode("/var/lib/steward-updater", "root:root 700");
        assertMode("/usr/lib/steward/addons", "root:root 755");
        assertMode("/etc/steward", "root:root 755");
        assertMode("/etc/steward/trust", "root:root 755");
        assertMode("/usr/lib/steward/lib/updater", "root:root 755");
        assertEquals("/usr/lib/steward/bin/steward", sandbox.ok("readlink", "-f", "/usr/bin/steward").strip());
        assertEquals("", sandbox.ok("dpkg", "--verify", "steward"), "every installed file is the package's");
    }

    @Test
    @Order(2)
    void aSignedSystemdServiceAndASidecarAssignedInEtcStewardBecomeReady() throws Exception {
        Run keygen = steward("keygen", "--out", work.resolve("pkg").toString());
        assertEquals(0, keygen.exit(), keygen::toString);
        Files.copy(work.resolve("pkg.pub.pem"), sandbox.inside("/etc/steward/trust/pkg.pem"));

        Path service = addon(SERVICE_ID, "systemd_service", "\"binary\":\"run.sh\",\"units\":[\"" + SERVICE_UNIT + "\"]");
        Files.writeString(service.resolve(SERVICE_UNIT), "[Unit]\nDescription=package test service\n[Service]\n"
                + "ExecStart=@ADDON_HOME@/run.sh\n[Install]\nWantedBy=multi-user.target\n");
        Path sidecar = addon(SIDECAR_ID, "sidecar", "\"binary\":\"run.sh\"");
        String doc = "{\"revision\":\"pkg-1\",\"addons\":[" + assignment(SERVICE_ID, "systemd_service", pack(service),
                ",\"resources\":{\"tasks_max\":64}")
                + "," + assignment(SIDECAR_ID, "sidecar", pack(sidecar), ",\"binary\":\"run.sh\"") + "]}\n";
        // what an operator does: the file the agent watches (the package's conffile, now changed)
        Files.writeString(sandbox.inside("/etc/steward/assignments.json"), doc);

        awaitReady(SERVICE_ID, SIDECAR_ID);
        assertEquals("active", sandbox.property(SERVICE_UNIT, "ActiveState"));
        assertEquals("root:root", sandbox.ok("stat", "-c", "%U:%G", "/etc/systemd/system/" + SERVICE_UNIT).strip(),
                "written by the root updater, not by the agent");
        assertTrue(sandbox.property(SERVICE_UNIT, "ExecStart").contains("/usr/lib/steward/addons/" + SERVICE_ID
                + "/versions/"), "runs the updater's verified copy");
        assertEquals("64", sandbox.property(SERVICE_UNIT, "TasksMax"), "the resources drop-in the updater wrote");
        await("the agent's status line counts both add-ons ready",
                () -> statusText().startsWith("2 add-ons: 2 ready"), DebianPackageIT::statusText);
        sidecarPid = sidecarPid();
        servicePid = sandbox.property(SERVICE_UNIT, "MainPID");
    }

    @Test
    @Order(3)
    void theWatchdogRestartsAHungAgentAndTheAddOnsKeepRunning() throws Exception {
        // a short watchdog for the test (the package's is 5 min); SIGSTOP hangs the agent, reconciler and all
        Path dropIn = sandbox.inside("/etc/systemd/system/steward.service.d");
        Files.createDirectories(dropIn);
        Files.writeString(dropIn.resolve("watchdog.conf"), "[Service]\nWatchdogSec=3s\nTimeoutAbortSec=2s\nRestartSec=1\n");
        sandbox.ok("systemctl", "daemon-reload");
        sandbox.ok("systemctl", "restart", "steward.service");
        assertAgentReadyAfterItsOwnFirstPass();
        String hung = sandbox.property("steward.service", "MainPID");
        String restarts = sandbox.property("steward.service", "NRestarts");
        // the idle reconciler feeds the watchdog: it is still the same agent after more than one period
        await("the agent has fed its watchdog for two periods", () -> uptimeSeconds(hung) > 7, () -> "uptime");
        assertEquals(hung, sandbox.property("steward.service", "MainPID"), "a fed watchdog kills nothing");
        sandbox.ok("kill", "-STOP", hung);
        await("systemd restarted the hung agent", () -> !sandbox.property("steward.service", "MainPID").equals(hung)
                && sandbox.property("steward.service", "ActiveState").equals("active"),
                () -> "MainPID " + propertyOr("MainPID") + " " + propertyOr("ActiveState"));
        assertEquals(Integer.parseInt(restarts) + 1, Integer.parseInt(sandbox.property("steward.service", "NRestarts")));
        assertEquals(sidecarPid, sidecarPid(), "the sidecar was adopted, not restarted");
        assertEquals(servicePid, sandbox.property(SERVICE_UNIT, "MainPID"));
        awaitReady(SERVICE_ID, SIDECAR_ID);

        Files.delete(dropIn.resolve("watchdog.conf"));
        Files.delete(dropIn);
        sandbox.ok("systemctl", "daemon-reload");
        sandbox.ok("systemctl", "restart", "steward.service");
        assertAgentReadyAfterItsOwnFirstPass();
    }

    @Test
    @Order(4)
    void anUpgradeRestartsTheAgentAndTheAddOnsKeepTheirPids() throws Exception {
        String version = sandbox.ok("dpkg-query", "-W", "-f", "${Version}", "steward").strip();
        Path rebuilt = rebuild(version + "+1");
        String agentBefore = sandbox.property("steward.service", "MainPID");
        String out = sandbox.ok("dpkg", "-i", rebuilt.toString());
        assertTrue(out.contains("Unpacking steward (" + version + "+1) over (" + version + ")"), out);

        assertEquals(version + "+1", sandbox.ok("dpkg-query", "-W", "-f", "${Version}", "steward").strip());
        assertNotEquals(agentBefore, sandbox.property("steward.service", "MainPID"), "the agent was restarted");
        assertAgentReadyAfterItsOwnFirstPass();
        awaitReady(SERVICE_ID, SIDECAR_ID);
        assertEquals(sidecarPid, sidecarPid(), "the sidecar keeps its pid");
        assertEquals(servicePid, sandbox.property(SERVICE_UNIT, "MainPID"), "the service keeps its pid");
        assertEquals("active", sandbox.property("steward-updater.socket", "ActiveState"));
    }

    @Test
    @Order(5)
    void removeStopsTheUnitsAndKeepsTheData() throws Exception {
        sandbox.ok("dpkg", "-r", "steward");
        assertNotEquals("active", sandbox.property("steward.service", "ActiveState"));
        assertNotEquals("active", sandbox.property("steward-updater.socket", "ActiveState"));
        assertFalse(Files.exists(sandbox.inside("/usr/bin/steward"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(sandbox.inside("/lib/systemd/system/steward.service")));
        // kept: data, configuration, the add-ons (stopping the agent never stops them) and their units
        assertTrue(Files.isRegularFile(sandbox.inside("/var/lib/steward/state/ledger.json"))
                || Files.isDirectory(sandbox.inside("/var/lib/steward/addons/" + SIDECAR_ID)));
        assertTrue(Files.isRegularFile(sandbox.inside("/etc/steward/trust/pkg.pem")));
        assertTrue(Files.readString(sandbox.inside("/etc/steward/assignments.json")).contains(SERVICE_ID));
        assertEquals("active", sandbox.property(SERVICE_UNIT, "ActiveState"));
        assertEquals("0", sandbox.run("kill", "-0", Long.toString(sidecarPid)).exit() + "", "the sidecar runs on");
        String list = Files.readString(sandbox.inside("/var/lib/steward-updater/purge.sha256"));
        assertTrue(list.matches("[0-9a-f]{64}  /etc/systemd/system/" + SERVICE_UNIT.replace(".", "\\.") + "\n"),
                "the updater listed the units it wrote: " + list);
    }

    @Test
    @Order(6)
    void purgeRemovesTheAddOnsUnitsAndDataAndLeavesOnlyTheSystemUser() throws Exception {
        // the operator's own drop-in beside the updater's: purge removes the updater's only
        Path operatorDropIn = sandbox.inside("/etc/systemd/system/" + SERVICE_UNIT + ".d/10-operator.conf");
        assertTrue(Files.isRegularFile(operatorDropIn.resolveSibling("50-steward-resources.conf")));
        Files.writeString(operatorDropIn, "[Service]\nNice=5\n");
        sandbox.ok("dpkg", "-P", "steward");
        assertEquals("", sandbox.run("dpkg-query", "-W", "-f", "${Status}", "steward").out().replace(
                "dpkg-query: no packages found matching steward\n", ""), "dpkg knows no steward any more");
        await("the sidecar stopped", () -> sandbox.run("kill", "-0", Long.toString(sidecarPid)).exit() != 0,
                () -> "pid " + sidecarPid);
        assertNotEquals("active", sandbox.property(SERVICE_UNIT, "ActiveState"));
        assertEquals("not-found", sandbox.property(SERVICE_UNIT, "LoadState"));
        for (String gone : List.of("/etc/steward", "/var/lib/steward", "/var/lib/steward-updater", "/var/cache/steward",
                "/usr/lib/steward", "/etc/systemd/system/" + SERVICE_UNIT,
                "/etc/systemd/system/multi-user.target.wants/" + SERVICE_UNIT,
                "/etc/systemd/system/" + SERVICE_UNIT + ".d/50-steward-resources.conf",
                "/etc/systemd/system/multi-user.target.wants/steward.service",
                "/etc/systemd/system/sockets.target.wants/steward-updater.socket")) {
            assertFalse(Files.exists(sandbox.inside(gone), LinkOption.NOFOLLOW_LINKS), gone + " is left after purge");
        }
        assertEquals("[Service]\nExecStart=/bin/sleep infinity\n",
                Files.readString(sandbox.inside("/etc/systemd/system/" + OPERATOR_UNIT)), "the operator's unit stays");
        assertEquals("[Service]\nNice=5\n", Files.readString(operatorDropIn), "the operator's drop-in stays");
        assertTrue(sandbox.ok("getent", "passwd", "steward").startsWith("steward:"), "the system user stays");
        assertTrue(sandbox.ok("getent", "group", "steward").startsWith("steward:"), "its group stays");

        // everything the package changed in the throwaway root, by name: only the user's entries in the account files
        List<String> left = new ArrayList<>();
        for (String top : List.of("etc", "usr", "var")) {
            Path upper = sandbox.upper(top);
            try (Stream<Path> all = Files.walk(upper)) {
                all.filter(p -> p.toString().contains("steward") && !whiteout(p))
                        .forEach(p -> left.add("/" + top + "/" + upper.relativize(p)));
            }
        }
        try (Stream<Path> all = Files.walk(sandbox.inside("/etc/systemd/system"))) {
            all.filter(p -> p.getFileName().toString().contains("steward") && !p.endsWith(OPERATOR_UNIT)
                            && !p.equals(operatorDropIn.getParent()))
                    .forEach(p -> left.add(p.toString()));
        }
        try (Stream<Path> all = Files.list(sandbox.inside("/run"))) {
            all.filter(p -> p.getFileName().toString().contains("steward")).forEach(p -> left.add(p.toString()));
        }
        assertEquals(List.of(), left, "files of Steward left after purge");
    }

    // ---------------------------------------------------------------- helpers

    /**
     * {@code Type=notify}: once the start job is done (dpkg and systemctl wait for it) the status line is the
     * summary of a pass of this very process, which began after systemd started it: active only after a pass.
     */
    private static void assertAgentReadyAfterItsOwnFirstPass() throws Exception {
        assertEquals("active", sandbox.property("steward.service", "ActiveState"));
        assertEquals("notify", sandbox.property("steward.service", "Type"));
        String text = statusText();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("; pass of (\\S+) took ").matcher(text);
        assertTrue(m.find(), "the status line is a pass summary: " + text);
        Instant pass = Instant.parse(m.group(1));
        Instant started = systemdTime(sandbox.property("steward.service", "ExecMainStartTimestamp"));
        // the summary's time has whole seconds
        assertFalse(pass.isBefore(started.truncatedTo(java.time.temporal.ChronoUnit.SECONDS)),
                "the pass (" + pass + ") is this agent's, started at " + started + ": " + text);
        Instant active = systemdTime(sandbox.property("steward.service", "ActiveEnterTimestamp"));
        assertFalse(active.isBefore(started), "active at " + active + ", started at " + started);
    }

    /** An overlay whiteout: the upper layer's mark that a file of the host's (lower) layer is deleted. */
    private static boolean whiteout(Path p) {
        try {
            Map<String, Object> a = Files.readAttributes(p, "unix:mode,rdev", LinkOption.NOFOLLOW_LINKS);
            return ((Integer) a.get("mode") & 0170000) == 0020000 && ((Long) a.get("rdev")) == 0;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

        private static Instant systemdTime(String value) {
        // "Mon 2026-12-07 00:55:45 UTC"
        return ZonedDateTime.parse(value, DateTimeFormatter.ofPattern("EEE yyyy-MM-dd HH:mm:ss zzz", Locale.ROOT))
                .toInstant();
    }

    private static String statusText() {
        return propertyOr("StatusText");
    }

    private static String propertyOr(String name) {
        try {
            return sandbox.property("steward.service", name);
        } catch (Exception | AssertionError e) {
            return "(" + e.getMessage() + ")";
        }
    }

    private static long uptimeSeconds(String pid) throws Exception {
        return Long.parseLong(sandbox.ok("ps", "-o", "etimes=", "-p", pid).strip());
    }

    private static void assertMode(String path, String expected) throws Exception {
        assertEquals(expected, sandbox.ok("stat", "-c", "%U:%G %a", path).strip(), path);
    }

    /** The sidecar's pid from the dispatcher's durable state, as it adopts it. */
    private static long sidecarPid() throws Exception {
        Path state = sandbox.inside("/var/lib/steward/state/sidecar/" + SIDECAR_ID + ".json");
        return JsonParser.parseString(Files.readString(state)).getAsJsonObject().get("pid").getAsLong();
    }

    private static void awaitReady(String... ids) throws Exception {
        Map<String, String> last = new TreeMap<>();
        await(String.join(", ", ids) + " ready", () -> {
            last.clear();
            Run status = inside("status", "--json");
            if (status.exit() != 0) {
                last.put("status", status.toString());
                return false;
            }
            for (JsonElement a : JsonParser.parseString(status.stdout()).getAsJsonObject().getAsJsonArray("addons")) {
                JsonObject o = a.getAsJsonObject();
                last.put(o.get("id").getAsString(), o.get("state").getAsString() + " " + o.get("detail").getAsString());
            }
            return Stream.of(ids).allMatch(id -> last.getOrDefault(id, "").startsWith("ready"));
        }, last::toString);
    }

    /** {@code steward} inside the sandbox through the package's /usr/bin/steward, as the agent's user. */
    private static Run inside(String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("setpriv", "--reuid", "steward", "--regid", "steward",
                "--clear-groups", "--", "/usr/bin/steward"));
        argv.addAll(List.of(args));
        PackageSandbox.Result r = sandbox.run(argv.toArray(String[]::new));
        return new Run(argv, r.exit(), r.out(), "");
    }

    record Run(List<String> command, int exit, String stdout, String stderr) {
        @Override
        public String toString() {
            return String.join(" ", command) + "\nexit " + exit + "\n" + stdout + stderr;
        }
    }

    /** The built tree's bin/steward on the host (the artifact tools), as root. */
    private static Run steward(String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of(DIST.resolve("bin/steward").toString()));
        argv.addAll(List.of(args));
        Path out = Files.createTempFile(work, "steward-", ".out");
        Path err = Files.createTempFile(work, "steward-", ".err");
        ProcessBuilder pb = new ProcessBuilder(argv).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().clear();
        pb.environment().putAll(Map.of("PATH", "/usr/bin:/bin", "LANG", "C.UTF-8", "HOME", work.toString()));
        Process p = pb.start();
        if (!p.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", argv) + " did not finish");
        }
        return new Run(argv, p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private static Path addon(String id, String kind, String extra) throws Exception {
        Path dir = work.resolve("addon-" + id);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("addon.json"), "{\"id\":\"" + id + "\",\"version\":\"1.0.0\",\"supervision\":\""
                + kind + "\"," + extra + "}\n");
        Files.writeString(dir.resolve("run.sh"), "#!/bin/sh\nexec sleep infinity\n");
        Files.setPosixFilePermissions(dir.resolve("run.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
        return dir;
    }

    /** Packs and signs {@code dir} into the scratch directory (the same path inside); the pack's JSON. */
    private static JsonObject pack(Path dir) throws Exception {
        Path artifact = work.resolve(dir.getFileName() + "-1.0.0.tar.gz");
        Run pack = steward("pack", dir.toString(), "--key", work.resolve("pkg.key.pem").toString(), "--out",
                artifact.toString(), "--json");
        assertEquals(0, pack.exit(), pack::toString);
        Files.setPosixFilePermissions(artifact, PosixFilePermissions.fromString("rw-r--r--"));
        JsonObject o = JsonParser.parseString(pack.stdout()).getAsJsonObject();
        o.addProperty("url", artifact.toUri().toString());
        return o;
    }

    private static String assignment(String id, String kind, JsonObject packed, String extra) {
        return "{\"id\":\"" + id + "\",\"version\":\"1.0.0\",\"supervision\":\"" + kind + "\",\"artifact\":{\"url\":\""
                + packed.get("url").getAsString() + "\",\"sha256\":\"" + packed.get("sha256").getAsString()
                + "\",\"signature\":\"" + packed.get("signature").getAsString() + "\",\"key\":\""
                + packed.get("key").getAsString() + "\"}" + extra + "}";
    }

    /** The built package with another version: what a rebuild with a bumped version gives (dpkg-deb). */
    private static Path rebuild(String version) throws Exception {
        Path tree = work.resolve("rebuilt");
        exec("dpkg-deb", "-R", deb.toString(), tree.toString());
        Path control = tree.resolve("DEBIAN/control");
        Files.writeString(control, Files.readString(control).replaceFirst("(?m)^Version: .*$", "Version: " + version));
        Path out = work.resolve("steward_" + version + "_all.deb");
        exec("dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "-b", tree.toString(), out.toString());
        return out;
    }

    private static void exec(String... argv) throws Exception {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (!p.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError(String.join(" ", argv) + " failed:\n" + out);
        }
    }

    interface Check {
        boolean holds() throws Exception;
    }

    private static void await(String what, Check check, Supplier<String> state) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
        while (!check.holds()) {
            if (System.nanoTime() > end) {
                fail(what + " within " + DEADLINE_SECONDS + " s; last: " + state.get());
            }
            Thread.sleep(200);     // polling a condition with a deadline
        }
    }
}
