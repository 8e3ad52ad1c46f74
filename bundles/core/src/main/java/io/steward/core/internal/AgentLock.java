package io.steward.core.internal;

import io.steward.supervision.HostLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent lock ({@code agent.lock} in the state directory): one process at a time works on a data
 * directory; the file says who holds it. Held from the first acquire until {@link #release()}.
 * Reconcile thread only.
 */
final class AgentLock {
    // the reconciler's logger: these lines are the reconciler's in the log
    private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

    private final HostLayout layout;
    private final boolean automatic;
    private final Clock clock;
    private FileChannel lockChannel;
    private FileLock lock;

    AgentLock(HostLayout layout, boolean automatic, Clock clock) {
        this.layout = layout;
        this.automatic = automatic;
        this.clock = clock;
    }

    boolean held() {
        return lock != null;
    }

    void acquire() {
        if (lock != null) {
            return;
        }
        Path file = layout.state().resolve("agent.lock");
        try {
            Files.createDirectories(layout.state());
            FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null;
            }
            if (l == null) {
                ch.close();
                throw new IllegalStateException("another Steward agent is working on " + layout.data()
                        + " (it holds " + file + "); stop it or use its shell");
            }
            lockChannel = ch;
            lock = l;
            // who holds it, for the next process that finds it locked (steward status)
            String holder = "pid " + ProcessHandle.current().pid() + " " + (automatic ? "agent" : "one-shot")
                    + " since " + clock.instant() + "\n";
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(holder.getBytes(StandardCharsets.UTF_8)), 0);
        } catch (IOException e) {
            throw new IllegalStateException("cannot lock " + file + ": " + e.getMessage(), e);
        }
    }

    /** Whether another process holds the agent lock; only reads (a missing file: no agent). */
    boolean agentRunning() {
        Path file = layout.state().resolve("agent.lock");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            try (FileLock probe = ch.tryLock(0, Long.MAX_VALUE, true)) {
                return probe == null;
            } catch (OverlappingFileLockException e) {
                return true;    // this JVM holds it (an embedding that runs a plan beside its agent)
            }
        } catch (IOException e) {
            return false;
        }
    }

    void release() {
        try {
            if (lockChannel != null) {
                lockChannel.close();    // releases the lock
            }
        } catch (IOException e) {
            LOG.debug("Closing the agent lock failed", e);
        }
    }
}
