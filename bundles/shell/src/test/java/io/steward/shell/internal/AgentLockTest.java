package io.steward.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Who holds {@code <data>/state/agent.lock}, read the way {@code steward status} reads it. */
class AgentLockTest {
    @TempDir
    Path state;

    private Path lockFile() {
        return state.resolve("agent.lock");
    }

    /** Runs {@code check} while another JVM holds the lock with {@code line} in it. */
    private void whileAnotherProcessHolds(String line, Runnable check) throws Exception {
        Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), LockHolder.class.getName(), lockFile().toString(), line)
                .redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(),
                StandardCharsets.UTF_8))) {
            assertEquals(LockHolder.LOCKED, out.readLine(), "the holder took the lock");
            check.run();
        } finally {
            holder.getOutputStream().close();
            assertTrue(holder.waitFor(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void noFileOrAFileNobodyLocksIsNoHolder() throws Exception {
        assertEquals(Optional.empty(), AgentLock.holder(state));
        Files.writeString(lockFile(), "pid 4242 agent since 2026-12-01T10:00:00Z");
        assertEquals(Optional.empty(), AgentLock.holder(state), "left behind by an agent that died");
        assertEquals("agent: not running; the states below are as last recorded",
                AgentLock.describe(AgentLock.holder(state)));
    }

    @Test
    void anAgentInAnotherProcessIsNamedWithItsPidAndStart() throws Exception {
        whileAnotherProcessHolds("pid 4242 agent since 2026-12-01T10:00:00Z", () -> {
            Optional<AgentLock> h = AgentLock.holder(state);
            assertEquals(Optional.of(new AgentLock(4242, true, "2026-12-01T10:00:00Z")), h);
            assertEquals("agent: running (pid 4242, since 2026-12-01T10:00:00Z)", AgentLock.describe(h));
        });
        assertEquals(Optional.empty(), AgentLock.holder(state), "released when the holder ends");
    }

    @Test
    void aOneShotApplyHoldingTheLockIsNotAnAgent() throws Exception {
        whileAnotherProcessHolds("pid 7 one-shot since 2026-12-01T10:00:00Z", () -> assertEquals(
                "agent: not running; a one-shot apply is working (pid 7, since 2026-12-01T10:00:00Z)",
                AgentLock.describe(AgentLock.holder(state))));
    }

    @Test
    void theAgentsOwnShellSeesItsLockEvenWithoutAHolderLine() throws Exception {
        try (FileChannel ch = FileChannel.open(lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock lock = ch.lock()) {
            assertEquals(Optional.of(new AgentLock(0, true, "")), AgentLock.holder(state));
            assertEquals("agent: running", AgentLock.describe(AgentLock.holder(state)));
        }
    }
}
