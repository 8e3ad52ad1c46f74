package io.steward.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
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

    /** Runs bin/steward with the roots in the temporary directory; waits with a deadline. */
    private Run steward(Path data, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(HOME.resolve("bin/steward").toString()));
        command.addAll(List.of(args));
        command.addAll(List.of("--data", data.toString(), "--etc", tmp.resolve("etc").toString(),
                "--trust", tmp.resolve("etc/trust").toString(), "--unit-dir", tmp.resolve("units").toString(),
                "--privileged-root", tmp.resolve("privileged").toString()));
        int n = ++runs;
        Path out = tmp.resolve("run-" + n + ".out");
        Path err = tmp.resolve("run-" + n + ".err");
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(tmp.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(out.toFile())
                .redirectError(err.toFile());
        builder.environment().remove("STEWARD_HOME"); // bin/steward finds its home itself
        builder.environment().remove("STEWARD_JAVA_OPTS");
        builder.environment().remove("DBUS_SYSTEM_BUS_ADDRESS");
        builder.environment().put("STEWARD_COMMAND_TIMEOUT", "90");
        Process process = builder.start();
        if (!process.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            fail(String.join(" ", command) + " did not finish within " + DEADLINE_SECONDS + " s; stderr:\n"
                    + Files.readString(err));
        }
        return new Run(command, process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
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
