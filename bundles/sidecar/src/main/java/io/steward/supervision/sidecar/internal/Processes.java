package io.steward.supervision.sidecar.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Linux process plumbing: the programs Steward runs are named by absolute path (no {@code PATH}
 * lookup) and run with an empty environment; process facts come from {@code /proc}. Stateless.
 */
final class Processes {
    private static final Logger LOG = LoggerFactory.getLogger(Processes.class);
    /** Resets signal dispositions to their defaults before it execs the program (coreutils 8.31 and later). */
    static final String ENV = "/usr/bin/env";
    /** Signals a whole process group at once ({@code kill -s SIG -- -PGID}). */
    static final String KILL = "/bin/kill";
    private static final Path PROC = Path.of("/proc");

    private Processes() {
    }

    /**
     * What {@code /proc/<pid>/stat} says about a process.
     *
     * @param pid        the process
     * @param state      the state letter ({@code Z} for a zombie)
     * @param ppid       its parent
     * @param pgrp       its process group
     * @param startTicks when it started, in clock ticks since boot (with the pid, it names one process)
     */
    record Stat(long pid, char state, long ppid, long pgrp, long startTicks) {
        boolean zombie() {
            return state == 'Z' || state == 'X';
        }
    }

    /**
     * The stat line of a process, empty when it does not exist. Parsed from the bytes without building strings:
     * the supervisor reads it for every sidecar several times a second.
     */
    static Optional<Stat> stat(long pid) {
        byte[] line;
        try {
            line = Files.readAllBytes(PROC.resolve(Long.toString(pid)).resolve("stat"));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
        int i = line.length - 1;
        while (i >= 0 && line[i] != ')') {         // the command name may contain spaces and parentheses
            i--;
        }
        if (i < 0 || i + 2 >= line.length) {
            return Optional.empty();
        }
        char state = (char) line[i + 2];
        long ppid = 0;
        long pgrp = 0;
        long start = -1;
        int field = 1;                             // fields after the name: 1 state, 2 ppid, 3 pgrp, ... 20 starttime
        long value = 0;
        for (int j = i + 4; j <= line.length; j++) {
            byte b = j < line.length ? line[j] : (byte) ' ';
            if (b >= '0' && b <= '9') {
                value = value * 10 + (b - '0');
            } else if (b == ' ' || b == '\n') {
                field++;
                if (field == 2) {
                    ppid = value;
                } else if (field == 3) {
                    pgrp = value;
                } else if (field == 20) {
                    start = value;
                    break;
                }
                value = 0;
            }
        }
        return start < 0 ? Optional.empty() : Optional.of(new Stat(pid, state, ppid, pgrp, start));
    }

    /**
     * True when {@code pid} is a live (not zombie) process that started at {@code started}: a recycled pid
     * has another start time. Start times are compared to the millisecond, as {@link ProcessHandle.Info}
     * derives them from {@code /proc}, the same way in every JVM.
     */
    static boolean alive(long pid, Instant started) {
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isEmpty()) {
            return false;
        }
        Optional<Instant> actual = handle.get().info().startInstant();
        if (actual.isEmpty() || actual.get().toEpochMilli() != started.toEpochMilli()) {
            return false;
        }
        return stat(pid).map(s -> !s.zombie()).orElse(false);
    }

    /** True when {@code pid} is a live (not zombie) process that started at {@code startTicks}; one read of /proc. */
    static boolean alive(long pid, long startTicks) {
        return stat(pid).map(s -> !s.zombie() && s.startTicks() == startTicks).orElse(false);
    }

    /** Live (not zombie) members of a process group. */
    static List<Long> groupMembers(long pgid) {
        List<Long> members = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(PROC, p -> isNumber(p.getFileName().toString()))) {
            for (Path p : dir) {
                long pid = Long.parseLong(p.getFileName().toString());
                stat(pid).filter(s -> s.pgrp() == pgid && !s.zombie()).ifPresent(s -> members.add(s.pid()));
            }
        } catch (IOException e) {
            LOG.debug("Cannot list /proc", e);
        }
        return members;
    }

    /** Sends {@code signal} (a name such as {@code TERM}) to every process of group {@code pgid}. */
    static boolean signalGroup(long pgid, String signal) {
        if (pgid <= 1) {
            throw new IllegalArgumentException("refusing to signal process group " + pgid);
        }
        return run(KILL, "-s", signal, "--", "-" + pgid);
    }

    /** Sends {@code signal} to one process. */
    static boolean signal(long pid, String signal) {
        if (pid <= 1) {
            throw new IllegalArgumentException("refusing to signal process " + pid);
        }
        return run(KILL, "-s", signal, Long.toString(pid));
    }

    /** This boot's id; a pid recorded under another boot id names some other process. */
    static String bootId() {
        try {
            return Files.readString(PROC.resolve("sys/kernel/random/boot_id"), StandardCharsets.US_ASCII).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static boolean run(String... command) {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().clear();
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        try {
            Process p = pb.start();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (IOException e) {
            LOG.warn("Cannot run {}: {}", command[0], e.getMessage());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static boolean isNumber(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (!Character.isDigit(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }
}
