package io.steward.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Black-box test of the assembled distribution: runs {@code bin/steward} as a process, with every
 * root (data, etc, trust, unit dir, privileged root) inside a temporary directory.
 */
class DistributionIT {
    private static final Path HOME = Path.of(System.getProperty("steward.home", "target/steward")).toAbsolutePath();
    /** Bound on one command; the launcher's own bound (STEWARD_COMMAND_TIMEOUT) is shorter. */
    private static final long DEADLINE_SECONDS = 120;

    private static final String VALID = """
            {"revision":"it-1","addons":[
              {"id":"flow-export","version":"1.0.0","enabled":true,"supervision":"config_toggle",
               "delivery":"compiled_in","capabilities":["flow-export"],"config":{"interval_seconds":30}},
              {"id":"snmp-trap-relay","version":"1.0.0","enabled":true,"supervision":"config_toggle",
               "delivery":"compiled_in","capabilities":["snmp-traps"]}]}
            """;
    private static final String INVALID = """
            {"revision":"it-2","addons":[
              {"id":"../x","version":"1.0.0","enabled":true,"supervision":"config_toggle",
               "delivery":"compiled_in","capabilities":["flow-export"]}]}
            """;

    @TempDir
    Path tmp;
    private Path valid;
    private Path invalid;
    private int runs;

    /** What one run of bin/steward did. */
    record Run(List<String> command, int exit, String stdout, String stderr) {
        List<String> stderrLines() {
            return stderr.lines().toList();
        }

        @Override
        public String toString() {
            return String.join(" ", command) + "\nexit " + exit + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
        }
    }

    @BeforeEach
    void documents() throws IOException {
        valid = Files.writeString(tmp.resolve("valid.json"), VALID);
        invalid = Files.writeString(tmp.resolve("invalid.json"), INVALID);
        Files.createDirectories(tmp.resolve("etc"));
    }

    @Test
    void applyThenStatusShowsBothAddonsReady() throws Exception {
        Path data = tmp.resolve("data");
        Run apply = steward(data, "apply", "-a", valid.toString());
        assertEquals(0, apply.exit(), apply::toString);

        Run status = steward(data, "status", "--json");
        assertEquals(0, status.exit(), status::toString);
        Map<String, String> states = new TreeMap<>();
        for (JsonElement addon : json(status).getAsJsonArray("addons")) {
            JsonObject object = addon.getAsJsonObject();
            states.put(object.get("id").getAsString(), object.get("state").getAsString());
        }
        assertEquals(Map.of("flow-export", "ready", "snmp-trap-relay", "ready"), states, status::toString);
    }

    @Test
    void invalidDocumentExitsTwoNamesThePathAndChangesNothing() throws Exception {
        Path data = tmp.resolve("data");
        Run first = steward(data, "apply", "-a", valid.toString());
        assertEquals(0, first.exit(), first::toString);
        SortedMap<String, String> before = tree(data);

        Run apply = steward(data, "apply", "-a", invalid.toString());
        assertEquals(2, apply.exit(), apply::toString);
        assertEquals(1, apply.stderrLines().size(), apply::toString);
        assertTrue(apply.stderr().contains("addons[0].id"), apply::toString);
        assertEquals(before, tree(data), "the data directory changed");

        // --json: the same error as one JSON object on stdout, as verify --json gives it
        Run applyJson = steward(data, "apply", "-a", invalid.toString(), "--json");
        assertEquals(2, applyJson.exit(), applyJson::toString);
        assertEquals(false, json(applyJson).get("ok").getAsBoolean(), applyJson::toString);
        assertTrue(json(applyJson).get("error").getAsString().contains("addons[0].id"), applyJson::toString);
        assertEquals(before, tree(data), "the data directory changed");
    }

    @Test
    void statusSaysNoAgentRunsAndNamesAMalformedDocument() throws Exception {
        Path data = tmp.resolve("data");
        Files.writeString(tmp.resolve("etc/assignments.json"), INVALID);
        Run status = steward(data, "status");
        assertEquals(0, status.exit(), status::toString);
        assertTrue(status.stdout().startsWith("agent: not running"), status::toString);
        assertTrue(status.stderr().startsWith("steward: warning: ") && status.stderr().contains("addons[0].id"),
                status::toString);
        Run json = steward(data, "status", "--json");
        assertEquals(false, json(json).getAsJsonObject("agent").get("running").getAsBoolean(), json::toString);
    }

    @Test
    void planOnAFreshDataDirListsTheInstallsAndChangesNothing() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("fresh"));
        SortedMap<String, String> before = tree(data);

        Run plan = steward(data, "plan", "-a", valid.toString(), "--json");
        assertEquals(0, plan.exit(), plan::toString);
        Map<String, String> actions = new TreeMap<>();
        JsonArray steps = json(plan).getAsJsonArray("steps");
        for (JsonElement step : steps) {
            JsonObject object = step.getAsJsonObject();
            actions.put(object.get("id").getAsString(), object.get("action").getAsString());
        }
        assertEquals(Map.of("flow-export", "install", "snmp-trap-relay", "install"), actions, plan::toString);
        assertEquals(before, tree(data), "plan changed the data directory");
    }

    @Test
    void unknownOptionExitsTwoWithOneSentence() throws Exception {
        Run run = steward(tmp.resolve("data"), "status", "--foo");
        assertEquals(2, run.exit(), run::toString);
        assertEquals(List.of("steward: unknown option --foo; see 'steward help'"), run.stderrLines(), run::toString);
        assertEquals("", run.stdout(), run::toString);
    }

    /** The supervision kinds live in deploy/ (FileInstall's folder), every other bundle in bundle/. */
    @Test
    void theKindsAreInDeployAndEveryOtherBundleInBundle() throws IOException {
        assertEquals(List.of(KIND_PREFIX + "config.toggle", KIND_PREFIX + "ephemeral.helper", KIND_PREFIX + "sidecar",
                KIND_PREFIX + "systemd.service", KIND_PREFIX + "systemd.timer"), jarNames(HOME.resolve("deploy")));
        List<String> bundles = jarNames(HOME.resolve("bundle"));
        assertTrue(bundles.contains("io.steward.core") && bundles.contains("org.apache.felix.fileinstall"),
                bundles::toString);
        assertTrue(bundles.stream().noneMatch(b -> b.startsWith(KIND_PREFIX)), bundles::toString);
    }

    /**
     * The hot swap, black box: 'steward run' supervises a signed sidecar (made with the distribution's own
     * keygen and pack); the sidecar kind's jar in deploy/ is replaced by one with a higher Bundle-Version;
     * FileInstall updates the bundle, the new kind adopts the sidecar (same pid, still ready). SIGTERM stops
     * the agent, not the sidecar, and the next agent (FileInstall installing deploy/ as it starts) adopts it
     * again. One-shot plan sees the kind in deploy/ before all that.
     */
    @Test
    void aSidecarKeepsItsPidWhileFileInstallUpdatesItsKindAndAfterTheAgentStops() throws Exception {
        Path home = privateHome();
        Path data = tmp.resolve("data");
        signedSidecarAssigned(home, data);

        Run plan = steward(home, data, "plan", "--json");
        assertEquals(0, plan.exit(), plan::toString);
        assertEquals("install", json(plan).getAsJsonArray("steps").get(0).getAsJsonObject().get("action").getAsString(),
                "one-shot plan sees the sidecar kind of deploy/: " + plan);

        Path sidecarJar = onlyJar(home.resolve("deploy"), "io.steward.supervision.sidecar");
        Path log = tmp.resolve("agent-1.err");
        Process agent = builder(home, command(home, data, "run", "--verbose"), tmp.resolve("agent-1.out"), log).start();
        long pid = 0;
        try {
            JsonObject ready = awaitStatus(home, data, "ready");
            pid = pid(data);
            assertTrue(ready.get("detail").getAsString().contains("pid " + pid), ready::toString);
            assertTrue(alive(pid), "the sidecar runs as pid " + pid);
            String original = bundleVersion(sidecarJar);
            awaitLog(log, "Kind sidecar is served by io.steward.supervision.sidecar " + original);
            // each line names the bundle that logs it, not pax-logging-api
            assertTrue(readLines(log).stream().anyMatch(l -> l.startsWith("io.steward.core [io.steward.core.internal.Reconciler] INFO")),
                    () -> String.join("\n", readLines(log)));
            assertTrue(readLines(log).stream().noneMatch(l -> l.contains("pax-logging-api [io.steward")),
                    () -> String.join("\n", readLines(log)));

            // a rebuilt kind with a higher Bundle-Version, renamed over the old jar
            String bumped = bump(original);
            Path staged = tmp.resolve("sidecar-bumped.jar");
            rewriteVersion(sidecarJar, staged, bumped);
            signWithTheBuildKey(staged);     // deploy/ takes only signed kinds
            Files.move(staged, sidecarJar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            awaitLog(log, "Add-on hot-car adopted by io.steward.supervision.sidecar " + bumped + ": ready");
            JsonObject after = status(home, data);
            assertEquals("ready", after.get("state").getAsString(), after::toString);
            assertTrue(after.get("detail").getAsString().contains("pid " + pid), after::toString);
            assertEquals(pid, pid(data));
            assertTrue(alive(pid), "the sidecar still runs as pid " + pid);

            // SIGTERM stops the agent, not the add-on, and quietly
            agent.destroy();
            assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "the agent stops on SIGTERM");
            assertTrue(alive(pid), "the sidecar outlives the agent");
            assertTrue(Files.readAllLines(log).stream().noneMatch(l -> l.contains("WARN")),
                    () -> "no warning while the agent stops:\n" + String.join("\n", readLines(log)));

            // the next agent: FileInstall installs deploy/ as it starts, the kind adopts the same process
            Path log2 = tmp.resolve("agent-2.err");
            agent = builder(home, command(home, data, "run", "--verbose"), tmp.resolve("agent-2.out"), log2).start();
            awaitLog(log2, "Add-on hot-car adopted by io.steward.supervision.sidecar " + bumped + ": ready");
            JsonObject again = awaitStatus(home, data, "ready");
            assertTrue(again.get("detail").getAsString().contains("pid " + pid), again::toString);
            assertEquals(List.of(Long.toString(pid)), Files.readAllLines(data.resolve("addons/hot-car/state/pids")),
                    "the sidecar was started once");
            agent.destroy();
            assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "the agent stops on SIGTERM");
            assertTrue(alive(pid), "the sidecar outlives the agent");
        } finally {
            if (agent.isAlive()) {
                agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            if (pid > 0) {
                new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + pid).start().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** A key pair trusted in etc/trust, a signed sidecar hot-car 1.0.0 packed with it, and etc/assignments.json
     * assigning it by a file: URL; returns the artifact. */
    private Path signedSidecarAssigned(Path home, Path data) throws Exception {
        Path etc = tmp.resolve("etc");
        Path keys = Files.createDirectories(tmp.resolve("keys"));
        Run keygen = steward(home, data, "keygen", "--out", keys.resolve("it").toString());
        assertEquals(0, keygen.exit(), keygen::toString);
        Files.createDirectories(etc.resolve("trust"));
        Files.copy(keys.resolve("it.pub.pem"), etc.resolve("trust/it.pem"));
        Path addon = Files.createDirectories(tmp.resolve("hot-car"));
        Files.writeString(addon.resolve("addon.json"), "{\"id\": \"hot-car\", \"version\": \"1.0.0\", "
                + "\"supervision\": \"sidecar\", \"binary\": \"run.sh\"}\n");
        Files.writeString(addon.resolve("run.sh"), "#!/bin/sh\necho $$ >> \"$STEWARD_ADDON_STATE/pids\"\n"
                + "exec sleep 3600\n");
        Files.setPosixFilePermissions(addon.resolve("run.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Path artifact = tmp.resolve("hot-car-1.0.0.tar.gz");
        Run pack = steward(home, data, "pack", addon.toString(), "--key", keys.resolve("it.key.pem").toString(),
                "--out", artifact.toString(), "--json");
        assertEquals(0, pack.exit(), pack::toString);
        JsonObject packed = json(pack);
        Files.writeString(etc.resolve("assignments.json"), "{\"revision\":\"hot-1\",\"addons\":[{\"id\":\"hot-car\","
                + "\"version\":\"1.0.0\",\"supervision\":\"sidecar\",\"artifact\":{\"url\":\"" + artifact.toUri()
                + "\",\"sha256\":\"" + packed.get("sha256").getAsString() + "\",\"signature\":\""
                + packed.get("signature").getAsString() + "\",\"key\":\"" + packed.get("key").getAsString() + "\"}}]}\n");
        return artifact;
    }

    /**
     * Last known good across a reboot with the artifact source gone: the sidecar's process is gone, the
     * boot id differs and its old pid now belongs to an unrelated process (this test's JVM); the artifact
     * file no longer exists. The next agent starts the staged version again, without fetching, and leaves
     * the unrelated process alone.
     */
    @Test
    void afterARebootWithTheArtifactSourceGoneTheStagedVersionRunsAgain() throws Exception {
        Path home = privateHome();
        Path data = tmp.resolve("data");
        Path artifact = signedSidecarAssigned(home, data);
        Process agent = builder(home, command(home, data, "run", "--verbose"), tmp.resolve("agent-1.out"),
                tmp.resolve("agent-1.err")).start();
        long pid = 0;
        long second = 0;
        try {
            awaitStatus(home, data, "ready");
            pid = pid(data);
            agent.destroy();
            assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "the agent stops on SIGTERM");

            // the "reboot": every process gone, a new boot id, the old pid reused, the artifact unreachable
            new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + pid).start().waitFor(10, TimeUnit.SECONDS);
            long killed = pid;
            await("the old sidecar is gone", Duration.ofSeconds(30), () -> !alive(killed), () -> "pid " + killed);
            Path record = data.resolve("state/sidecar/hot-car.json");
            JsonObject state = JsonParser.parseString(Files.readString(record)).getAsJsonObject();
            state.addProperty("boot_id", "00000000-0000-0000-0000-000000000000");
            state.addProperty("pid", ProcessHandle.current().pid());
            Files.writeString(record, state.toString());
            Files.delete(artifact);

            Path log2 = tmp.resolve("agent-2.err");
            agent = builder(home, command(home, data, "run", "--verbose"), tmp.resolve("agent-2.out"), log2).start();
            long unrelated = ProcessHandle.current().pid();
            // the recorded status still says ready from before the "reboot": wait for the new start instead
            await("a new process runs the add-on", Duration.ofSeconds(90), () -> {
                try {
                    long now = pid(data);
                    return now != killed && now != unrelated && alive(now);
                } catch (IOException | RuntimeException e) {
                    return false;
                }
            }, () -> readLines(log2).toString());
            second = pid(data);
            JsonObject ready = awaitStatus(home, data, "ready");
            assertTrue(ready.get("detail").getAsString().contains("pid " + second), ready::toString);
            assertTrue(alive(unrelated), "the process that reused the old pid is left alone");
            assertEquals("1.0.0", ready.get("active_version").getAsString(), ready::toString);
            assertEquals(2, Files.readAllLines(data.resolve("addons/hot-car/state/pids")).size(),
                    "started once per boot");
            assertTrue(Files.readString(log2).lines().noneMatch(l -> l.contains("hot-car-1.0.0.tar.gz")),
                    "the agent never reached for the artifact that is gone");
        } finally {
            if (agent.isAlive()) {
                agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            for (long p : new long[] {pid, second}) {
                if (p > 0) {
                    new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + p).start().waitFor(10, TimeUnit.SECONDS);
                }
            }
        }
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            return List.of(e.toString());
        }
    }

    private static final String KIND_PREFIX = "io.steward.supervision.";

    /** The symbolic names of the jars in {@code dir} (file names without "-version.jar"), sorted. */
    private static List<String> jarNames(Path dir) throws IOException {
        try (Stream<Path> jars = Files.list(dir)) {
            return jars.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".jar"))
                    .map(n -> n.replaceFirst("-[0-9][^-]*(-SNAPSHOT)?\\.jar$", "")).sorted().toList();
        }
    }

    /** A private copy of the distribution (its deploy/ is changed by the test), used through STEWARD_HOME. */
    private Path privateHome() throws IOException {
        Path home = tmp.resolve("home");
        for (String dir : List.of("bin", "bundle", "deploy", "etc/deploy-trust")) {
            Files.createDirectories(home.resolve(dir));
            try (Stream<Path> files = Files.list(HOME.resolve(dir))) {
                for (Path f : files.toList()) {
                    Files.copy(f, home.resolve(dir).resolve(f.getFileName().toString()),
                            StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        return home;
    }

    private static Path onlyJar(Path dir, String symbolicName) throws IOException {
        try (Stream<Path> jars = Files.list(dir)) {
            List<Path> found = jars.filter(p -> p.getFileName().toString().startsWith(symbolicName + "-")).toList();
            assertEquals(1, found.size(), found::toString);
            return found.get(0);
        }
    }

    private static String bundleVersion(Path jar) throws IOException {
        try (InputStream in = Files.newInputStream(jar); JarInputStream j = new JarInputStream(in)) {
            return j.getManifest().getMainAttributes().getValue("Bundle-Version");
        }
    }

    /** major.minor.micro[.qualifier] with micro + 1. */
    private static String bump(String version) {
        String[] parts = version.split("\\.", 4);
        return parts[0] + "." + parts[1] + "." + (Integer.parseInt(parts[2]) + 1) + (parts.length > 3 ? "." + parts[3] : "");
    }

    /** A copy of {@code jar} whose manifest says Bundle-Version {@code version}; every other entry as it is. */
    private static void rewriteVersion(Path jar, Path out, String version) throws IOException {
        try (InputStream in = Files.newInputStream(jar); JarInputStream j = new JarInputStream(in)) {
            Manifest manifest = new Manifest(j.getManifest());
            manifest.getMainAttributes().put(new Attributes.Name("Bundle-Version"), version);
            try (OutputStream o = Files.newOutputStream(out); JarOutputStream w = new JarOutputStream(o, manifest)) {
                for (JarEntry e = j.getNextJarEntry(); e != null; e = j.getNextJarEntry()) {
                    w.putNextEntry(new JarEntry(e.getName()));
                    j.transferTo(w);
                    w.closeEntry();
                }
            }
        }
    }

    /**
     * docs/kinds.md "Signed kinds in deploy/", black-box: into a running agent's deploy/ go an unsigned jar, one signed by
     * a key nobody trusts, one signed by the trusted build key and changed afterwards, and a valid one. The three
     * are moved to deploy/.quarantine/ (one ERROR line each, an audit line each, listed by status --json), the
     * valid one is installed, and the kind that was running before is still there.
     */
    @Test
    void onlyJarsSignedByATrustedKeyAreInstalledFromDeploy() throws Exception {
        Path home = privateHome();
        Path data = tmp.resolve("data");
        Files.createDirectories(tmp.resolve("etc"));
        Files.writeString(tmp.resolve("etc/assignments.json"), "{\"revision\":\"deploy-1\",\"addons\":[]}\n");
        Path stock = Files.createDirectories(tmp.resolve("stock"));
        Path valid = signWithTheBuildKey(tinyBundle(stock.resolve("valid.jar"), "io.example.valid"));
        Path unsigned = tinyBundle(stock.resolve("unsigned.jar"), "io.example.unsigned");
        Path stranger = tinyBundle(stock.resolve("stranger.jar"), "io.example.stranger");
        Path strangerKeys = tmp.resolve("stranger.p12");
        run("keytool", "-genkeypair", "-alias", "stranger", "-keyalg", "Ed25519", "-dname", "CN=stranger",
                "-storetype", "PKCS12", "-keystore", strangerKeys.toString(), "-storepass", "stranger");
        run("jarsigner", "-storetype", "PKCS12", "-keystore", strangerKeys.toString(), "-storepass", "stranger",
                stranger.toString(), "stranger");
        Path tampered = tamper(signWithTheBuildKey(tinyBundle(stock.resolve("to-tamper.jar"), "io.example.tampered")),
                stock.resolve("tampered.jar"));

        Path log = tmp.resolve("agent-deploy.err");
        Process agent = builder(home, command(home, data, "run", "--verbose"), tmp.resolve("agent-deploy.out"), log).start();
        try {
            awaitLog(log, "Kind sidecar is served by io.steward.supervision.sidecar");
            for (Path jar : List.of(unsigned, stranger, tampered, valid)) {
                Path incoming = home.resolve("deploy/.incoming-" + jar.getFileName());
                Files.copy(jar, incoming);
                Files.move(incoming, home.resolve("deploy").resolve(jar.getFileName()), StandardCopyOption.ATOMIC_MOVE);
            }
            awaitLog(log, "deploy/valid.jar: installed io.example.valid");
            awaitLog(log, "deploy/unsigned.jar was not installed and is now deploy/.quarantine/unsigned.jar.");
            awaitLog(log, "deploy/stranger.jar was not installed and is now deploy/.quarantine/stranger.jar.");
            awaitLog(log, "deploy/tampered.jar was not installed and is now deploy/.quarantine/tampered.jar.");
            List<String> errors = readLines(log).stream().filter(l -> l.contains(" ERROR ")).toList();
            assertEquals(3, errors.size(), () -> String.join("\n", errors));
            assertTrue(errors.stream().anyMatch(l -> l.contains("unsigned.jar") && l.contains("is not signed")), errors::toString);
            assertTrue(errors.stream().anyMatch(l -> l.contains("stranger.jar") && l.contains("not signed by a trusted key")),
                    errors::toString);
            assertTrue(errors.stream().anyMatch(l -> l.contains("tampered.jar") && l.contains("does not match its signature")),
                    errors::toString);
            try (Stream<Path> q = Files.list(home.resolve("deploy/.quarantine"))) {
                assertEquals(3, q.count());
            }
            for (String gone : List.of("unsigned.jar", "stranger.jar", "tampered.jar")) {
                assertFalse(Files.exists(home.resolve("deploy").resolve(gone)), gone + " left deploy/");
            }

            Run status = steward(home, data, "status", "--json");
            assertEquals(0, status.exit(), status::toString);
            JsonObject deploy = json(status).getAsJsonObject("deploy");
            assertTrue(deploy.get("verify").getAsBoolean(), status::toString);
            assertEquals(3, deploy.getAsJsonArray("quarantined").size(), status::toString);
            Run text = steward(home, data, "status");
            assertTrue(text.stdout().contains("deploy/: only jars signed by a key in " + home.resolve("etc/deploy-trust")),
                    text::toString);
            List<String> audit = Files.readAllLines(data.resolve("state/audit.jsonl"));
            assertEquals(3, audit.stream().filter(l -> l.contains("\"action\":\"quarantine\"")).count(),
                    () -> String.join("\n", audit));
        } finally {
            agent.destroy();
            if (!agent.waitFor(60, TimeUnit.SECONDS)) {
                agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * docs/kinds.md "Signed kinds in deploy/", the guard's neighbour: configuration. A .cfg dropped into deploy/ could
     * reconfigure the agent (its trust, its limits, its sources) without signing anything, so it is quarantined
     * like an unsigned jar and never reaches ConfigAdmin; the same file in etc/ (the operator's) does. A jar in
     * etc/ is never installed.
     */
    @Test
    void configurationComesFromEtcNotFromDeploy() throws Exception {
        Path home = privateHome();
        Path data = tmp.resolve("data");
        Path etc = Files.createDirectories(tmp.resolve("etc"));
        Files.writeString(etc.resolve("assignments.json"), "{\"revision\":\"cfg-1\",\"addons\":[]}\n");
        Files.copy(signWithTheBuildKey(tinyBundle(tmp.resolve("stray.jar"), "io.example.stray")), etc.resolve("stray.jar"));
        int refused = freePort();
        int taken = freePort();
        Path log = tmp.resolve("agent-cfg.err");
        Process agent = builder(home, command(home, data, "run", "--verbose"), tmp.resolve("agent-cfg.out"), log).start();
        try {
            awaitLog(log, "Kind sidecar is served by io.steward.supervision.sidecar");
            Path incoming = home.resolve("deploy/.io.steward.metrics.cfg");
            Files.writeString(incoming, "port=" + refused + "\n");
            Files.move(incoming, home.resolve("deploy/io.steward.metrics.cfg"), StandardCopyOption.ATOMIC_MOVE);
            awaitLog(log, "deploy/io.steward.metrics.cfg was not installed and is now deploy/.quarantine/io.steward.metrics.cfg");
            assertTrue(Files.readString(log).contains("it is configuration, which deploy/ does not take while it takes "
                    + "only signed kinds"), () -> readLog(log));
            assertFalse(Files.exists(home.resolve("deploy/io.steward.metrics.cfg")));

            Files.writeString(etc.resolve("io.steward.metrics.cfg"), "port=" + taken + "\n");
            await("etc/io.steward.metrics.cfg reaches ConfigAdmin: metrics on port " + taken, Duration.ofSeconds(60),
                    () -> listening(taken), () -> readLog(log));
            assertFalse(listening(refused), "the configuration quarantined from deploy/ never took effect");
            try (Stream<Path> cache = Files.walk(data.resolve("cache/felix"))) {     // Felix keeps each bundle's location
                assertEquals(List.of(), cache.filter(p -> p.getFileName().toString().equals("bundle.location"))
                        .filter(p -> readLog(p).contains("stray.jar")).toList(), "a jar in etc/ is never installed");
            }
            Run status = steward(home, data, "status", "--json");
            assertEquals(1, json(status).getAsJsonObject("deploy").getAsJsonArray("quarantined").size(), status::toString);
        } finally {
            agent.destroy();
            if (!agent.waitFor(60, TimeUnit.SECONDS)) {
                agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static boolean listening(int port) {
        try (java.net.Socket s = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String readLog(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return e.toString();
        }
    }

    /**
     * docs/operations.md "Health": 'steward health' beside a running agent with a ready sidecar is OK (exit 0; --json lists the
     * agent's and the kind's checks, as the Felix Health Check services name them); once the agent is gone it is
     * CRITICAL (exit 1) and says why.
     */
    @Test
    void healthIsOkBesideARunningAgentAndCriticalWithoutOne() throws Exception {
        Path home = privateHome();
        Path data = tmp.resolve("data");
        signedSidecarAssigned(home, data);
        Run none = steward(home, data, "health");
        assertEquals(1, none.exit(), none::toString);
        assertTrue(none.stdout().contains("no agent has recorded its health"), none::toString);

        Process agent = builder(home, command(home, data, "run"), tmp.resolve("agent-h.out"), tmp.resolve("agent-h.err")).start();
        long pid = 0;
        try {
            awaitStatus(home, data, "ready");
            pid = pid(data);
            Run[] health = new Run[1];
            await("steward health is OK", Duration.ofSeconds(60), () -> {
                try {
                    health[0] = steward(home, data, "health", "--json");
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return health[0].exit() == 0;
            }, () -> String.valueOf(health[0]));
            JsonObject h = json(health[0]);
            assertTrue(h.get("ok").getAsBoolean(), health[0]::toString);
            List<String> names = new ArrayList<>();
            h.getAsJsonArray("checks").forEach(c -> names.add(c.getAsJsonObject().get("name").getAsString()));
            assertTrue(names.containsAll(List.of("Steward agent", "Steward kind sidecar")), names::toString);
            Run text = steward(home, data, "health");
            assertEquals(0, text.exit(), text::toString);
            assertTrue(text.stdout().startsWith("Steward health: OK"), text::toString);
        } finally {
            agent.destroy();
            assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "the agent stops on SIGTERM");
            if (pid > 0) {
                new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + pid).start().waitFor(10, TimeUnit.SECONDS);
            }
        }
        Run after = steward(home, data, "health");
        assertEquals(1, after.exit(), after::toString);
        assertTrue(after.stdout().contains("is not running"), after::toString);
    }

    /** A bundle with a manifest and one entry, nothing to run. */
    private static Path tinyBundle(Path file, String symbolicName) throws IOException {
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        m.getMainAttributes().putValue("Bundle-ManifestVersion", "2");
        m.getMainAttributes().putValue("Bundle-SymbolicName", symbolicName);
        m.getMainAttributes().putValue("Bundle-Version", "1.0.0");
        try (OutputStream o = Files.newOutputStream(file); JarOutputStream w = new JarOutputStream(o, m)) {
            w.putNextEntry(new JarEntry("OSGI-INF/notes.txt"));
            w.write(symbolicName.getBytes(StandardCharsets.UTF_8));
            w.closeEntry();
        }
        return file;
    }

    /** The same entries, OSGI-INF/notes.txt with other bytes: its signature no longer matches. */
    private static Path tamper(Path in, Path out) throws IOException {
        try (InputStream i = Files.newInputStream(in); JarInputStream j = new JarInputStream(i);
             OutputStream o = Files.newOutputStream(out); JarOutputStream w = new JarOutputStream(o, j.getManifest())) {
            for (JarEntry e = j.getNextJarEntry(); e != null; e = j.getNextJarEntry()) {
                w.putNextEntry(new JarEntry(e.getName()));
                if (e.getName().equals("OSGI-INF/notes.txt")) {
                    w.write("evil".getBytes(StandardCharsets.UTF_8));
                } else {
                    j.transferTo(w);
                }
                w.closeEntry();
            }
        }
        return out;
    }

    /** Signs {@code jar} with the build's kind-signing key (src/build/sign-kinds.sh), as an operator would with theirs. */
    private static Path signWithTheBuildKey(Path jar) throws IOException, InterruptedException {
        String store = System.getProperty("steward.test.deploy.keystore", "target/deploy-key/deploy-signing.p12");
        run("jarsigner", "-storetype", "PKCS12", "-keystore", store, "-storepass", "steward-build", jar.toString(),
                "steward-kinds");
        return jar;
    }

    private static void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, () -> String.join(" ", command) + ": " + out);
    }

    /** The status object of hot-car from 'steward status --json'. */
    private JsonObject status(Path home, Path data) throws IOException, InterruptedException {
        Run status = steward(home, data, "status", "--json");
        assertEquals(0, status.exit(), status::toString);
        for (JsonElement a : json(status).getAsJsonArray("addons")) {
            if (a.getAsJsonObject().get("id").getAsString().equals("hot-car")) {
                return a.getAsJsonObject();
            }
        }
        throw new AssertionError("hot-car is not in the status: " + status);
    }

    private JsonObject awaitStatus(Path home, Path data, String state) throws Exception {
        JsonObject[] last = new JsonObject[1];
        await("hot-car is " + state, Duration.ofSeconds(90), () -> {
            try {
                last[0] = status(home, data);
                return last[0].get("state").getAsString().equals(state);
            } catch (AssertionError | IOException | InterruptedException e) {
                return false;
            }
        }, () -> String.valueOf(last[0]));
        return last[0];
    }

    private static void awaitLog(Path log, String line) throws InterruptedException {
        await("the agent logs \"" + line + "\"", Duration.ofSeconds(90), () -> {
            try {
                return Files.readString(log, StandardCharsets.UTF_8).contains(line);
            } catch (IOException e) {
                return false;
            }
        }, () -> {
            try {
                return "agent log:\n" + Files.readString(log, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        });
    }

    private static void await(String what, Duration deadline, BooleanSupplier condition, Supplier<String> diagnostic)
            throws InterruptedException {
        long end = System.nanoTime() + deadline.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                fail("timed out after " + deadline.toSeconds() + " s waiting until " + what + "; " + diagnostic.get());
            }
            Thread.sleep(200);
        }
    }

    /** The pid the sidecar kind recorded for hot-car. */
    private static long pid(Path data) throws IOException {
        return JsonParser.parseString(Files.readString(data.resolve("state/sidecar/hot-car.json"))).getAsJsonObject()
                .get("pid").getAsLong();
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

    /** Runs bin/steward with the roots in the temporary directory; waits with a deadline. */
    private Run steward(Path data, String... args) throws IOException, InterruptedException {
        return steward(HOME, data, args);
    }

    /** Runs {@code home}'s bin/steward with the roots in the temporary directory; waits with a deadline. */
    private Run steward(Path home, Path data, String... args) throws IOException, InterruptedException {
        List<String> command = command(home, data, args);
        int n = ++runs;
        Path out = tmp.resolve("run-" + n + ".out");
        Path err = tmp.resolve("run-" + n + ".err");
        Process process = builder(home, command, out, err).start();
        if (!process.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            fail(String.join(" ", command) + " did not finish within " + DEADLINE_SECONDS + " s; stderr:\n"
                    + Files.readString(err));
        }
        return new Run(command, process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    private List<String> command(Path home, Path data, String... args) {
        List<String> command = new ArrayList<>(List.of(home.resolve("bin/steward").toString()));
        command.addAll(List.of(args));
        command.addAll(List.of("--data", data.toString(), "--etc", tmp.resolve("etc").toString(),
                "--trust", tmp.resolve("etc/trust").toString(), "--unit-dir", tmp.resolve("units").toString(),
                "--privileged-root", tmp.resolve("privileged").toString()));
        return command;
    }

    private ProcessBuilder builder(Path home, List<String> command, Path out, Path err) {
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(tmp.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(out.toFile())
                .redirectError(err.toFile());
        builder.environment().remove("STEWARD_JAVA_OPTS");
        builder.environment().remove("DBUS_SYSTEM_BUS_ADDRESS");
        builder.environment().put("STEWARD_COMMAND_TIMEOUT", "90");
        if (home.equals(HOME)) {
            builder.environment().remove("STEWARD_HOME"); // bin/steward finds its home itself
        } else {
            builder.environment().put("STEWARD_HOME", home.toString());
        }
        return builder;
    }

    private static JsonObject json(Run run) {
        try {
            return JsonParser.parseString(run.stdout()).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new AssertionError("stdout is not one JSON object:\n" + run, e);
        }
    }

    /** Every path under {@code root}, relative, with its kind and the SHA-256 of a file's bytes. */
    private static SortedMap<String, String> tree(Path root) throws IOException {
        SortedMap<String, String> tree = new TreeMap<>();
        if (!Files.exists(root)) {
            return tree;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : (Iterable<Path>) paths::iterator) {
                String key = root.relativize(path).toString();
                if (Files.isSymbolicLink(path)) {
                    tree.put(key, "link " + Files.readSymbolicLink(path));
                } else if (Files.isDirectory(path)) {
                    tree.put(key, "dir");
                } else {
                    tree.put(key, "file " + sha256(Files.readAllBytes(path)));
                }
            }
        }
        return tree;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
