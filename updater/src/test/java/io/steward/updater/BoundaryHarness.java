package io.steward.updater;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.systemd.UnitState;
import io.steward.systemd.bus.DbusSystemdManager;
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
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/**
 * The privilege boundary as a fixture, for tests that attack it: a real systemd (the shared
 * {@link SystemdSandbox}), the real root updater started through {@code bin/steward-updater}, the agent side in a
 * child JVM as the user {@code steward} ({@link AgentDriver} under setpriv), signed artifacts kept where the
 * agent keeps them, the operator's own "victim" units, agent-written payloads in every place the agent can write
 * (as the sandboxed systemd sees them), and a snapshot of everything the boundary protects.
 * <p>
 * {@link #snapshot} covers: the unit directory (files with mode, owner and digest; symbolic links and their
 * targets; {@code *.wants/} directories), the sandbox's {@code /run/systemd/system}, both privileged roots (the
 * updater's and the in-process installer's) with their file capabilities, the updater's state (its ledger), the
 * victims as systemd sees them over D-Bus ({@code LoadState ActiveState SubState UnitFileState}, the active-enter
 * time and main PID), and the markers the payloads write when something runs them. Two snapshots are equal when
 * nothing the boundary protects changed.
 * <p>
 * {@link #startFromHostileCaller} is the same boundary without the corpus's world (no payloads, no victims), with the
 * updater started the way an attacker who controls its caller would start it.
 */
final class BoundaryHarness implements AutoCloseable {
    static final String AGENT = "steward";
    /** Short: a hostile unit whose start hangs must not hold a corpus (the agent's socket read times out at 30 s). */
    static final Duration JOB_TIMEOUT = Duration.ofSeconds(5);
    /** The operator's units: never to be started, stopped, enabled, disabled, replaced or shadowed by an add-on. */
    static final List<String> VICTIMS = List.of("victim-start.service", "victim-conflict.service",
            "victim-enabled.service", "victim-enable.service", "victim-aliased.service", "victim-alias-name.service",
            "victim-vendor.service", "steward-updater.service");
    /** Host files no case may change, whatever the policy accepts (watched in every snapshot). */
    static final List<String> HOST_FILES = List.of("/etc/shadow", "/etc/passwd", "/etc/group", "/etc/ld.so.preload",
            "/etc/ld.so.conf", "/var/lib/postgresql", "/var/cache/apt", "/etc/ssh", "/var/log");
    /** Files in every agent-writable place: the payloads. */
    static final List<String> PAYLOADS = List.of("evil", "evil.so", "libevil.so", "env", "rc", "helper", "true",
            "inc.conf", "sitecustomize.py", "json/__init__.py", "json/tool.py", "root/evil", "lib/evil.so");
    /** Programs a hostile caller puts first on the updater's and the agent's PATH: each leaves a marker when run. */
    static final List<String> FAKES = List.of("systemctl", "setcap", "getcap", "java", "env", "stat",
            "readlink", "dirname", "mkdir", "chcon", "busctl");

    final SystemdSandbox sandbox;
    final DbusSystemdManager systemd;
    final Accounts.User user;
    final String tok = "h" + UUID.randomUUID().toString().substring(0, 6);
    final Path root;
    final Path home;
    final Path trust;
    final Path agentEtc;
    final Path priv;
    final Path localPriv;
    final Path localSrc;
    final Path state;
    final Path data;
    final Path socket;
    final Path repo;
    final Path markers;
    final Path sandboxRoot;
    final KeyPair key;
    final KeyPair stranger;
    /** The fake tools' directory; null unless the caller is hostile. */
    private final Path fakebin;
    /** The one add-on id the updater allows to roll back ({@code --allow-rollback}); null for none. */
    private final String rollbackOk;
    /** Placeholder → a directory the agent can write (or reach through a link), as the sandboxed systemd sees it. */
    final Map<String, Path> places = new LinkedHashMap<>();
    private final List<Path> hostViews = new ArrayList<>();
    private Path classpath;
    private Process updater;
    private Path updaterLog;
    private Agent agent;
    private Map<String, byte[]> baselineUnitDir;
    private Map<String, byte[]> baselineRunDir;
    private boolean realPreload;
    private byte[] preload;
    private Map<String, byte[]> beforeUnitDir;
    private Map<String, byte[]> beforeRunDir;
    /** The corpus's world (payloads, victims) is in place: {@link #start}, not {@link #startFromHostileCaller}. */
    private boolean world;

    private BoundaryHarness(boolean hostileCaller, String rollbackOk) throws Exception {
        this.rollbackOk = rollbackOk;
        try {
            user = Accounts.system().user(AGENT);
        } catch (IOException e) {     // never skipped: a host without the user fails, with what to do
            throw new AssertionError("the boundary tests run the agent as the user " + AGENT + "; create it as .ci/run "
                    + "does (groupadd --system steward; useradd --system --gid steward steward): " + e.getMessage(), e);
        }
        sandbox = SystemdSandbox.shared();
        systemd = new DbusSystemdManager(sandbox.address(), Duration.ofSeconds(10));
        sandboxRoot = Path.of("/proc", Long.toString(sandbox.pid()), "root");
        root = sandbox.newDirectory("hb");
        for (Path p = root; p != null && !p.equals(Path.of("/tmp")) && !p.equals(Path.of("/")); p = p.getParent()) {
            addOthers(p, false);
        }
        addOthers(root, true);
        home = Files.createDirectories(root.resolve("home"));
        trust = dir("trust", "rwxr-xr-x");
        agentEtc = dir("agent-etc", "rwxr-xr-x");
        priv = dir("priv", "rwxr-xr-x");
        localPriv = dir("priv-local", "rwxr-xr-x");
        localSrc = dir("src-local", "rwxr-xr-x");
        state = dir("state", "rwx------");
        data = dir("data", "rwxr-x---");
        chown(data);
        Path run = dir("run", "rwxr-xr-x");
        socket = run.resolve("updater.sock");
        repo = dir("repo", "rwxr-xr-x");
        markers = dir("markers", "rwxrwxrwx");
        Files.setPosixFilePermissions(markers, PosixFilePermissions.fromString("rwxrwxrwx"));
        key = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        stranger = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        String pem = "-----BEGIN PUBLIC KEY-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(key.getPublic().getEncoded()) + "\n-----END PUBLIC KEY-----\n";
        Files.writeString(trust.resolve("it.pem"), pem);
        Files.createDirectories(agentEtc.resolve("trust"));
        Files.writeString(agentEtc.resolve("trust/it.pem"), pem);
        fakebin = hostileCaller ? fakeTools() : null;
    }

    /** Everything up: payloads, victims, the updater and the agent child. */
    static BoundaryHarness start() throws Exception {
        BoundaryHarness h = new BoundaryHarness(false, null);
        h.plantPlaces();
        h.installVictims();
        h.world = true;
        h.installDistribution();
        h.copyClasspath();
        h.startUpdater();
        h.agent = Agent.start(h, AGENT, AGENT);
        return h;
    }

    /**
     * The updater started through {@code bin/steward-updater} from a hostile environment (see
     * {@link #startHostileUpdater}), allowing {@code rollbackOk} to roll back, and the agent child with the fake tools
     * first on its PATH too; no payloads, no victims.
     */
    static BoundaryHarness startFromHostileCaller(String rollbackOk) throws Exception {
        BoundaryHarness h = new BoundaryHarness(true, rollbackOk);
        try {
            h.installDistribution();
            h.copyClasspath();
            h.startHostileUpdater();
            h.agent = Agent.start(h, AGENT, AGENT);
            return h;
        } catch (Exception | AssertionError e) {     // the caller gets no harness to close: no root updater left
            try {
                h.close();
            } catch (Exception c) {
                e.addSuppressed(c);
            }
            throw e;
        }
    }

    private Path fakeTools() throws IOException {
        Path bin = dir("fakebin", "rwxr-xr-x");
        for (String tool : FAKES) {
            Path fake = bin.resolve(tool);
            Files.writeString(fake, "#!/bin/sh\n: > " + markers.resolve(tool) + "\nexit 1\n");
            Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        return bin;
    }

    /** The PATH the agent child gets: the fakes come first when the caller is hostile (never run). */
    private String agentPath() {
        return fakebin == null ? "/usr/bin:/bin" : fakebin + ":/usr/bin:/bin";
    }

    // ---- payloads -------------------------------------------------------------------------------------------

    /** A script that leaves a marker {@code <label>.<pid>} holding its uid: proof that something ran it. */
    String script(String label) {
        return "#!/bin/sh\nid -u > " + markers.resolve(label) + ".$$ 2>/dev/null\nexit 0\n";
    }

    /**
     * Every agent-writable place, as the sandboxed systemd sees it, with the payloads in it (the sandbox has its own
     * /tmp, /var/tmp and /run: those are planted through {@code /proc/<systemd>/root}, and on the host as well, where
     * the updater judges paths).
     */
    private void plantPlaces() throws Exception {
        byte[] so = preloadLibrary();
        preload = so;
        Path agentDir = data.resolve("hostile");
        place("@TMP@", Path.of("/tmp", tok), true);
        place("@VARTMP@", Path.of("/var/tmp", tok), true);
        place("@LOCK@", Path.of("/run/lock", tok), true);
        place("@SHM@", Path.of("/dev/shm", tok), false);
        place("@DATA@", agentDir, false);
        // a root-owned directory any user can write into (no sticky bit), and one the agent's group can write
        Path w777 = root.resolve("w777");
        Path w775 = root.resolve("w775");
        places.put("@W777@", w777);
        places.put("@W775@", w775);
        for (Map.Entry<String, Path> e : places.entrySet()) {
            if (e.getKey().equals("@DECOY@")) {
                continue;
            }
            for (Path view : views(e.getValue(), Set.of("@TMP@", "@VARTMP@", "@LOCK@").contains(e.getKey()))) {
                plant(view, e.getKey().replace("@", "").toLowerCase(), so, e.getValue(),
                        !e.getKey().equals("@W777@") && !e.getKey().equals("@W775@"));
            }
        }
        Files.setPosixFilePermissions(w777, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.setPosixFilePermissions(w775, PosixFilePermissions.fromString("rwxrwxr-x"));
        Files.setAttribute(w775, "unix:gid", (int) user.gid(), LinkOption.NOFOLLOW_LINKS);
        // decoys for directives that make systemd open or create host files (the sandbox shares /etc and /var)
        Path decoy = dir("decoy", "rwx------");
        Files.writeString(decoy.resolve("shadow"), "root:*:20000:0:99999:7:::\n");
        Files.setPosixFilePermissions(decoy.resolve("shadow"), PosixFilePermissions.fromString("rw-------"));
        places.put("@DECOY@", decoy);
        // a root-owned link, in a root-owned directory, into the agent's directory in /tmp
        Path links = dir("links", "rwxr-xr-x");
        Files.createSymbolicLink(links.resolve("tmp"), places.get("@TMP@"));
        places.put("@LINK@", links.resolve("tmp"));
    }

    private void place(String name, Path path, boolean privateInSandbox) {
        places.put(name, path);     // privateInSandbox: planted in both views (see views)
    }

    /** The host paths that are {@code p} for the sandboxed systemd (and for the updater on the host). */
    private List<Path> views(Path p, boolean privateInSandbox) {
        if (!privateInSandbox) {
            return List.of(p);
        }
        return List.of(p, sandboxRoot.resolve(Path.of("/").relativize(p).toString()));
    }

    /** The payloads for one place; agent-owned unless the directory itself is root's (w777, w775). */
    private void plant(Path dir, String label, byte[] so, Path asSeen, boolean agentOwned) throws IOException {
        if (dir.getParent() != null && !Files.exists(dir.getParent())) {
            Files.createDirectories(dir.getParent());
            Files.setPosixFilePermissions(dir.getParent(), PosixFilePermissions.fromString("rwxrwxrwt"));
        }
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        writePayloads(dir, label, so, asSeen);
        if (agentOwned) {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.toList()) {
                    chown(p);
                }
            }
        }
        hostViews.add(dir);
    }

    /** evil, evil.so, env (LD_PRELOAD=…), rc, helper, true, inc.conf, python packages, root/evil … */
    void writePayloads(Path dir, String label, byte[] so, Path asSeen) throws IOException {
        for (String f : PAYLOADS) {
            Path p = dir.resolve(f);
            Files.createDirectories(p.getParent());
            String name = f.replace('/', '_');
            byte[] bytes = switch (f) {
                case "evil.so", "libevil.so", "lib/evil.so" -> so;
                case "env" -> ("LD_PRELOAD=" + asSeen.resolve("evil.so") + "\nBASH_ENV=" + asSeen.resolve("rc") + "\n")
                        .getBytes(StandardCharsets.UTF_8);
                case "rc" -> ("id -u > " + markers.resolve(label + "-rc") + ".$$\n").getBytes(StandardCharsets.UTF_8);
                case "inc.conf" -> ("[Service]\nExecStartPre=" + asSeen.resolve("evil") + "\n").getBytes(StandardCharsets.UTF_8);
                case "sitecustomize.py", "json/__init__.py", "json/tool.py" -> ("import os\nopen('" + markers.resolve(label
                        + "-py") + ".%d' % os.getpid(), 'w').write(str(os.getuid()))\n").getBytes(StandardCharsets.UTF_8);
                default -> script(label + "-" + name).getBytes(StandardCharsets.UTF_8);
            };
            Files.write(p, bytes);
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    /** A real ELF preload library whose constructor leaves a {@code preload-<pid>} marker; a script if no cc. */
    private byte[] preloadLibrary() throws Exception {
        Path src = root.resolve("evil.c");
        Path out = root.resolve("evil.so");
        Files.writeString(src, "#include <stdio.h>\n#include <unistd.h>\n__attribute__((constructor)) static void pwn(void) {\n"
                + "  char p[512]; snprintf(p, sizeof p, \"" + markers + "/preload-%d\", (int) getpid());\n"
                + "  FILE *f = fopen(p, \"w\"); if (f) { fprintf(f, \"%d\\n\", (int) getuid()); fclose(f); }\n}\n");
        for (String cc : List.of("/usr/bin/cc", "/usr/bin/gcc")) {
            if (Files.isExecutable(Path.of(cc))) {
                Process p = new ProcessBuilder(cc, "-shared", "-fPIC", "-o", out.toString(), src.toString())
                        .redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    realPreload = true;
                    return Files.readAllBytes(out);
                }
            }
        }
        return script("preload-script").getBytes(StandardCharsets.UTF_8);
    }

    /** True when the preload stand-in is a real ELF library (a C compiler was there). */
    boolean realPreload() {
        return realPreload;
    }

    /**
     * {@code @ADDON_STATE@}, {@code @ADDON_SPOOL@} (and the config file) of an add-on, made by the agent, with the
     * payloads in them.
     */
    void plantState(String id) throws IOException {
        Path addon = data.resolve("addons").resolve(id);
        Path st = addon.resolve("state");
        Files.createDirectories(st);
        writePayloads(st, "state-" + id, preload, st);
        Path spool = addon.resolve("spool");
        Files.createDirectories(spool);
        writePayloads(spool, "spool-" + id, preload, spool);
        Files.writeString(addon.resolve("config.json"), script("config-" + id));
        Files.setPosixFilePermissions(addon.resolve("config.json"), PosixFilePermissions.fromString("rwxr-xr-x"));
        for (Path p = addon; !p.equals(data); p = p.getParent()) {
            chown(p);
        }
        try (Stream<Path> s = Files.walk(addon)) {
            for (Path p : s.toList()) {
                chown(p);
            }
        }
    }

    /** The placeholders of the corpus for one add-on id. */
    java.util.function.UnaryOperator<String> placeholders(String id, String version) {
        Map<String, String> values = new LinkedHashMap<>();
        values.put("@ID@", id);
        values.put("@VERSION@", version);
        values.put("@TOK@", tok);
        places.forEach((k, v) -> values.put(k, v.toString()));
        values.put("@AGENT_UID@", Long.toString(user.uid()));
        values.put("@AGENT_GID@", Long.toString(user.gid()));
        values.put("@AGENT@", AGENT);
        values.put("@SCRATCH@", root.toString());
        return s -> {
            String out = s;
            for (Map.Entry<String, String> e : values.entrySet()) {
                out = out.replace(e.getKey(), e.getValue());
            }
            return out;
        };
    }

    // ---- victims ----------------------------------------------------------------------------------------------

    /** The operator's units, installed and set up by hand (as root, outside Steward), before any attack. */
    private void installVictims() throws Exception {
        Path units = sandbox.unitDir();
        Path vendor = sandboxRoot.resolve("run/systemd/system");
        beforeUnitDir = tree(units);
        beforeRunDir = tree(vendor);
        String sleeper = "[Unit]\nDescription=%s (the operator's)\n[Service]\nExecStart=/bin/sleep 3600\n"
                + "[Install]\nWantedBy=multi-user.target\n";
        for (String v : List.of("victim-start", "victim-conflict", "victim-enabled", "victim-enable", "victim-aliased")) {
            Files.writeString(units.resolve(v + ".service"), String.format(sleeper, v));
        }
        Files.createSymbolicLink(units.resolve("victim-alias-name.service"), Path.of("victim-aliased.service"));
        Files.writeString(vendor.resolve("victim-vendor.service"), String.format(sleeper, "victim-vendor"));
        Path script = Path.of(System.getProperty("steward.test.updater.script"));
        Files.copy(script.getParent().getParent().resolve("systemd/steward-updater.service"),
                units.resolve("steward-updater.service"));
        systemd.reload();
        // the operator enables it (systemctl enable writes this link)
        io.steward.systemd.install.UnitLinks.create(units, "victim-enabled.service",
                List.of(new io.steward.systemd.install.UnitLinks.InstallLink("multi-user.target", "wants")));
        systemd.start("victim-conflict.service", Duration.ofSeconds(30));
        await("victim-conflict.service runs", () -> unitState("victim-conflict.service").startsWith("loaded active"));
        baselineUnitDir = tree(units);
        baselineRunDir = tree(vendor);
    }

    private String unitState(String name) {
        try {
            UnitState s = systemd.unit(name);
            return s.loadState() + " " + s.activeState().wireName() + "/" + s.subState() + " " + s.unitFileState()
                    + " entered " + s.activeEnterTimestamp().map(Instant::toString).orElse("-") + " pid "
                    + (s.mainPid().isPresent() ? s.mainPid().getAsLong() : 0) + " " + s.fragmentPath();
        } catch (Exception e) {
            return "unreadable: " + e.getMessage();
        }
    }

    /**
     * Puts the operator's world back after an attack changed it (so that the next case is judged on its own):
     * stops the case's units, restores the unit directory and /run/systemd/system to the baseline, reloads, and
     * brings each victim back to its state (victim-conflict running, the others stopped).
     */
    void restoreWorld(List<String> caseUnits) throws Exception {
        for (String u : caseUnits) {
            try {
                if (u.matches("[A-Za-z0-9@._:-]+\\.(service|timer)")) {
                    systemd.stop(u, Duration.ofSeconds(30));
                }
            } catch (Exception e) {
                // not loaded
            }
        }
        restoreTree(sandbox.unitDir(), baselineUnitDir);
        restoreTree(sandboxRoot.resolve("run/systemd/system"), baselineRunDir);
        systemd.reload();
        for (String v : VICTIMS) {
            boolean shouldRun = v.equals("victim-conflict.service");
            UnitState s = systemd.unit(v);
            if (s.active() && !shouldRun) {
                systemd.stop(v, Duration.ofSeconds(30));
            } else if (!s.active() && shouldRun) {
                systemd.start(v, Duration.ofSeconds(30));
            }
            systemd.resetFailed(v);
        }
        for (String u : caseUnits) {
            try {
                if (u.matches("[A-Za-z0-9@._:-]+\\.(service|timer)")) {
                    systemd.resetFailed(u);
                }
            } catch (Exception e) {
                // not loaded
            }
        }
    }

    /** path (relative) → type-tagged content: "f<mode>:" bytes, "l:" target, "d<mode>". */
    private static Map<String, byte[]> tree(Path top) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        if (!Files.exists(top, LinkOption.NOFOLLOW_LINKS)) {
            return out;
        }
        try (Stream<Path> s = Files.walk(top)) {
            for (Path p : s.toList()) {
                if (p.equals(top)) {
                    continue;
                }
                String rel = top.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    out.put(rel, ("l:" + Files.readSymbolicLink(p)).getBytes(StandardCharsets.UTF_8));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.put(rel, ("d" + perms(p)).getBytes(StandardCharsets.UTF_8));
                } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    byte[] head = ("f" + perms(p) + ":").getBytes(StandardCharsets.UTF_8);
                    byte[] body = Files.readAllBytes(p);
                    byte[] all = new byte[head.length + body.length];
                    System.arraycopy(head, 0, all, 0, head.length);
                    System.arraycopy(body, 0, all, head.length, body.length);
                    out.put(rel, all);
                } else {
                    out.put(rel, "other".getBytes(StandardCharsets.UTF_8));
                }
            }
        }
        return out;
    }

    private static void restoreTree(Path top, Map<String, byte[]> baseline) throws IOException {
        Map<String, byte[]> now = tree(top);
        List<String> extra = now.keySet().stream().filter(k -> !baseline.containsKey(k)
                || !java.util.Arrays.equals(baseline.get(k), now.get(k))).sorted(Comparator.reverseOrder()).toList();
        for (String k : extra) {
            Path p = top.resolve(k);
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && baseline.containsKey(k)) {
                continue;     // a directory that differs only in mode: fixed below
            }
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                SystemdSandbox.PathsForTests.deleteTree(p);
            } else {
                Files.deleteIfExists(p);
            }
        }
        for (Map.Entry<String, byte[]> e : baseline.entrySet()) {
            Path p = top.resolve(e.getKey());
            String s = new String(e.getValue(), StandardCharsets.ISO_8859_1);
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS) && java.util.Arrays.equals(tree1(top, e.getKey()), e.getValue())) {
                continue;
            }
            if (s.startsWith("l:")) {
                Files.createDirectories(p.getParent());
                Files.createSymbolicLink(p, Path.of(s.substring(2)));
            } else if (s.startsWith("d")) {
                Files.createDirectories(p);
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(s.substring(1)));
            } else if (s.startsWith("f")) {
                int colon = s.indexOf(':');
                Files.createDirectories(p.getParent());
                byte[] body = java.util.Arrays.copyOfRange(e.getValue(), colon + 1, e.getValue().length);
                Files.write(p, body);
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(s.substring(1, colon)));
            }
        }
    }

    private static byte[] tree1(Path top, String rel) throws IOException {
        return tree(top).get(rel);
    }

    // ---- snapshots -------------------------------------------------------------------------------------------

    /**
     * Everything the boundary protects, as path → description: unit directory, /run/systemd/system, both
     * privileged roots (with file capabilities), the updater's state, the victims over D-Bus, the markers, and the
     * given add-on's state directory (root must not create anything there either).
     */
    Map<String, String> snapshot(String... stateOf) throws Exception {
        return snapshot(true, stateOf);
    }

    /**
     * {@link #snapshot(String...)}, with or without the file capabilities (only {@code grant_capabilities} sets them,
     * and reading them costs a {@code getcap} process per root).
     */
    Map<String, String> snapshot(boolean capabilities, String... stateOf) throws Exception {
        Map<String, String> out = new TreeMap<>();
        List<Path> tops = new ArrayList<>(List.of(sandbox.unitDir(), sandboxRoot.resolve("run/systemd/system"), priv,
                localPriv, state, markers));
        if (world) {
            tops.add(places.get("@DECOY@"));
        }
        for (String id : stateOf) {
            tops.add(data.resolve("addons").resolve(id).resolve("state"));
        }
        for (Path top : tops) {
            if (!Files.exists(top)) {
                continue;
            }
            try (Stream<Path> s = Files.walk(top)) {
                for (Path p : s.toList()) {
                    String what;
                    if (Files.isSymbolicLink(p)) {
                        what = "link:" + Files.readSymbolicLink(p);
                    } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                        what = "dir:" + perms(p) + ":" + Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
                    } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                        what = "file:" + perms(p) + ":" + Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS) + ":"
                                + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
                        if (top.equals(markers)) {
                            what += " (uid " + Files.readString(p).trim() + ")";
                        }
                    } else {
                        what = "special";
                    }
                    out.put(p.toString(), what);
                }
            }
        }
        // a few host files an accepted unit could reach through the shared file system: a safety net
        for (String f : HOST_FILES) {
            Path p = Path.of(f);
            out.put("host " + f, !Files.exists(p, LinkOption.NOFOLLOW_LINKS) ? "absent" : Files.getAttribute(p, "unix:uid",
                    LinkOption.NOFOLLOW_LINKS) + ":" + Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS) + ":"
                    + perms(p) + (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) ? ":" + HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))) : ""));
        }
        if (capabilities) {
            out.put("getcap " + priv, run("/usr/sbin/getcap", "-r", priv.toString()));
            out.put("getcap " + localPriv, run("/usr/sbin/getcap", "-r", localPriv.toString()));
        }
        if (!world) {
            return out;
        }
        // the victims as systemd sees them, asked concurrently (each is a GetAll and a GetUnitFileState)
        Map<String, String> states = new java.util.concurrent.ConcurrentHashMap<>();
        VICTIMS.parallelStream().forEach(v -> states.put(v, unitState(v)));
        states.forEach((v, st) -> out.put("systemd " + v, st));
        return out;
    }

    /** The entries that differ between two snapshots, one line each. */
    static List<String> diff(Map<String, String> before, Map<String, String> after) {
        List<String> out = new ArrayList<>();
        Set<String> keys = new java.util.TreeSet<>(before.keySet());
        keys.addAll(after.keySet());
        for (String k : keys) {
            String b = before.get(k);
            String a = after.get(k);
            if (b == null) {
                out.add("+ " + k + " " + a);
            } else if (a == null) {
                out.add("- " + k + " (was " + b + ")");
            } else if (!a.equals(b)) {
                out.add("~ " + k + ": " + b + " -> " + a);
            }
        }
        return out;
    }

    // ---- artifacts -----------------------------------------------------------------------------------------

    /** A signed artifact in the repository. */
    record Published(String id, String version, String kind, Path file, String sha256, String signature) {
        /** The {@link AgentDriver} command {@code cmd} (apply, stage, install, grant, remove) for this artifact. */
        JsonObject command(String cmd) {
            JsonObject c = BoundaryHarness.cmd(cmd, "id", id, "version", version, "kind", kind, "url",
                    file.toUri().toString(), "sha256", sha256, "signature", signature);
            c.addProperty("binary", "run.sh");
            return c;
        }
    }

    /** An artifact with the harness's manifest (declaring {@code units} and {@code capabilities}), signed with {@link #key}. */
    Published publish(String id, String version, String kind, Map<String, String> files, List<String> units,
                      List<String> capabilities) throws Exception {
        Map<String, byte[]> all = new LinkedHashMap<>();
        all.put("addon.json", manifest(id, version, kind, units, capabilities).getBytes(StandardCharsets.UTF_8));
        files.forEach((name, text) -> all.put(name, text.getBytes(StandardCharsets.UTF_8)));
        return publish(id, version, kind, all, key);
    }

    /** Packs {@code files} (addon.json included) into a tar.gz and signs id, version and digest with {@code with}. */
    Published publish(String id, String version, String kind, Map<String, byte[]> files, KeyPair with) throws Exception {
        ByteArrayOutputStream tgz = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GZIPOutputStream(tgz, 1 << 16), "UTF-8")) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Map.Entry<String, byte[]> f : files.entrySet()) {
                TarArchiveEntry e = new TarArchiveEntry(f.getKey(), true);
                e.setSize(f.getValue().length);
                e.setMode(f.getKey().endsWith(".sh") || f.getKey().startsWith("tools/") ? 0755 : 0644);
                tar.putArchiveEntry(e);
                tar.write(f.getValue());
                tar.closeArchiveEntry();
            }
        }
        byte[] bytes = tgz.toByteArray();
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        Path file = repo.resolve(id + "-" + version + "-" + sha.substring(0, 8) + ".tar.gz");
        Files.write(file, bytes);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        Signature s = Signature.getInstance("Ed25519");
        s.initSign(with.getPrivate());
        s.update(("steward-artifact-v1\n" + id + "\n" + version + "\n" + sha + "\n").getBytes(StandardCharsets.UTF_8));
        return new Published(id, version, kind, file, sha, Base64.getEncoder().encodeToString(s.sign()));
    }

    /** The manifest the harness writes unless a case ships its own. */
    static String manifest(String id, String version, String kind, List<String> units, List<String> capabilities) {
        JsonObject m = new JsonObject();
        m.addProperty("id", id);
        m.addProperty("version", version);
        m.addProperty("supervision", kind);
        m.addProperty("binary", "run.sh");
        m.add("units", new Gson().toJsonTree(units));
        if (capabilities != null) {
            m.add("capabilities", new Gson().toJsonTree(capabilities));
        }
        return m.toString();
    }

    /** The artifact's files as the root agent's stager would leave them: a root-owned directory. */
    Path extractForRootAgent(String id, Map<String, byte[]> files) throws IOException {
        Path dir = Files.createTempDirectory(localSrc, id + "-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            Path p = dir.resolve(f.getKey());
            Files.createDirectories(p.getParent());
            Files.write(p, f.getValue());
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(f.getKey().endsWith(".sh") ? "rwxr-xr-x"
                    : "rw-r--r--"));
        }
        return dir;
    }

    // ---- the agent's requests ----------------------------------------------------------------------------------

    /** The agent keeps the artifact where it always does ({@code <data>/addons/<id>/artifacts/<sha256>.tar.gz}). */
    void keep(Published p) throws Exception {
        Path kept = kept(p);
        agentOk(cmd("mkdir", "path", kept.getParent().toString()));
        if (!Files.exists(kept)) {
            agentOk(cmd("copy", "from", p.file().toString(), "to", kept.toString()));
        }
    }

    /** Where the agent keeps {@code p}'s artifact, and where the updater reads it. */
    Path kept(Published p) {
        return data.resolve("addons").resolve(p.id()).resolve("artifacts").resolve(p.sha256() + ".tar.gz");
    }

    /** A protocol-1 request sent by the agent as is: the updater's answer. */
    JsonObject request(JsonObject request) throws Exception {
        JsonObject a = agent.send(raw(request.toString()));
        if (!a.get("ok").getAsBoolean() || !a.has("answer") || !a.get("answer").isJsonObject()) {
            throw new AssertionError("the agent could not send the request: " + a);
        }
        return a.getAsJsonObject("answer");
    }

    static JsonObject artifactRequest(String op, Published p) {
        JsonObject r = new JsonObject();
        r.addProperty("protocol", 1);
        r.addProperty("op", op);
        r.addProperty("id", p.id());
        r.addProperty("version", p.version());
        r.addProperty("sha256", p.sha256());
        r.addProperty("signature", p.signature());
        return r;
    }

    /** {@code install_units} exactly as the agent's client builds it. */
    static JsonObject installRequest(Published p, List<String> units, String primary) {
        JsonObject r = artifactRequest("install_units", p);
        r.add("units", new Gson().toJsonTree(units));
        r.addProperty("primary", primary);
        r.add("resources", new JsonObject());
        r.addProperty("restart", false);
        r.addProperty("job_timeout_ms", JOB_TIMEOUT.toMillis());
        return r;
    }

    static JsonObject uninstallRequest(String id, List<String> units, boolean release) {
        JsonObject r = new JsonObject();
        r.addProperty("protocol", 1);
        r.addProperty("op", "uninstall_units");
        r.addProperty("id", id);
        r.add("units", new Gson().toJsonTree(units));
        r.addProperty("release_tree", release);
        return r;
    }

    static JsonObject grantRequest(Published p, String binary, List<String> caps) {
        JsonObject r = artifactRequest("grant_capabilities", p);
        r.addProperty("binary", binary);
        r.add("capabilities", new Gson().toJsonTree(caps));
        return r;
    }

    void agentOk(JsonObject command) throws Exception {
        JsonObject a = agent.send(command);
        if (!a.get("ok").getAsBoolean()) {
            throw new AssertionError("the agent failed " + command + ": " + a);
        }
    }

    /** The agent's answer to an {@link AgentDriver} command. */
    JsonObject send(JsonObject command) throws Exception {
        return agent.send(command);
    }

    /** An {@link AgentDriver} command: name, value pairs; a list becomes an array of strings, a boolean stays one. */
    static JsonObject cmd(String cmd, Object... pairs) {
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

    /** The agent sends {@code line} to the updater as is (its answer under "answer"). */
    static JsonObject raw(String line) {
        return cmd("raw", "line", line);
    }

    /** The agent's steps after staging, for an {@code install} command's {@code after_stage}. */
    static JsonArray steps(JsonObject... commands) {
        JsonArray a = new JsonArray();
        for (JsonObject c : commands) {
            a.add(c);
        }
        return a;
    }

    // ---- the updater and the agent child ----------------------------------------------------------------------------

    private void installDistribution() throws IOException {
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
    private void copyClasspath() throws IOException {
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

    private String agentClasspath() throws IOException {
        try (Stream<Path> s = Files.list(classpath)) {
            return String.join(":", s.sorted().map(Path::toString).toList());
        }
    }

    private void startUpdater() throws Exception {
        launchUpdater(List.of(home.resolve("bin/steward-updater").toString(),
                "--socket", socket.toString(), "--agent-user", AGENT, "--data", data.toString(),
                "--privileged-root", priv.toString(), "--unit-dir", sandbox.unitDir().toString(),
                "--trust", trust.toString(), "--state", state.toString(), "--systemd-bus", sandbox.address(),
                "--read-timeout-millis", "5000"), Map.of("PATH", "/usr/bin:/bin", "STEWARD_HOME", home.toString(),
                "RUNTIME_DIRECTORY", root.resolve("rt").toString()));
    }

    /** Runs {@code command} with exactly {@code environment}, and waits until the updater serves. */
    private void launchUpdater(List<String> command, Map<String, String> environment) throws Exception {
        updaterLog = root.resolve("updater.log");
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(updaterLog.toFile());
        pb.environment().clear();
        pb.environment().putAll(environment);
        updater = pb.start();
        Process started = updater;     // a test JVM that dies without close() does not leave a root updater behind
        Runtime.getRuntime().addShutdownHook(new Thread(started::destroyForcibly, "boundary-updater-stop"));
        await("the updater listens on " + socket + "; its log:\n" + updaterLog(),
                () -> Files.exists(socket) && updaterLog().contains("serving"));
    }

    /**
     * Starts bin/steward-updater from a hostile environment: none of it may reach the JVM or the updater. The
     * caller's checks (socket mode, runtime directory, no trace, no marker) stay with the test that needs them.
     */
    private void startHostileUpdater() throws Exception {
        List<String> args = new ArrayList<>(List.of(home.resolve("bin/steward-updater").toString(),
                "--runtime-dir", root.resolve("rt").toString(), "--socket", socket.toString(), "--agent-user", AGENT,
                "--data", data.toString(), "--privileged-root", priv.toString(), "--unit-dir", sandbox.unitDir().toString(),
                "--trust", trust.toString(), "--state", state.toString(), "--systemd-bus", sandbox.address(),
                "--read-timeout-millis", "1000"));
        if (rollbackOk != null) {
            args.addAll(List.of("--allow-rollback", rollbackOk));
        }
        Map<String, String> env = new LinkedHashMap<>();
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
        chown(agentOwned);
        env.put("CDPATH", agentOwned.toString());
        Files.createSymbolicLink(agentOwned.resolve("rt"), Path.of("/root"));
        env.put("RUNTIME_DIRECTORY", agentOwned.resolve("rt").toString());     // never read
        launchUpdater(args, env);
    }

    String updaterLog() {
        try {
            return Files.readString(updaterLog);
        } catch (IOException e) {
            return "(no log)";
        }
    }

    /** An {@link AgentDriver} in a child JVM under setpriv, as the agent's user. */
    static final class Agent implements AutoCloseable {
        private final Process process;
        private final OutputStream in;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        private final Path log;
        private final BoundaryHarness h;

        private Agent(BoundaryHarness h, Process process, Path log) {
            this.h = h;
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
            }, "boundary-agent-reader");
            reader.setDaemon(true);
            reader.start();
        }

        static Agent start(BoundaryHarness h, String user, String group) throws Exception {
            Path log = h.root.resolve("agent-" + user + "-" + UUID.randomUUID().toString().substring(0, 6) + ".log");
            ProcessBuilder pb = new ProcessBuilder("setpriv", "--reuid", user, "--regid", group, "--clear-groups", "--",
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", h.agentClasspath(), AgentDriver.class.getName(),
                    h.sandbox.address(), h.data.toString(), h.agentEtc.toString(), h.agentEtc.resolve("trust").toString(),
                    h.sandbox.unitDir().toString(), h.priv.toString(), h.socket.toString())
                    .redirectError(log.toFile());
            Map<String, String> env = pb.environment();
            env.clear();
            env.put("PATH", h.agentPath());
            env.put("LANG", "C.UTF-8");
            env.put("HOME", "/nonexistent");
            Agent a = new Agent(h, pb.start(), log);
            JsonObject ready = a.next();
            if (!ready.get("ok").getAsBoolean()) {
                throw new AssertionError("the agent child did not start: " + ready);
            }
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
                        + "\nthe updater's log:\n" + h.updaterLog());
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

    /** Another agent child, as {@code user} with {@code group} (e.g. a peer that is not the agent). */
    Agent startAgent(String user, String group) throws Exception {
        return Agent.start(this, user, group);
    }

    /** Ends the agent child first, so that a test can check what its exit left behind before {@link #close}. */
    void stopAgent() throws Exception {
        if (agent != null) {
            Agent a = agent;
            agent = null;
            a.close();
        }
    }

    @Override
    public void close() throws Exception {
        try {
            stopAgent();
        } finally {
            if (updater != null) {
                updater.destroy();
                if (!updater.waitFor(30, TimeUnit.SECONDS)) {
                    updater.destroyForcibly();
                }
            }
            try {
                for (Path p : hostViews) {
                    SystemdSandbox.PathsForTests.deleteTree(p);
                }
                for (String v : world ? VICTIMS : List.<String>of()) {
                    try {
                        systemd.stop(v, Duration.ofSeconds(30));
                    } catch (Exception e) {
                        // not loaded
                    }
                }
                if (beforeUnitDir != null) {     // the operator's world as it was before this harness
                    restoreTree(sandbox.unitDir(), beforeUnitDir);
                    restoreTree(sandboxRoot.resolve("run/systemd/system"), beforeRunDir);
                }
                systemd.reload();
            } finally {
                systemd.close();
            }
        }
    }

    // ---- small helpers --------------------------------------------------------------------------------------------

    static String run(String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().clear();
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not exit: " + out);
        }
        return out;
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        try {
            Awaitility.await(what).atMost(Duration.ofSeconds(60)).pollDelay(Duration.ZERO)
                    .pollInterval(Duration.ofMillis(20)).pollInSameThread().until(condition::getAsBoolean);
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("timed out waiting until " + what, e);
        }
    }

    /** The bytes under {@code dir} (regular files), for watching what root writes during one request. */
    static long bytesUnder(Path dir) {
        long[] total = {0};
        try (Stream<Path> s = Files.walk(dir)) {
            s.forEach(p -> {
                try {
                    if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                        total[0] += Files.size(p);
                    }
                } catch (IOException e) {
                    // gone meanwhile
                }
            });
        } catch (IOException | java.io.UncheckedIOException e) {
            // a directory vanished while walking
        }
        return total[0];
    }

    /** A directory {@code name} in the scratch root, with {@code mode}. */
    Path dir(String name, String mode) throws IOException {
        Path p = Files.createDirectories(root.resolve(name));
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        return p;
    }

    void chown(Path p) throws IOException {
        Files.setAttribute(p, "unix:uid", (int) user.uid(), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", (int) user.gid(), LinkOption.NOFOLLOW_LINKS);
    }

    private static void addOthers(Path p, boolean read) throws IOException {
        var perms = Files.getPosixFilePermissions(p);
        if (read) {
            perms.add(PosixFilePermission.OTHERS_READ);
        }
        perms.add(PosixFilePermission.OTHERS_EXECUTE);
        Files.setPosixFilePermissions(p, perms);
    }

    private static String perms(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    /** {@code ls -l}'s mode: type (l, d, -, s for anything else) and permissions, links not followed. */
    static String mode(Path p) throws IOException {
        String type = Files.isSymbolicLink(p) ? "l" : Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "d"
                : Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) ? "-" : "s";
        return type + perms(p);
    }

    /** {@code name} in the sandbox's unit directory. */
    Path unit(String name) {
        return sandbox.unitDir().resolve(name);
    }

    /** The updater's ledger, as it is on disk. */
    String ledger() throws IOException {
        return Files.readString(state.resolve(Ledger.FILE));
    }

    /** The units the ledger records for {@code id} (none when it has no entry). */
    List<String> ledgerUnits(String id) throws IOException {
        JsonObject addons = JsonParser.parseString(ledger()).getAsJsonObject().getAsJsonObject("addons");
        if (!addons.has(id)) {
            return List.of();
        }
        return addons.getAsJsonObject(id).getAsJsonArray("units").asList().stream().map(e -> e.getAsString()).toList();
    }

    static JsonArray array(List<String> values) {
        JsonArray a = new JsonArray();
        values.forEach(a::add);
        return a;
    }
}
