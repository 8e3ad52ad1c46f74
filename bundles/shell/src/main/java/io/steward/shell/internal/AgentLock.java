package io.steward.shell.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Who holds {@code <data>/state/agent.lock}, the reconciler's lock: the holder writes
 * {@code pid <pid> agent|one-shot since <instant>} into it. Only reads; a missing file is no holder.
 *
 * @param pid   the holder's process id
 * @param agent whether the holder is an agent ({@code steward run}), not a one-shot {@code apply}
 * @param since when it took the lock (ISO-8601), or empty when it did not say
 */
record AgentLock(long pid, boolean agent, String since) {
    private static final Pattern HOLDER = Pattern.compile("pid (\\d+) (agent|one-shot) since (\\S+)");

    /** The holder of the lock in {@code state}, if a process holds it now. */
    static Optional<AgentLock> holder(Path state) {
        Path file = state.resolve("agent.lock");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            try (FileLock probe = ch.tryLock(0, Long.MAX_VALUE, true)) {
                if (probe != null) {
                    return Optional.empty();
                }
            } catch (OverlappingFileLockException e) {
                // held in this JVM: the agent's own shell
            }
            Matcher m = HOLDER.matcher(new String(Files.readAllBytes(file), StandardCharsets.UTF_8));
            return Optional.of(m.find() ? new AgentLock(Long.parseLong(m.group(1)), m.group(2).equals("agent"),
                    m.group(3)) : new AgentLock(0, true, ""));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** One line for {@code steward status}. */
    static String describe(Optional<AgentLock> holder) {
        if (holder.isEmpty()) {
            return "agent: not running; the states below are as last recorded";
        }
        AgentLock h = holder.get();
        String who = h.agent() ? "agent: running" : "agent: not running; a one-shot apply is working";
        return who + (h.pid() > 0 ? " (pid " + h.pid() + (h.since().isEmpty() ? "" : ", since " + h.since()) + ")" : "");
    }
}
