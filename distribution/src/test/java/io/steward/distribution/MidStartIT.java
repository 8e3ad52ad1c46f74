package io.steward.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15 §0, black box: the window between a sidecar's spawn and its readiness. The sidecar holds back
 * READY=1 until the test creates {@code $STEWARD_ADDON_STATE/go}, so the window stays open as long as the
 * test needs: the agent is killed (SIGKILL) in it, or the sidecar kind's jar leaves {@code deploy/} in it.
 * Either way exactly one process of the add-on exists afterwards, and the next agent or dispatcher adopts it.
 */
class MidStartIT {
    private static final Path HOME = Path.of(System.getProperty("steward.home", "target/steward")).toAbsolutePath();
    private static final String ID = "mid-car";
    private static final byte[] LAUNCH = "STEWARD_LAUNCH_ID=".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path tmp;
    private Path home;
    private Path data;
    private final List<Process> agents = new ArrayList<>();

    @BeforeEach
    void signedGatedSidecar() throws Exception {
        home = tmp.resolve("home");
        for (String dir : List.of("bin", "bundle", "deploy", "etc/deploy-trust")) {
            Files.createDirectories(home.resolve(dir));
            try (Stream<Path> files = Files.list(HOME.resolve(dir))) {
                for (Path f : files.toList()) {
                    Files.copy(f, home.resolve(dir).resolve(f.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        data = tmp.resolve("data");
        Path etc = Files.createDirectories(tmp.resolve("etc/trust"));
        Path keys = Files.createDirectories(tmp.resolve("keys"));
        assertEquals(0, steward("keygen", "--out", keys.resolve("it").toString()).waitFor());
        Files.copy(keys.resolve("it.pub.pem"), etc.resolve("it.pem"));
        Path addon = Files.createDirectories(tmp.resolve(ID));
        Files.writeString(addon.resolve("addon.json"), "{\"id\": \"" + ID + "\", \"version\": \"1.0.0\", "
                + "\"supervision\": \"sidecar\", \"binary\": \"run.sh\", \"notify\": true, \"start_timeout_seconds\": 300}\n");
        Files.writeString(addon.resolve("run.sh"), String.join("\n", "#!/bin/bash",
                "echo $$ >> \"$STEWARD_ADDON_STATE/pids\"",
                "trap 'exit 0' TERM",
                "while [ ! -e \"$STEWARD_ADDON_STATE/go\" ]; do sleep 0.05 & wait $!; done",
                "/usr/bin/systemd-notify --no-block --ready",
                "while true; do sleep 0.2 & wait $!; done", ""));
        Files.setPosixFilePermissions(addon.resolve("run.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Path artifact = tmp.resolve(ID + "-1.0.0.tar.gz");
        Process pack = steward("pack", addon.toString(), "--key", keys.resolve("it.key.pem").toString(),
                "--out", artifact.toString(), "--json");
        assertEquals(0, pack.waitFor());
        JsonObject packed = JsonParser.parseString(Files.readString(tmp.resolve("last.out"))).getAsJsonObject();
        Files.writeString(tmp.resolve("etc/assignments.json"), "{\"revision\":\"mid-1\",\"addons\":[{\"id\":\"" + ID
                + "\",\"version\":\"1.0.0\",\"supervision\":\"sidecar\",\"artifact\":{\"url\":\"" + artifact.toUri()
                + "\",\"sha256\":\"" + packed.get("sha256").getAsString() + "\",\"signature\":\""
                + packed.get("signature").getAsString() + "\",\"key\":\"" + packed.get("key").getAsString() + "\"}}]}\n");
    }

    @AfterEach
    void stopEverything() throws Exception {
        for (Process agent : agents) {
            agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        for (long pid : sidecarProcesses()) {
            new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + pid).start().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void anAgentKilledBetweenASidecarsSpawnAndItsReadinessLeavesOneProcessThatTheNextAgentAdopts() throws Exception {
        Process first = agent(1);
        long pid = awaitSpawned();
        first.destroyForcibly();                   // SIGKILL while the sidecar waits to become ready
        assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        assertTrue(alive(pid), "the sidecar outlives the agent");

        agent(2);
        awaitLog(2, "adopted pid " + pid);
        Files.writeString(data.resolve("addons/" + ID + "/state/go"), "");
        JsonObject ready = awaitStatus("ready");
        assertTrue(ready.get("detail").getAsString().contains("pid " + pid), ready::toString);
        assertEquals(List.of(pid), sidecarProcesses(), "exactly one process of the add-on");
        assertEquals(List.of(Long.toString(pid)), Files.readAllLines(data.resolve("addons/" + ID + "/state/pids")),
                "started once");
    }

    @Test
    void aSidecarStillStartingWhenItsKindLeavesDeployIsAdoptedWhenTheKindReturnsNotStartedTwice() throws Exception {
        agent(1);
        long pid = awaitSpawned();
        Path jar = sidecarJar();
        Path away = Files.move(jar, tmp.resolve(jar.getFileName()));
        JsonObject detached = awaitStatus("detached");
        assertTrue(alive(pid), "detached, left running: " + detached);
        Files.move(away, jar, StandardCopyOption.ATOMIC_MOVE);

        awaitLog(1, "adopted pid " + pid);
        Files.writeString(data.resolve("addons/" + ID + "/state/go"), "");
        JsonObject ready = awaitStatus("ready");
        assertTrue(ready.get("detail").getAsString().contains("pid " + pid), ready::toString);
        assertEquals(List.of(pid), sidecarProcesses(), "no second copy");

        // supervised again: killed, it is restarted by the new dispatcher, once
        new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + pid).start().waitFor(10, TimeUnit.SECONDS);
        await("restarted", () -> {
            JsonObject state = recorded();
            return state != null && state.has("pid") && state.get("pid").getAsLong() != pid
                    && state.get("ready").getAsBoolean() && alive(state.get("pid").getAsLong());
        }, () -> String.valueOf(recorded()));
        long second = recorded().get("pid").getAsLong();
        assertEquals(List.of(second), sidecarProcesses());
        assertEquals(2, Files.readAllLines(data.resolve("addons/" + ID + "/state/pids")).size(), "restarted once");
    }

    // ---------------------------------------------------------------- plumbing

    private Path sidecarJar() throws IOException {
        try (Stream<Path> jars = Files.list(home.resolve("deploy"))) {
            return jars.filter(p -> p.getFileName().toString().startsWith("io.steward.supervision.sidecar-"))
                    .findFirst().orElseThrow();
        }
    }

    /** Waits until the add-on's process runs and the kind recorded it; its pid. */
    private long awaitSpawned() throws Exception {
        await("the sidecar was spawned", () -> {
            JsonObject state = recorded();
            return state != null && state.has("pid") && sidecarProcesses().size() == 1;
        }, () -> String.valueOf(recorded()));
        return recorded().get("pid").getAsLong();
    }

    private JsonObject recorded() {
        try {
            return JsonParser.parseString(Files.readString(data.resolve("state/sidecar/" + ID + ".json"))).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Live process-group leaders whose environment names this add-on: every copy of it on the host. */
    private static List<Long> sidecarProcesses() {
        byte[] wanted = ("STEWARD_ADDON_ID=" + ID).getBytes(StandardCharsets.US_ASCII);
        List<Long> found = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString()
                .matches("[0-9]+"))) {
            for (Path p : dir) {
                long pid = Long.parseLong(p.getFileName().toString());
                try {
                    String stat = Files.readString(p.resolve("stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    byte[] env = Files.readAllBytes(p.resolve("environ"));
                    // the keeper a sidecar runs under has its environment but not its launch id
                    if (Long.parseLong(f[2]) == pid && alive(pid) && contains(env, wanted) && containsPrefix(env, LAUNCH)) {
                        found.add(pid);
                    }
                } catch (IOException | RuntimeException e) {
                    // gone meanwhile
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return found;
    }

    private static boolean contains(byte[] env, byte[] entry) {
        int start = 0;
        for (int i = 0; i <= env.length; i++) {
            if (i == env.length || env[i] == 0) {
                if (i - start == entry.length && java.util.Arrays.equals(env, start, i, entry, 0, entry.length)) {
                    return true;
                }
                start = i + 1;
            }
        }
        return false;
    }

    private static boolean containsPrefix(byte[] env, byte[] prefix) {
        int start = 0;
        for (int i = 0; i <= env.length; i++) {
            if (i == env.length || env[i] == 0) {
                if (i - start >= prefix.length && java.util.Arrays.equals(env, start, start + prefix.length, prefix, 0, prefix.length)) {
                    return true;
                }
                start = i + 1;
            }
        }
        return false;
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

    private JsonObject awaitStatus(String state) throws Exception {
        JsonObject[] last = new JsonObject[1];
        await(ID + " is " + state, () -> {
            try {
                Process status = steward("status", "--json");
                if (status.waitFor() != 0) {
                    return false;
                }
                for (JsonElement a : JsonParser.parseString(Files.readString(tmp.resolve("last.out")))
                        .getAsJsonObject().getAsJsonArray("addons")) {
                    if (a.getAsJsonObject().get("id").getAsString().equals(ID)) {
                        last[0] = a.getAsJsonObject();
                    }
                }
                return last[0] != null && last[0].get("state").getAsString().equals(state);
            } catch (IOException | InterruptedException | RuntimeException e) {
                return false;
            }
        }, () -> String.valueOf(last[0]));
        return last[0];
    }

    private void awaitLog(int agent, String text) throws Exception {
        Path log = tmp.resolve("agent-" + agent + ".err");
        await("agent " + agent + " logs \"" + text + "\"", () -> {
            try {
                return Files.readString(log).contains(text);
            } catch (IOException e) {
                return false;
            }
        }, () -> {
            try {
                return Files.readString(log);
            } catch (IOException e) {
                return e.toString();
            }
        });
    }

    private static void await(String what, BooleanSupplier condition, java.util.function.Supplier<String> diagnostic)
            throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                fail("timed out waiting until " + what + "; " + diagnostic.get());
            }
            Thread.sleep(100);
        }
    }

    private Process agent(int n) throws IOException {
        Process p = builder(command("run", "--verbose"), tmp.resolve("agent-" + n + ".out"),
                tmp.resolve("agent-" + n + ".err")).start();
        agents.add(p);
        return p;
    }

    /** A one-shot command; its stdout goes to {@code last.out}. */
    private Process steward(String... args) throws IOException, InterruptedException {
        Process p = builder(command(args), tmp.resolve("last.out"), tmp.resolve("last.err")).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", args) + " did not finish");
        }
        return p;
    }

    private List<String> command(String... args) {
        List<String> command = new ArrayList<>(List.of(home.resolve("bin/steward").toString()));
        command.addAll(List.of(args));
        command.addAll(List.of("--data", data.toString(), "--etc", tmp.resolve("etc").toString(),
                "--trust", tmp.resolve("etc/trust").toString(), "--unit-dir", tmp.resolve("units").toString(),
                "--privileged-root", tmp.resolve("privileged").toString()));
        return command;
    }

    private ProcessBuilder builder(List<String> command, Path out, Path err) {
        ProcessBuilder builder = new ProcessBuilder(command).directory(tmp.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().remove("STEWARD_JAVA_OPTS");
        builder.environment().remove("DBUS_SYSTEM_BUS_ADDRESS");
        builder.environment().put("STEWARD_COMMAND_TIMEOUT", "90");
        builder.environment().put("STEWARD_HOME", home.toString());
        return builder;
    }
}
