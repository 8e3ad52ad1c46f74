package io.steward.supervision.ephemeral.helper.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Helper runs whose agent is gone. Every run carries {@value #ENV}{@code =<agent pid>:<agent start ticks>} in
 * its environment; an agent killed with SIGKILL cannot kill its runs' process groups, and a run's caller died
 * with it, so the next dispatcher (in the next agent) finds the session leaders whose owner is no longer the
 * same live process and kills their groups: a hung run never outlives its agent for good. Stateless.
 */
final class OrphanRuns {
    static final String ENV = "STEWARD_HELPER_OWNER";
    private static final Path PROC = Path.of("/proc");

    private OrphanRuns() {
    }

    /** This JVM as an owner: pid and start time in clock ticks since boot (a recycled pid has another). */
    static String self() {
        long pid = ProcessHandle.current().pid();
        return pid + ":" + startTicks(pid).orElse(-1L);
    }

    /** Process-group leaders carrying an owner that is not a live process any more. */
    static List<Long> find() {
        List<Long> orphans = new ArrayList<>();
        byte[] prefix = (ENV + "=").getBytes(StandardCharsets.US_ASCII);
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(PROC, p -> p.getFileName().toString().matches("[0-9]+"))) {
            for (Path p : dir) {
                long pid = Long.parseLong(p.getFileName().toString());
                Optional<String> owner = value(p, prefix);
                if (owner.isPresent() && pgrp(pid).orElse(-1L) == pid && !ownerAlive(owner.get())) {
                    orphans.add(pid);
                }
            }
        } catch (IOException e) {
            return orphans;
        }
        return orphans;
    }

    private static boolean ownerAlive(String owner) {
        String[] parts = owner.split(":", 2);
        try {
            long pid = Long.parseLong(parts[0]);
            long ticks = Long.parseLong(parts[1]);
            return startTicks(pid).map(t -> t == ticks).orElse(false);
        } catch (RuntimeException e) {
            return true;       // not ours to judge
        }
    }

    private static Optional<String> value(Path proc, byte[] prefix) {
        byte[] env;
        try {
            env = Files.readAllBytes(proc.resolve("environ"));
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
        int start = 0;
        for (int i = 0; i <= env.length; i++) {
            if (i == env.length || env[i] == 0) {
                if (i - start > prefix.length && Arrays.equals(env, start, start + prefix.length, prefix, 0, prefix.length)) {
                    return Optional.of(new String(env, start + prefix.length, i - start - prefix.length,
                            StandardCharsets.US_ASCII));
                }
                start = i + 1;
            }
        }
        return Optional.empty();
    }

    private static Optional<String[]> stat(long pid) {
        try {
            String line = Files.readString(PROC.resolve(Long.toString(pid)).resolve("stat"), StandardCharsets.UTF_8);
            String[] f = line.substring(line.lastIndexOf(')') + 2).split(" ");
            return f[0].equals("Z") ? Optional.empty() : Optional.of(f);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static Optional<Long> pgrp(long pid) {
        return stat(pid).map(f -> Long.parseLong(f[2]));
    }

    private static Optional<Long> startTicks(long pid) {
        return stat(pid).map(f -> Long.parseLong(f[19]));
    }
}
