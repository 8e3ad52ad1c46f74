package io.steward.updater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.privileged.client.internal.UpdaterClient;
import io.steward.supervision.spi.SupervisionException;
import io.steward.systemd.ActiveState;
import io.steward.systemd.UnitState;
import io.steward.systemd.dbus.internal.SystemdDbusManager;
import io.steward.systemd.testing.SystemdSandbox;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Privilege separation end to end, against a real systemd (tools/systemd-sandbox.sh): the updater runs as root,
 * started through {@code bin/steward-updater} from a hostile environment; the agent runs in a child JVM as the
 * unprivileged user {@code steward} (setpriv), with fake {@code systemctl}, {@code setcap} and friends first on
 * its PATH (and the updater's caller's PATH): each fake leaves a marker, and no marker may ever appear.
 * Every refusal is checked to change nothing: the unit directory, the privileged tree and the updater's ledger
 * are compared byte for byte before and after.
 */
class UpdaterIT {
    private static final String AGENT = "steward";
    private static final List<String> FAKES = List.of("systemctl", "setcap", "getcap", "java", "env", "stat",
            "readlink", "dirname", "mkdir", "chcon", "busctl");

    /** The one add-on id the updater allows to roll back ({@code --allow-rollback}). */
    private static final String ROLLBACK_OK = newId();

    private static SystemdSandbox sandbox;
    private static SystemdDbusManager systemd;
    private static Path root;
    private static Path home;
    private static Path trust;
    private static Path agentEtc;
    private static Path priv;
    private static Path state;
    private static Path data;
    private static Path socket;
    private static Path repo;
    private static Path classpath;
    private static Path fakebin;
    private static Path markers;
    private static KeyPair key;
    private static Process updater;
    private static Path updaterLog;
    private static Agent agent;

    // ---- fixture -------------------------------------------------------------------------------------------

    @BeforeAll
    static void start() throws Exception {
        Accounts.User user;
        try {
            user = Accounts.system().user(AGENT);
        } catch (IOException e) {     // never skipped: a host without the user fails, with what to do
            throw new AssertionError("the updater tests run the agent as the user " + AGENT + "; create it as .ci/run "
                    + "does (groupadd --system steward; useradd --system --gid steward steward): " + e.getMessage(), e);
        }
        sandbox = SystemdSandbox.shared();
        systemd = new SystemdDbusManager(sandbox.address(), Duration.ofSeconds(10));
        root = sandbox.newDirectory("upd");
        // the agent's user reaches the bus socket and its files under the sandbox's scratch directory
        for (Path p = root; p != null && !p.equals(Path.of("/tmp")) && !p.equals(Path.of("/")); p = p.getParent()) {
            addMode(p, "--x");
        }
        addMode(root, "r-x");
        home = Files.createDirectories(root.resolve("home"));
        trust = dir("trust", "rwxr-xr-x");
        agentEtc = dir("agent-etc", "rwxr-xr-x");
        priv = dir("priv", "rwxr-xr-x");
        state = dir("state", "rwx------");
        data = dir("data", "rwxr-x---");
        chown(data, user);
        Path run = dir("run", "rwxr-xr-x");
        socket = run.resolve("updater.sock");
        repo = dir("repo", "rwxr-xr-x");
        markers = dir("markers", "rwxrwxrwx");
        fakebin = dir("fakebin", "rwxr-xr-x");
        for (String tool : FAKES) {
            Path fake = fakebin.resolve(tool);
            Files.writeString(fake, "#!/bin/sh\n: > " + markers.resolve(tool) + "\nexit 1\n");
            Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwxr-xr-x"));
        }

        key = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        String pem = "-----BEGIN PUBLIC KEY-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(key.getPublic().getEncoded()) + "\n-----END PUBLIC KEY-----\n";
        Files.writeString(trust.resolve("it.pem"), pem);
        Files.createDirectories(agentEtc.resolve("trust"));
        Files.writeString(agentEtc.resolve("trust/it.pem"), pem);

        installDistribution();
        copyClasspath();
        startUpdater();
        agent = Agent.start(AGENT, AGENT, socket);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (agent != null) {
                agent.close();
            }
            assertNoFakeToolRan();
        } finally {
            if (updater != null) {
                updater.destroy();      // SIGTERM: the updater closes its socket and exits
                if (!updater.waitFor(30, TimeUnit.SECONDS)) {
                    updater.destroyForcibly();
                }
            }
            if (systemd != null) {
                systemd.close();
            }
        }
    }

    @AfterEach
    void noFakeToolRan() throws IOException {
        assertNoFakeToolRan();
    }

    /** bin/steward-updater and lib/updater/ as the distribution lays them out (root-owned). */
    private static void installDistribution() throws IOException {
        Path bin = Files.createDirectories(home.resolve("bin"));
        Path lib = Files.createDirectories(home.resolve("lib/updater"));
        Path script = bin.resolve("steward-updater");
        Files.copy(Path.of(System.getProperty("steward.test.updater.script")), script);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("steward.test.updater.lib")))) {
            for (Path jar : s.toList()) {
                Files.copy(jar, lib.resolve(jar.getFileName().toString()));
            }
        }
        for (Path p : List.of(home, bin, home.resolve("lib"), lib)) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    /** The agent's class path, copied where its user can read it (~/.m2 of root is not). */
    private static void copyClasspath() throws IOException {
        classpath = dir("cp", "rwxr-xr-x");
        List<String> entries = new ArrayList<>(List.of(System.getProperty("steward.test.classes")));
        entries.addAll(List.of(Files.readString(Path.of(System.getProperty("steward.test.classpath.file"))).trim()
                .split(":")));
        entries.add(Path.of(System.getProperty("steward.test.updater.lib")).getParent().resolve("classes").toString());
        int n = 0;
        for (String e : entries) {
            Path source = Path.of(e);
            Path target = classpath.resolve(String.format("%03d-%s", n++, source.getFileName()));
            if (Files.isDirectory(source)) {
                try (Stream<Path> s = Files.walk(source)) {
                    for (Path p : s.toList()) {
                        Path t = target.resolve(source.relativize(p).toString());
                        if (Files.isDirectory(p)) {
                            Files.createDirectories(t);
                        } else {
                            Files.copy(p, t);
                        }
                    }
                }
            } else if (Files.isRegularFile(source)) {
                Files.copy(source, target);
            }
        }
        try (Stream<Path> s = Files.walk(classpath)) {
            for (Path p : s.toList()) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x"
                        : "rw-r--r--"));
            }
        }
    }

    private static String agentClasspath() throws IOException {
        try (Stream<Path> s = Files.list(classpath)) {
            return String.join(":", s.sorted().map(Path::toString).toList());
        }
    }

    /** Starts bin/steward-updater from a hostile environment: none of it may reach the JVM or the updater. */
    private static void startUpdater() throws Exception {
        updaterLog = root.resolve("updater.log");
        ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/steward-updater").toString(),
                "--runtime-dir", root.resolve("rt").toString(), "--socket", socket.toString(), "--agent-user", AGENT, "--data", data.toString(),
                "--privileged-root", priv.toString(), "--unit-dir", sandbox.unitDir().toString(),
                "--trust", trust.toString(), "--state", state.toString(), "--systemd-bus", sandbox.address(),
                "--read-timeout-millis", "1000", "--allow-rollback", ROLLBACK_OK)
                .redirectErrorStream(true).redirectOutput(updaterLog.toFile());
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", fakebin + ":/usr/bin:/bin");
        env.put("JAVA_TOOL_OPTIONS", "-javaagent:" + root.resolve("no-such-agent.jar"));   // would stop the JVM
        env.put("CLASSPATH", fakebin.toString());
        env.put("LD_LIBRARY_PATH", fakebin.toString());
        env.put("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=" + root.resolve("no-bus"));
        env.put("STEWARD_HOME", home.toString());
        // bash itself (hole #12, L-env-1..3): each would leave a marker, or steer the launcher
        Path rc = root.resolve("bash-env.sh");
        Files.writeString(rc, ": > " + markers.resolve("bash_env") + "\n");
        env.put("BASH_ENV", rc.toString());
        env.put("ENV", rc.toString());
        env.put("BASH_FUNC_dirname%%", "() { : > " + markers.resolve("function") + "; /usr/bin/dirname \"$@\"; }");
        env.put("BASH_FUNC_root_owned%%", "() { : > " + markers.resolve("function2") + "; }");
        env.put("SHELLOPTS", "xtrace");
        env.put("BASHOPTS", "extdebug");
        env.put("PS4", "$(: > " + markers.resolve("ps4") + ")");
        env.put("POSIXLY_CORRECT", "1");
        env.put("GLOBIGNORE", "*");
        env.put("IFS", "/");
        Path agentOwned = dir("agent-rt", "rwxr-xr-x");
        chown(agentOwned, Accounts.system().user(AGENT));
        env.put("CDPATH", agentOwned.toString());
        Files.createSymbolicLink(agentOwned.resolve("rt"), Path.of("/root"));
        env.put("RUNTIME_DIRECTORY", agentOwned.resolve("rt").toString());     // never read
        updater = pb.start();
        await("the updater listens on " + socket + "; its log:\n" + log(), () -> Files.exists(socket) && logHas("serving"));
        assertEquals("srw-rw----", mode(socket), "socket mode");
        assertEquals("drwx------", mode(root.resolve("rt")), "the JVM's temporary directory is --runtime-dir");
        assertFalse(log().lines().anyMatch(l -> l.startsWith("+")), "SHELLOPTS=xtrace did not reach the launcher:\n" + log());
        assertNoFakeToolRan();
    }

    private static boolean logHas(String text) {
        try {
            return Files.readString(updaterLog).contains(text);
        } catch (IOException e) {
            return false;
        }
    }

    private static String log() {
        try {
            return Files.readString(updaterLog);
        } catch (IOException e) {
            return "(no log)";
        }
    }

    // ---- the agent child -------------------------------------------------------------------------------------

    /** An {@link AgentDriver} in a child JVM under setpriv. */
    private static final class Agent implements AutoCloseable {
        private final Process process;
        private final OutputStream in;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        private final Path log;

        private Agent(Process process, Path log) {
            this.process = process;
            this.in = process.getOutputStream();
            this.log = log;
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    // the child is gone
                }
            }, "agent-reader");
            reader.setDaemon(true);
            reader.start();
        }

        static Agent start(String user, String group, Path socket) throws Exception {
            Path log = root.resolve("agent-" + user + "-" + UUID.randomUUID().toString().substring(0, 6) + ".log");
            ProcessBuilder pb = new ProcessBuilder("setpriv", "--reuid", user, "--regid", group, "--clear-groups", "--",
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", agentClasspath(), AgentDriver.class.getName(),
                    sandbox.address(), data.toString(), agentEtc.toString(), agentEtc.resolve("trust").toString(),
                    sandbox.unitDir().toString(), priv.toString(), socket.toString())
                    .redirectError(log.toFile());
            Map<String, String> env = pb.environment();
            env.clear();
            env.put("PATH", fakebin + ":/usr/bin:/bin");     // the fakes come first: never run
            env.put("LANG", "C.UTF-8");
            env.put("HOME", "/nonexistent");
            Agent a = new Agent(pb.start(), log);
            JsonObject ready = a.next();
            assertTrue(ready.get("ok").getAsBoolean(), ready.toString());
            return a;
        }

        JsonObject send(JsonObject command) throws Exception {
            in.write((command + "\n").getBytes(StandardCharsets.UTF_8));
            in.flush();
            return next();
        }

        private JsonObject next() throws Exception {
            String line = lines.poll(180, TimeUnit.SECONDS);
            if (line == null) {
                throw new AssertionError("the agent child did not answer; its log:\n" + Files.readString(log)
                        + "\nthe updater's log:\n" + log());
            }
            return JsonParser.parseString(line).getAsJsonObject();
        }

        @Override
        public void close() throws Exception {
            in.close();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    // ---- artifacts -----------------------------------------------------------------------------------------

    /** A signed artifact in the repository: what an assignment names. */
    private record Published(String id, String version, String kind, Path file, String sha256, String signature) {
        JsonObject command(String cmd) {
            JsonObject c = new JsonObject();
            c.addProperty("cmd", cmd);
            c.addProperty("id", id);
            c.addProperty("version", version);
            c.addProperty("kind", kind);
            c.addProperty("url", file.toUri().toString());
            c.addProperty("sha256", sha256);
            c.addProperty("signature", signature);
            c.addProperty("binary", "run.sh");
            return c;
        }
    }

    private static Published publish(String id, String version, String kind, Map<String, String> files) throws Exception {
        List<String> units = files.keySet().stream().filter(n -> n.endsWith(".service") || n.endsWith(".timer")).sorted()
                .toList();
        return publish(id, version, kind, files, units, List.of());
    }

    /** An artifact whose manifest declares {@code units} and {@code capabilities}. */
    private static Published publish(String id, String version, String kind, Map<String, String> files,
                                     List<String> units, List<String> capabilities) throws Exception {
        ByteArrayOutputStream tgz = new ByteArrayOutputStream();
        Map<String, String> all = new LinkedHashMap<>();
        com.google.gson.Gson gson = new com.google.gson.Gson();
        all.put("addon.json", "{\"id\":\"" + id + "\",\"version\":\"" + version + "\",\"supervision\":\"" + kind
                + "\",\"binary\":\"run.sh\",\"units\":" + gson.toJson(units) + ",\"capabilities\":"
                + gson.toJson(capabilities) + "}");
        all.putAll(files);
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GZIPOutputStream(tgz), "UTF-8")) {
            for (Map.Entry<String, String> f : all.entrySet()) {
                byte[] bytes = f.getValue().getBytes(StandardCharsets.UTF_8);
                TarArchiveEntry e = new TarArchiveEntry(f.getKey(), true);
                e.setSize(bytes.length);
                e.setMode(f.getKey().endsWith(".sh") ? 0755 : 0644);
                tar.putArchiveEntry(e);
                tar.write(bytes);
                tar.closeArchiveEntry();
            }
        }
        byte[] bytes = tgz.toByteArray();
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        Path file = repo.resolve(id + "-" + version + ".tar.gz");
        Files.write(file, bytes);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        Signature s = Signature.getInstance("Ed25519");
        s.initSign(key.getPrivate());
        s.update(("steward-artifact-v1\n" + id + "\n" + version + "\n" + sha + "\n").getBytes(StandardCharsets.UTF_8));
        return new Published(id, version, kind, file, sha, Base64.getEncoder().encodeToString(s.sign()));
    }

    private static String service(String description) {
        return "[Unit]\nDescription=" + description + "\n[Service]\nExecStart=@ADDON_HOME@/run.sh\n"
                + "[Install]\nWantedBy=multi-user.target\n";
    }

    private static final String RUNS = "#!/bin/sh\nexec sleep 600\n";

    private static String newId() {
        return "u" + UUID.randomUUID().toString().substring(0, 8);
    }

    // ---- host state ------------------------------------------------------------------------------------------

    /** The unit directory, the privileged tree and the ledger: path → type, owner, mode and content digest. */
    private static Map<String, String> host() throws Exception {
        Map<String, String> out = new TreeMap<>();
        for (Path top : List.of(sandbox.unitDir(), priv, state)) {
            try (Stream<Path> s = Files.walk(top)) {
                for (Path p : s.toList()) {
                    String what;
                    if (Files.isSymbolicLink(p)) {
                        what = "link:" + Files.readSymbolicLink(p);
                    } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                        what = "dir:" + mode(p);
                    } else {
                        what = "file:" + mode(p) + ":" + Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS) + ":"
                                + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
                    }
                    out.put(p.toString(), what);
                }
            }
        }
        return out;
    }

    private static String ledger() throws IOException {
        return Files.readString(state.resolve(Ledger.FILE));
    }

    /** The units the ledger records for {@code id} (none when it has no entry). */
    private static List<String> ledgerUnits(String id) throws IOException {
        JsonObject addons = JsonParser.parseString(ledger()).getAsJsonObject().getAsJsonObject("addons");
        if (!addons.has(id)) {
            return List.of();
        }
        return addons.getAsJsonObject(id).getAsJsonArray("units").asList().stream().map(e -> e.getAsString()).toList();
    }

    private static void assertRefused(JsonObject answer, String expected) {
        assertFalse(answer.get("ok").getAsBoolean(), answer.toString());
        String error = answer.has("error") ? answer.get("error").getAsString() : answer.toString();
        assertTrue(error.contains(expected), "expected \"" + expected + "\" in: " + error);
    }

    private static void assertRawRefused(JsonObject answer, String code, String disposition) {
        assertTrue(answer.get("ok").getAsBoolean(), answer.toString());
        JsonObject a = answer.getAsJsonObject("answer");
        assertFalse(a.get("ok").getAsBoolean(), a.toString());
        assertEquals(code, a.getAsJsonObject("error").get("code").getAsString(), a.toString());
        assertEquals(disposition, a.getAsJsonObject("error").get("disposition").getAsString(), a.toString());
    }

    private static void assertNoFakeToolRan() throws IOException {
        try (Stream<Path> s = Files.list(markers)) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).toList(),
                    "a program was resolved through a caller's PATH");
        }
    }

    private static JsonArray steps(JsonObject... commands) {
        JsonArray a = new JsonArray();
        for (JsonObject c : commands) {
            a.add(c);
        }
        return a;
    }

    private static JsonObject raw(String line) {
        JsonObject c = new JsonObject();
        c.addProperty("cmd", "raw");
        c.addProperty("line", line);
        return c;
    }

    private static JsonObject cmd(String cmd, Object... pairs) {
        JsonObject c = new JsonObject();
        c.addProperty("cmd", cmd);
        for (int i = 0; i < pairs.length; i += 2) {
            Object v = pairs[i + 1];
            if (v instanceof List<?> list) {
                JsonArray a = new JsonArray();
                list.forEach(x -> a.add(String.valueOf(x)));
                c.add((String) pairs[i], a);
            } else if (v instanceof Boolean b) {
                c.addProperty((String) pairs[i], b);
            } else {
                c.addProperty((String) pairs[i], String.valueOf(v));
            }
        }
        return c;
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        Instant deadline = Instant.now().plusSeconds(60);
        while (!condition.getAsBoolean()) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(50);     // polling a condition with a deadline, not a fixed wait
        }
    }

    private static Path dir(String name, String mode) throws IOException {
        Path p = Files.createDirectories(root.resolve(name));
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        return p;
    }

    private static void chown(Path p, Accounts.User user) throws IOException {
        Files.setAttribute(p, "unix:uid", (int) user.uid(), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", (int) user.gid(), LinkOption.NOFOLLOW_LINKS);
    }

    private static void addMode(Path p, String others) throws IOException {
        var perms = Files.getPosixFilePermissions(p);
        if (others.charAt(0) == 'r') {
            perms.add(java.nio.file.attribute.PosixFilePermission.OTHERS_READ);
        }
        perms.add(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE);
        Files.setPosixFilePermissions(p, perms);
    }

    private static String mode(Path p) throws IOException {
        String type = Files.isSymbolicLink(p) ? "l" : Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "d"
                : Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) ? "-" : "s";
        return type + PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    private Path unit(String name) {
        return sandbox.unitDir().resolve(name);
    }

    private Path artifactFile(Published p) {
        return data.resolve("addons").resolve(p.id()).resolve("artifacts").resolve(p.sha256() + ".tar.gz");
    }

    // ---- the lifecycles -------------------------------------------------------------------------------------------

    @Test
    void aServiceIsInstalledUpgradedAndRemovedThroughTheUpdater() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        Published v1 = publish(id, "1.0", "systemd_service", Map.of(name, service("v1"), "run.sh", RUNS));
        Published v2 = publish(id, "2.0", "systemd_service", Map.of(name, service("v2"), "run.sh", RUNS, "extra", "2"));

        JsonObject s1 = agent.send(v1.command("apply"));
        assertTrue(s1.get("ok").getAsBoolean(), s1.toString());
        assertEquals("READY", s1.get("state").getAsString(), s1.toString());
        assertEquals("1.0", s1.get("version").getAsString());
        UnitState u1 = systemd.unit(name);
        assertEquals(ActiveState.ACTIVE, u1.activeState());
        assertTrue(u1.enabled());
        Path privCurrent = priv.resolve(id).resolve("current");
        assertTrue(Files.readString(unit(name)).contains("ExecStart=" + priv.resolve(id).resolve("versions")
                .resolve(v1.sha256()) + "/run.sh"), Files.readString(unit(name)));     // the immutable copy, not current
        assertEquals(priv.resolve(id).resolve("versions").resolve(v1.sha256()), privCurrent.toRealPath());
        assertEquals(0, Files.getAttribute(privCurrent.resolve("run.sh"), "unix:uid"), "the copy units run is root's");
        assertTrue(Files.isRegularFile(artifactFile(v1)), "the agent kept the verified artifact at the fixed path");
        assertEquals(List.of(name), ledgerUnits(id), ledger());

        JsonObject s2 = agent.send(v2.command("apply"));
        assertEquals("READY", s2.get("state").getAsString(), s2.toString());
        assertEquals("2.0", s2.get("version").getAsString());
        UnitState u2 = systemd.unit(name);
        assertNotEquals(u1.mainPid(), u2.mainPid(), "restarted on the new version");
        assertTrue(Files.readString(unit(name)).contains("Description=v2"));
        assertEquals("2", Files.readString(privCurrent.resolve("extra")));
        assertEquals(priv.resolve(id).resolve("versions").resolve(v2.sha256()), privCurrent.toRealPath());

        JsonObject removed = agent.send(v2.command("remove"));
        assertTrue(removed.get("ok").getAsBoolean(), removed.toString());
        assertFalse(Files.exists(unit(name)));
        assertEquals("not-found", systemd.unit(name).loadState());
        assertFalse(Files.exists(priv.resolve(id)), "the root-owned copy is gone with the add-on");
        assertEquals(List.of(), ledgerUnits(id), ledger());
    }

    @Test
    void aTimerIsInstalledUpgradedAndRemovedThroughTheUpdater() throws Exception {
        String id = newId();
        String timer = "steward-" + id + ".timer";
        String svc = "steward-" + id + ".service";
        String timerText = "[Timer]\nOnCalendar=*-*-* 03:00:00\n[Install]\nWantedBy=timers.target\n";
        String svcText = "[Service]\nType=oneshot\nExecStart=@ADDON_HOME@/run.sh\n";
        Published v1 = publish(id, "1", "systemd_timer", Map.of(timer, timerText, svc, svcText, "run.sh", "#!/bin/sh\nexit 0\n"));
        Published v2 = publish(id, "2", "systemd_timer", Map.of(timer, timerText.replace("03:00", "04:00"), svc, svcText,
                "run.sh", "#!/bin/sh\nexit 0\n"));

        JsonObject s1 = agent.send(v1.command("apply"));
        assertEquals("READY", s1.get("state").getAsString(), s1.toString());
        UnitState t1 = systemd.unit(timer);
        assertTrue(t1.active() && t1.enabled(), t1.describe());
        assertTrue(t1.nextElapse().isPresent(), "scheduled");
        assertEquals(List.of(svc, timer), ledgerUnits(id), ledger());

        JsonObject s2 = agent.send(v2.command("apply"));
        assertEquals("READY", s2.get("state").getAsString(), s2.toString());
        assertEquals("2", s2.get("version").getAsString());
        assertTrue(Files.readString(unit(timer)).contains("04:00"));
        assertTrue(systemd.unit(timer).active());

        assertTrue(agent.send(v2.command("remove")).get("ok").getAsBoolean());
        assertFalse(Files.exists(unit(timer)));
        assertFalse(Files.exists(unit(svc)));
        assertEquals("not-found", systemd.unit(timer).loadState());
        assertFalse(Files.exists(priv.resolve(id)));
        assertEquals(List.of(), ledgerUnits(id), ledger());
    }

    @Test
    void capabilitiesAreGrantedOnTheRootOwnedCopyOnly() throws Exception {
        String id = newId();
        Published p = publish(id, "1.0", "sidecar", Map.of("run.sh", RUNS, "tools/cat", RUNS), List.of(),
                List.of("cap_net_raw"));
        Map<String, String> before = host();
        // bound to the signed manifest: its binary, its capabilities (hole #4, R12b, R12j)
        JsonObject notTheBinary = p.command("grant");
        notTheBinary.addProperty("grant_binary", "tools/cat");
        notTheBinary.add("caps", JsonParser.parseString("[\"cap_net_raw\"]"));
        assertRefused(agent.send(notTheBinary), "add-on " + id + ": capabilities refused: tools/cat is not the "
                + "manifest's binary (run.sh)");
        assertEquals(before, host(), "nothing granted, no copy left");
        JsonObject manifestFile = notTheBinary.deepCopy();
        manifestFile.addProperty("grant_binary", "addon.json");
        assertRefused(agent.send(manifestFile), "addon.json is not the manifest's binary");
        JsonObject undeclared = p.command("grant");
        undeclared.add("caps", JsonParser.parseString("[\"cap_net_raw\",\"cap_dac_read_search\"]"));
        assertRefused(agent.send(undeclared), "capabilities refused: cap_dac_read_search is not among the manifest's "
                + "capabilities [cap_net_raw]");
        assertEquals(before, host());
        String other = newId();
        Published service = publish(other, "1.0", "systemd_service", Map.of("run.sh", RUNS), List.of(),
                List.of("cap_net_raw"));
        JsonObject wrongKind = service.command("grant");
        wrongKind.add("caps", JsonParser.parseString("[\"cap_net_raw\"]"));
        assertRefused(agent.send(wrongKind), "the manifest's supervision systemd_service does not use capabilities");
        assertEquals(before, host(), "nothing of either add-on under the privileged root");

        JsonObject outside = p.command("grant");
        outside.addProperty("binary", "run.sh");
        outside.add("caps", JsonParser.parseString("[\"cap_sys_admin\"]"));
        assertRefused(agent.send(outside), "outside the allowed set");
        assertEquals(before, host(), "a capability outside the allowlist changes nothing");

        JsonObject grant = p.command("grant");
        grant.add("caps", JsonParser.parseString("[\"cap_net_raw\"]"));
        JsonObject granted = agent.send(grant);
        assertTrue(granted.get("ok").getAsBoolean(), granted.toString());
        Path program = Path.of(granted.get("path").getAsString());
        assertEquals(priv.resolve(id).resolve("versions").resolve(p.sha256()).resolve("run.sh"), program);
        assertEquals(0, Files.getAttribute(program, "unix:uid"));
        assertEquals("-rwxr-x---", mode(program), "a capability-bearing file no other local user can execute");
        assertEquals((int) Accounts.system().user(AGENT).gid(), Files.getAttribute(program, "unix:gid"),
                "the agent's group (--agent-group) executes it");
        String getcap = run("/usr/sbin/getcap", program.toString());
        assertTrue(getcap.contains("cap_net_raw") && getcap.contains("ep"), getcap);
        Path staged = data.resolve("addons").resolve(id).resolve("versions/1.0/run.sh");
        assertEquals("", run("/usr/sbin/getcap", staged.toString()).trim(), "the agent's own copy gets nothing");

        assertTrue(agent.send(cmd("release", "id", id)).get("ok").getAsBoolean());
        assertFalse(Files.exists(priv.resolve(id)));
        assertTrue(agent.send(cmd("release", "id", id)).get("ok").getAsBoolean(), "release is idempotent");

        // materialize alone: re-verified from the kept artifact, current swapped to the root-owned copy
        JsonObject m = agent.send(raw("{\"protocol\":1,\"op\":\"materialize\",\"id\":\"" + id + "\",\"version\":"
                + "\"1.0\",\"sha256\":\"" + p.sha256() + "\",\"signature\":\"" + p.signature() + "\"}"))
                .getAsJsonObject("answer");
        assertTrue(m.get("ok").getAsBoolean(), m.toString());
        assertEquals(priv.resolve(id).resolve("versions").resolve(p.sha256()).toString(), m.get("directory").getAsString());
        assertEquals(Path.of(m.get("directory").getAsString()), priv.resolve(id).resolve("current").toRealPath());
        assertTrue(agent.send(cmd("release", "id", id)).get("ok").getAsBoolean());
        assertFalse(Files.exists(priv.resolve(id)));
    }

    // ---- refusals: nothing changes -------------------------------------------------------------------------------

    @Test
    void uninstallingAForeignUnitIsRefusedAndChangesNothing() throws Exception {
        String id = newId();
        Files.writeString(unit("ssh.service"), "[Service]\nExecStart=/bin/true\n");
        Path byHand = unit("steward-" + id + "-byhand.service");
        Files.writeString(byHand, "[Service]\nExecStart=/bin/true\n");
        try {
            Map<String, String> before = host();
            assertRefused(agent.send(cmd("uninstall", "id", id, "units", List.of("steward-" + id + ".service",
                    "ssh.service"), "release", false)), "ssh.service\" is outside the convention");
            assertRefused(agent.send(cmd("uninstall", "id", id, "units", List.of("steward-other.service"),
                    "release", false)), "outside the convention");
            assertEquals(before, host());
            // in the convention but not installed by the updater: skipped, not touched
            JsonObject skipped = agent.send(cmd("uninstall", "id", id, "units", List.of(byHand.getFileName().toString()),
                    "release", true));
            assertTrue(skipped.get("ok").getAsBoolean(), skipped.toString());
            assertEquals(before, host());
        } finally {
            Files.deleteIfExists(unit("ssh.service"));
            Files.deleteIfExists(byHand);
        }
    }

    @Test
    void installingAUnitOutsideTheConventionIsRefusedAndChangesNothing() throws Exception {
        String id = newId();
        Published p = publish(id, "1.0", "systemd_service", Map.of("steward-" + id + ".service", service("ok"),
                "evil.service", service("evil"), "run.sh", RUNS));
        assertTrue(agent.send(p.command("stage")).get("ok").getAsBoolean());
        Map<String, String> before = host();
        JsonObject install = p.command("install");
        install.add("units", JsonParser.parseString("[\"evil.service\"]"));
        install.addProperty("primary", "evil.service");
        assertRefused(agent.send(install), "\"evil.service\" is outside the convention");
        String request = "{\"protocol\":1,\"op\":\"install_units\",\"id\":\"" + id + "\",\"version\":\"1.0\",\"sha256\":\""
                + p.sha256() + "\",\"signature\":\"" + p.signature() + "\",\"units\":[\"steward-" + id
                + ".service\",\"ssh.service\"],\"primary\":\"steward-" + id + ".service\",\"resources\":{},"
                + "\"restart\":false,\"job_timeout_ms\":30000}";
        assertRawRefused(agent.send(raw(request)), "refused", "permanent");
        assertEquals(before, host());
    }

    @Test
    void unitBytesTamperedInTheAgentsTreeAreNotWhatGetsInstalled() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        Published p = publish(id, "1.0", "systemd_service", Map.of(name, service("verified"), "run.sh", RUNS));
        JsonObject staged = agent.send(p.command("stage"));
        Path dir = Path.of(staged.get("directory").getAsString());
        JsonObject install = p.command("install");
        install.add("units", JsonParser.parseString("[\"" + name + "\"]"));
        install.addProperty("primary", name);
        // after the agent's verification, its own tree is changed (by the agent, or whoever got its uid)
        JsonObject tampered = install.deepCopy();
        tampered.add("after_stage", steps(
                cmd("write", "path", dir.resolve(name), "content",
                        "[Service]\nDescription=TAMPERED\nExecStart=/usr/bin/touch /tmp/pwned\n"),
                cmd("write", "path", dir.resolve("run.sh"), "content", "#!/bin/sh\ntouch /tmp/pwned\n")));
        JsonObject done = agent.send(tampered);
        assertTrue(done.get("ok").getAsBoolean(), done.toString());
        String installed = Files.readString(unit(name));
        assertTrue(installed.contains("Description=verified") && !installed.contains("TAMPERED"), installed);
        assertEquals(RUNS, Files.readString(priv.resolve(id).resolve("current/run.sh")), "the verified program");
        assertTrue(agent.send(cmd("uninstall", "id", id, "units", List.of(name), "release", true)).get("ok").getAsBoolean());
        assertFalse(Files.exists(unit(name)));
        assertFalse(Files.exists(priv.resolve(id)));

        // the kept artifact itself changed: its digest no longer matches, refused, nothing changed
        Map<String, String> before = host();
        JsonObject changedArtifact = install.deepCopy();
        changedArtifact.add("after_stage", steps(cmd("append", "path", artifactFile(p))));
        assertRefused(agent.send(changedArtifact), "digest mismatch");
        assertEquals(before, host());
    }

    @Test
    void aSymlinkSwappedIntoTheStagingPathIsNotFollowed() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        Published p = publish(id, "1.0", "systemd_service", Map.of(name, service("x"), "run.sh", RUNS));
        assertTrue(agent.send(p.command("stage")).get("ok").getAsBoolean());
        JsonObject install = p.command("install");
        install.add("units", JsonParser.parseString("[\"" + name + "\"]"));
        install.addProperty("primary", name);
        Map<String, String> before = host();

        // the file, swapped after the agent's check for a link to the very same (valid) bytes: still refused
        Path file = artifactFile(p);
        JsonObject fileSwapped = install.deepCopy();
        fileSwapped.add("after_stage", steps(cmd("symlink", "link", file, "target", p.file())));
        assertRefused(agent.send(fileSwapped), "does not follow links");
        assertEquals(before, host());
        assertTrue(agent.send(cmd("undo-symlink", "link", file)).get("ok").getAsBoolean());

        // a directory on the way: artifacts/ swapped for a link to a directory holding the same file
        Path elsewhere = data.resolve("elsewhere-" + id);
        assertTrue(agent.send(cmd("mkdir", "path", elsewhere)).get("ok").getAsBoolean());
        assertTrue(agent.send(cmd("copy", "from", file, "to", elsewhere.resolve(file.getFileName()))).get("ok").getAsBoolean());
        JsonObject dirSwapped = install.deepCopy();
        dirSwapped.add("after_stage", steps(cmd("symlink", "link", file.getParent(), "target", elsewhere)));
        assertRefused(agent.send(dirSwapped), "without following links");
        assertEquals(before, host());
        assertTrue(agent.send(cmd("undo-symlink", "link", file.getParent())).get("ok").getAsBoolean());

        // put back, the same request goes through
        JsonObject done = agent.send(install);
        assertTrue(done.get("ok").getAsBoolean(), done.toString());
        assertTrue(agent.send(cmd("uninstall", "id", id, "units", List.of(name), "release", true)).get("ok").getAsBoolean());
    }

    @Test
    void aPeerThatIsNotTheAgentIsRefused() throws Exception {
        Map<String, String> before = host();
        // root itself (this JVM): not the agent
        SupervisionException root = org.junit.jupiter.api.Assertions.assertThrows(SupervisionException.class,
                () -> new UpdaterClient(socket).release(new io.steward.supervision.AddonId("x")));
        assertTrue(root.getMessage().contains("refuses this agent") && root.getMessage().contains("uid 0"), root.getMessage());
        // another uid that has the agent's group (so the socket's mode lets it connect)
        try (Agent nobody = Agent.start("nobody", AGENT, socket)) {
            assertRawRefused(nobody.send(raw("{\"protocol\":1,\"op\":\"release\",\"id\":\"x\"}")), "forbidden",
                    "transient");
        }
        assertTrue(log().contains("Refused a connection from uid 65534"), log());
        assertEquals(before, host());
    }

    @Test
    void oversizedMalformedAndTraversingRequestsAreRefused() throws Exception {
        Map<String, String> before = host();
        JsonObject big = raw("x");
        big.addProperty("repeat", 100_000);
        assertRawRefused(agent.send(big), "request_too_large", "permanent");
        JsonObject slow = raw("{\"protocol\":1,");
        slow.addProperty("hold", true);
        assertRawRefused(agent.send(slow), "read_timeout", "transient");
        assertRawRefused(agent.send(raw("not json")), "malformed_request", "permanent");
        assertRawRefused(agent.send(raw("[1,2]")), "malformed_request", "permanent");
        assertRawRefused(agent.send(raw("{\"op\":\"version\"}")), "malformed_request", "permanent");
        assertRawRefused(agent.send(raw("{\"protocol\":1,\"op\":\"release\",\"id\":5}")), "malformed_request", "permanent");
        assertRawRefused(agent.send(raw("{\"protocol\":1,\"op\":\"release\",\"id\":\"x\",\"path\":\"/etc\"}")),
                "malformed_request", "permanent");
        assertRawRefused(agent.send(raw("{\"protocol\":1,\"op\":\"chmod\"}")), "unknown_op", "transient");
        assertRawRefused(agent.send(raw("{\"protocol\":2,\"op\":\"version\"}")), "unsupported_protocol", "transient");
        String sha = "a".repeat(64);
        for (String id : List.of("..", "../x", "x/../../etc", "")) {
            assertRawRefused(agent.send(raw("{\"protocol\":1,\"op\":\"release\",\"id\":\"" + id + "\"}")),
                    "invalid_argument", "permanent");
            assertRawRefused(agent.send(raw("{\"protocol\":1,\"op\":\"materialize\",\"id\":\"" + id + "\",\"version\":"
                    + "\"1\",\"sha256\":\"" + sha + "\",\"signature\":\"\"}")), "invalid_argument", "permanent");
        }
        assertRawRefused(agent.send(raw("{\"protocol\":1,\"op\":\"materialize\",\"id\":\"x\",\"version\":\"../1\","
                + "\"sha256\":\"" + sha + "\",\"signature\":\"\"}")), "invalid_argument", "permanent");
        assertRawRefused(agent.send(raw("{\"protocol\":1,\"op\":\"materialize\",\"id\":\"x\",\"version\":\"1\","
                + "\"sha256\":\"../../etc/shadow\",\"signature\":\"\"}")), "invalid_argument", "permanent");
        assertEquals(before, host());
        // still serving
        assertTrue(agent.send(raw("{\"protocol\":1,\"op\":\"version\"}")).getAsJsonObject("answer").get("ok").getAsBoolean());
    }

    @Test
    void aMissingUpdaterFailsTheAddOnTransientlyAndInstallsNothing() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        Published p = publish(id, "1.0", "systemd_service", Map.of(name, service("x"), "run.sh", RUNS));
        Map<String, String> before = host();
        assertTrue(agent.send(cmd("socket", "path", root.resolve("run/absent.sock"))).get("ok").getAsBoolean());
        try {
            JsonObject failed = agent.send(p.command("apply"));
            assertFalse(failed.get("ok").getAsBoolean(), failed.toString());
            assertEquals("TRANSIENT", failed.get("disposition").getAsString(), failed.toString());
            assertTrue(failed.get("error").getAsString().contains("start steward-updater.socket"), failed.toString());
        } finally {
            assertTrue(agent.send(cmd("socket", "path", socket)).get("ok").getAsBoolean());
        }
        assertEquals(before, host());
        Path home = data.resolve("addons").resolve(id);
        assertFalse(Files.exists(home.resolve("current"), LinkOption.NOFOLLOW_LINKS), "rolled back: not half-installed");
        assertFalse(Files.exists(home.resolve("versions")), "the first install left no version behind");
        assertFalse(Files.exists(data.resolve("state/systemd").resolve(id + ".json")), "no unit record");
    }

    @Test
    void theUpdaterRefusesAnEnvironmentItDidNotSet() throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                home.resolve("lib/updater") + "/*", Main.class.getName(), "--help-is-not-an-option");
        pb.environment().put("FOO", "bar");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("refusing to start with environment variable(s)") && out.contains("FOO"), out);
    }

    // ---- bound to the signed manifest, anti-rollback, units the updater does not own, signature first -----------

    @Test
    void onlyUnitsTheManifestListsAreInstalledAndOnlyForTheSystemdKinds() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        String data = "steward-" + id + "-data.service";
        Published p = publish(id, "1.0", "systemd_service", Map.of(name, service("ok"), data, service("data"),
                "run.sh", RUNS), List.of(name), List.of());
        assertTrue(agent.send(p.command("stage")).get("ok").getAsBoolean());
        Map<String, String> before = host();
        JsonObject undeclared = p.command("install");
        undeclared.add("units", JsonParser.parseString("[\"" + name + "\",\"" + data + "\"]"));
        undeclared.addProperty("primary", name);
        assertRefused(agent.send(undeclared), "add-on " + id + ": install_units refused: " + data + " is not among the "
                + "manifest's units [" + name + "]");
        assertEquals(before, host());

        String sid = newId();     // R15: a sidecar artifact that carries a convention-named unit file
        String sname = "steward-" + sid + ".service";
        Published sidecar = publish(sid, "1.0", "sidecar", Map.of(sname, service("s"), "run.sh", RUNS), List.of(sname),
                List.of());
        assertTrue(agent.send(sidecar.command("stage")).get("ok").getAsBoolean());
        JsonObject fromSidecar = sidecar.command("install");
        fromSidecar.add("units", JsonParser.parseString("[\"" + sname + "\"]"));
        fromSidecar.addProperty("primary", sname);
        assertRefused(agent.send(fromSidecar), "install_units refused: the manifest's supervision sidecar installs no units");
        assertEquals(before, host());
        assertFalse(Files.exists(unit(sname)));
    }

    @Test
    void anOlderVersionIsRefusedUnlessTheOperatorAllowsTheRollback() throws Exception {
        for (String id : List.of(newId(), ROLLBACK_OK)) {
            String name = "steward-" + id + ".service";
            Published v1 = publish(id, "1.0.0", "systemd_service", Map.of(name, service("v1"), "run.sh", RUNS));
            Published v2 = publish(id, "2.0.0", "systemd_service", Map.of(name, service("v2"), "run.sh", RUNS));
            JsonObject s2 = agent.send(v2.command("apply"));
            assertEquals("READY", s2.get("state").getAsString(), s2.toString());
            // a failed upgrade is restored inside its request and never raises the floor: v2 stays installable
            Published v3 = publish(id, "3.0.0", "systemd_service", Map.of(name, service("v3"), "run.sh",
                    "#!/bin/sh\nexit 1\n"));
            JsonObject s3 = agent.send(v3.command("apply"));
            assertFalse(s3.get("ok").getAsBoolean() && "READY".equals(s3.get("state").getAsString()), s3.toString());
            assertTrue(Files.readString(unit(name)).contains("Description=v2"), "restored");
            assertEquals("2.0.0", JsonParser.parseString(ledger()).getAsJsonObject().getAsJsonObject("addons")
                    .getAsJsonObject(id).get("highest").getAsString(), ledger());
            assertEquals("READY", agent.send(v2.command("apply")).get("state").getAsString(), "v2 again: not a rollback");
            Map<String, String> before = host();
            JsonObject s1 = agent.send(v1.command("apply"));
            if (id.equals(ROLLBACK_OK)) {
                assertEquals("READY", s1.get("state").getAsString(), s1.toString());
                assertTrue(Files.readString(unit(name)).contains("Description=v1"), "rolled back by the operator's leave");
            } else {
                assertRefused(s1, "add-on " + id + ": install_units refused: version 1.0.0 is older than 2.0.0, which the "
                        + "updater installed before; an operator allows a rollback with --allow-rollback " + id);
                assertEquals("PERMANENT", s1.get("disposition").getAsString(), s1.toString());
                assertEquals(before, host(), "the unit, the copy and the ledger are v2's");
                assertTrue(Files.readString(unit(name)).contains("Description=v2"));
                assertEquals(ActiveState.ACTIVE, systemd.unit(name).activeState(), "v2 keeps running");
            }
            assertTrue(agent.send(v2.command("remove")).get("ok").getAsBoolean());
            assertFalse(Files.exists(unit(name)));
        }

        // the same floor for grant_capabilities (a sidecar), kept after the add-on's copy is released
        String id = newId();
        Published c1 = publish(id, "1.9", "sidecar", Map.of("run.sh", RUNS), List.of(), List.of("cap_net_raw"));
        Published c2 = publish(id, "1.10", "sidecar", Map.of("run.sh", RUNS), List.of(), List.of("cap_net_raw"));
        JsonObject g2 = c2.command("grant");
        g2.add("caps", JsonParser.parseString("[\"cap_net_raw\"]"));
        assertTrue(agent.send(g2).get("ok").getAsBoolean());
        assertTrue(agent.send(cmd("release", "id", id)).get("ok").getAsBoolean());
        Map<String, String> before = host();
        JsonObject g1 = c1.command("grant");
        g1.add("caps", JsonParser.parseString("[\"cap_net_raw\"]"));
        assertRefused(agent.send(g1), "grant_capabilities refused: version 1.9 is older than 1.10");
        assertEquals(before, host());
    }

    @Test
    void aUnitFileTheUpdaterDidNotWriteIsNeverOverwritten() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        Published v1 = publish(id, "1", "systemd_service", Map.of(name, service("v1"), "run.sh", RUNS));
        Published v2 = publish(id, "2", "systemd_service", Map.of(name, service("v2"), "run.sh", RUNS));
        String operators = "[Service]\nExecStart=/bin/true\n";
        Files.writeString(unit(name), operators);     // N05: e.g. the operator's own steward-updater.service
        try {
            Map<String, String> before = host();
            JsonObject refused = agent.send(v1.command("apply"));
            assertRefused(refused, "add-on " + id + ": install_units refused: " + unit(name) + " exists and the updater "
                    + "did not install it");
            assertEquals(before, host());
            assertEquals(operators, Files.readString(unit(name)));
            Files.delete(unit(name));
            Files.createSymbolicLink(unit(name), Path.of("/dev/null"));     // a link (a masked unit) likewise
            before = host();
            assertRefused(agent.send(v1.command("apply")), "did not install it");
            assertEquals(before, host());
        } finally {
            Files.deleteIfExists(unit(name));
        }

        // written by the updater, then changed outside Steward: neither overwritten nor deleted
        assertEquals("READY", agent.send(v1.command("apply")).get("state").getAsString());
        String written = Files.readString(unit(name));
        Files.writeString(unit(name), written + "# edited by hand\n");
        Map<String, String> before = host();
        assertRefused(agent.send(v2.command("apply")), unit(name) + " was changed outside Steward since the updater "
                + "wrote it");
        assertEquals(before, host());
        assertRefused(agent.send(v1.command("remove")), "uninstall_units refused: " + unit(name) + " was changed outside "
                + "Steward");
        assertEquals(before, host());
        Files.writeString(unit(name), written);     // the operator restores it
        assertTrue(agent.send(v1.command("remove")).get("ok").getAsBoolean());
        assertFalse(Files.exists(unit(name)));
    }

    @Test
    void aGzipBombWithAWrongSignatureIsRefusedBeforeAByteIsWritten() throws Exception {
        String id = newId();
        Path bomb = repo.resolve(id + "-bomb.tar.gz");
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GZIPOutputStream(
                Files.newOutputStream(bomb), 1 << 16), "UTF-8")) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            byte[] manifest = ("{\"id\":\"" + id + "\",\"version\":\"1\",\"supervision\":\"sidecar\","
                    + "\"binary\":\"zeros\"}").getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry m = new TarArchiveEntry("addon.json", true);
            m.setSize(manifest.length);
            tar.putArchiveEntry(m);
            tar.write(manifest);
            tar.closeArchiveEntry();
            long size = 300_000_000L;
            TarArchiveEntry z = new TarArchiveEntry("zeros", true);
            z.setSize(size);
            tar.putArchiveEntry(z);
            byte[] chunk = new byte[1 << 20];
            for (long left = size; left > 0; left -= chunk.length) {
                tar.write(chunk, 0, (int) Math.min(chunk.length, left));
            }
            tar.closeArchiveEntry();
        }
        Files.setPosixFilePermissions(bomb, PosixFilePermissions.fromString("rw-r--r--"));
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        try (var in = new java.security.DigestInputStream(Files.newInputStream(bomb), sha)) {
            in.transferTo(OutputStream.nullOutputStream());
        }
        String digest = HexFormat.of().formatHex(sha.digest());
        Path kept = data.resolve("addons").resolve(id).resolve("artifacts").resolve(digest + ".tar.gz");
        assertTrue(agent.send(cmd("mkdir", "path", kept.getParent())).get("ok").getAsBoolean());
        assertTrue(agent.send(cmd("copy", "from", bomb, "to", kept)).get("ok").getAsBoolean());
        Signature s = Signature.getInstance("Ed25519");
        s.initSign(key.getPrivate());
        s.update(("steward-artifact-v1\n" + id + "\n2\n" + digest + "\n").getBytes(StandardCharsets.UTF_8));
        String wrong = Base64.getEncoder().encodeToString(s.sign());     // a real signature, of another statement
        s.initSign(key.getPrivate());
        s.update(("steward-artifact-v1\n" + id + "\n1\n" + digest + "\n").getBytes(StandardCharsets.UTF_8));
        String right = Base64.getEncoder().encodeToString(s.sign());

        Map<String, String> before = host();
        String request = "{\"protocol\":1,\"op\":\"materialize\",\"id\":\"" + id + "\",\"version\":\"1\","
                + "\"sha256\":\"" + digest + "\",\"signature\":\"";
        JsonObject refused = agent.send(raw(request + wrong + "\"}"));
        assertRawRefused(refused, "refused", "permanent");
        assertTrue(refused.toString().contains("signature does not match"), refused.toString());
        assertEquals(before, host(), "nothing was written under the privileged root: no .verify-*, no versions/");
        assertFalse(Files.exists(priv.resolve(id), LinkOption.NOFOLLOW_LINKS));

        // validly signed, the bomb is still refused by the updater's own, lower limit; nothing is left behind
        JsonObject limited = agent.send(raw(request + right + "\"}"));
        assertRawRefused(limited, "refused", "permanent");
        assertTrue(limited.toString().contains("above the per-file limit of " + (256L << 20)), limited.toString());
        assertEquals(before, host(), "no .verify-*, no empty versions/ or <id>/");
        assertFalse(Files.exists(priv.resolve(id), LinkOption.NOFOLLOW_LINKS));
        Files.delete(bomb);
    }

    @Test
    void theLauncherRefusesARuntimeDirectoryTheAgentCouldSteer() throws Exception {
        Path agentOwned = dir("agent-rt2", "rwxr-xr-x");
        chown(agentOwned, Accounts.system().user(AGENT));
        Path link = root.resolve("rt-link");
        Files.createSymbolicLink(link, root.resolve("rt"));
        Path writable = dir("rt-writable", "rwxrwxr-x");
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put(agentOwned.resolve("rt").toString(), agentOwned + " (for " + agentOwned.resolve("rt") + ") is owned by uid");
        cases.put(link.toString(), link + " (for " + link + ") is a symbolic link");
        cases.put(link + "/x", link + " (for " + link + "/x) is a symbolic link");
        cases.put(writable.resolve("rt").toString(), writable + " (for " + writable.resolve("rt") + ") is writable by "
                + "group or others (mode 775)");
        cases.put("relative/rt", "--runtime-dir must be an absolute path");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/steward-updater").toString(), "--runtime-dir",
                    c.getKey(), "--socket", root.resolve("never.sock").toString()).redirectErrorStream(true);
            pb.environment().clear();
            pb.environment().put("BASH_ENV", root.resolve("bash-env.sh").toString());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(2, p.exitValue(), out);
            assertTrue(out.startsWith("steward-updater: ") && out.contains(c.getValue()), c.getKey() + ": " + out);
        }
        assertFalse(Files.exists(agentOwned.resolve("rt")), "nothing created through the agent's directory");
        assertFalse(Files.exists(writable.resolve("rt")));
        assertFalse(Files.exists(root.resolve("never.sock")));
    }

    private static String run(String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().clear();
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return out;
    }

}
