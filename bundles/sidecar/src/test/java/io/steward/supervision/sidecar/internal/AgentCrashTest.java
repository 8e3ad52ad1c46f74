package io.steward.supervision.sidecar.internal;

import static io.steward.supervision.sidecar.internal.TestSupport.alive;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * kill -9 of the agent: the sidecar keeps running, the next agent adopts it (same pid), removal stops it.
 * Each "agent" is a JVM of its own ({@link AgentMain}) running the dispatcher over the same data directory.
 */
class AgentCrashTest {
    private Path root;
    private HostLayout layout;
    private final List<Process> agents = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        Path work = Path.of(System.getProperty("sidecar.test.work", "target/sidecar-test")).toAbsolutePath();
        Files.createDirectories(work);
        root = Files.createTempDirectory(work, "crash");
        layout = TestSupport.layout(root);
        Path dir = Files.createDirectories(layout.addonHome(new AddonId("survivor")).resolve("versions/1.0.0"));
        Path run = dir.resolve("run.sh");
        Files.writeString(run, TestSupport.script("""
                trap 'exit 0' TERM
                notify --ready --status="up"
                while true; do idle; done
                """));
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @AfterEach
    void tearDown() throws IOException {
        agents.forEach(Process::destroyForcibly);
        TestSupport.killAll(root);
        TestSupport.deleteTree(root);
    }

    private Process agent(String mode) throws IOException {
        return agent(mode, "survivor");
    }

    private Process agent(String mode, String id) throws IOException {
        String java = ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java");
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                AgentMain.class.getName(), root.toString(), mode, id);
        pb.redirectError(ProcessBuilder.Redirect.appendTo(root.resolve("agent-" + mode + ".log").toFile()));
        Process p = pb.start();
        agents.add(p);
        return p;
    }

    /** The next stdout line of an agent, within 30 s. */
    private static String line(Process agent) throws Exception {
        BufferedReader r = new BufferedReader(new InputStreamReader(agent.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> next = CompletableFuture.supplyAsync(() -> {
            try {
                return r.readLine();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        String line = next.get(30, TimeUnit.SECONDS);
        assertTrue(line != null, "the agent closed its output");
        return line;
    }

    private static long pid(String statusLine) {
        Matcher m = Pattern.compile("pid (\\d+)").matcher(statusLine);
        assertTrue(m.find(), statusLine);
        return Long.parseLong(m.group(1));
    }

    @Test
    void aKilledAgentsSidecarIsAdoptedByTheNextAgentAndStoppedOnRemoval() throws Exception {
        Process first = agent("apply");
        String applied = line(first);
        assertTrue(applied.startsWith("STATUS READY"), applied);
        long pid = pid(applied);
        long keeper = TestSupport.keeperOf(pid).orElseThrow(() -> new AssertionError("pid " + pid + " has no keeper"));
        assertNotEquals(first.pid(), keeper, "a sidecar is not a child of the agent");

        first.destroyForcibly();                       // SIGKILL: no deactivate, no cleanup
        assertTrue(first.waitFor(10, TimeUnit.SECONDS));
        assertEquals(137, first.exitValue());
        assertTrue(alive(pid), "the sidecar outlives the agent");
        assertEquals(java.util.Optional.of(keeper), TestSupport.keeperOf(pid), "its keeper outlives the agent too");

        Process second = agent("adopt");
        String adopted = line(second);
        assertTrue(adopted.startsWith("STATUS READY"), adopted);
        assertEquals(pid, pid(adopted), "adopted, not restarted");
        assertEquals(List.of(pid), TestSupport.pids(layout, "survivor"));

        Writer commands = new java.io.OutputStreamWriter(second.getOutputStream(), StandardCharsets.UTF_8);
        commands.write("remove\n");
        commands.flush();
        assertEquals("REMOVED", line(second));
        assertFalse(alive(pid), "removal stopped it");
        assertFalse(Files.exists(layout.state().resolve("sidecar/survivor.json")));
        commands.close();
        assertTrue(second.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, second.exitValue());
    }

    @Test
    void aSidecarThatDiedWithTheAgentIsStartedAgain() throws Exception {
        Process first = agent("apply");
        long pid = pid(line(first));
        first.destroyForcibly();
        first.waitFor(10, TimeUnit.SECONDS);
        Processes.signalGroup(pid, "KILL");
        TestSupport.await("the sidecar died", () -> !alive(pid));

        Process second = agent("adopt");
        String adopted = line(second);
        assertTrue(adopted.startsWith("STATUS READY"), adopted);
        assertNotEquals(pid, pid(adopted));
        assertEquals(2, TestSupport.pids(layout, "survivor").size());
    }

    /**
     * kill -9 of the agent between a sidecar's spawn and its readiness: the restarted agent, handed the same
     * first install again (its ledger never recorded it as installed), takes the process over and waits for the
     * rest of its readiness; no second copy.
     */
    @Test
    void anAgentKilledBetweenSpawnAndReadinessLeavesOneProcessThatTheNextAgentAdopts() throws Exception {
        Path dir = Files.createDirectories(layout.addonHome(new AddonId("gated")).resolve("versions/1.0.0"));
        Files.writeString(dir.resolve("run.sh"), SidecarDispatcherTest.GATED);
        Files.setPosixFilePermissions(dir.resolve("run.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Process first = agent("apply", "gated");
        TestSupport.await("the sidecar was spawned", () -> TestSupport.pids(layout, "gated").size() == 1);
        long pid = TestSupport.pids(layout, "gated").get(0);
        first.destroyForcibly();              // SIGKILL while the sidecar waits to become ready
        assertTrue(first.waitFor(10, TimeUnit.SECONDS));
        assertTrue(alive(pid), "the sidecar outlives the agent");

        Process second = agent("apply", "gated");
        TestSupport.await("the next agent took the process over", () -> Files.readString(root.resolve("agent-apply.log"))
                .contains("adopted pid " + pid));
        Files.writeString(layout.addonHome(new AddonId("gated")).resolve("state/go"), "");
        String applied = line(second);
        assertTrue(applied.startsWith("STATUS READY"), applied);
        assertEquals(pid, pid(applied), "adopted, not started again");
        assertEquals(List.of(pid), TestSupport.pids(layout, "gated"), "exactly one process ever ran");
    }
}
