package io.steward.supervision.sidecar.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The identity a launch carries from before its process exists: a random id that the dispatcher records
 * durably, then passes to the program in {@value #ENV}. An agent killed between the spawn and the record of
 * the pid finds the process again by scanning {@code /proc} for a session leader whose environment carries
 * the id, so a launch is never lost into an unsupervised second copy. Stateless.
 */
final class Launches {
    /** The environment variable every sidecar process (and what it forks) carries. */
    static final String ENV = "STEWARD_LAUNCH_ID";
    private static final Path PROC = Path.of("/proc");
    private static final SecureRandom RANDOM = new SecureRandom();

    private Launches() {
    }

    /** A fresh launch id: 128 random bits, hex. */
    static String newId() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /**
     * The live process started for {@code launchId}: the leader of its own process group (as {@code setsid}
     * makes it) whose initial environment holds {@code STEWARD_LAUNCH_ID=<launchId>}. Processes of other
     * users cannot be read and are skipped: a sidecar runs as the agent's user.
     */
    static Optional<Processes.Stat> find(String launchId) {
        byte[] wanted = (ENV + "=" + launchId).getBytes(StandardCharsets.US_ASCII);
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(PROC, p -> Processes.isNumber(p.getFileName().toString()))) {
            for (Path p : dir) {
                long pid = Long.parseLong(p.getFileName().toString());
                Optional<Processes.Stat> stat = Processes.stat(pid);
                if (stat.isPresent() && stat.get().pgrp() == pid && !stat.get().zombie() && carries(p, wanted)) {
                    return stat;
                }
            }
        } catch (IOException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** Whether {@code /proc/<pid>/environ} (NUL-separated) has the entry {@code wanted}. */
    private static boolean carries(Path proc, byte[] wanted) {
        byte[] env;
        try {
            env = Files.readAllBytes(proc.resolve("environ"));
        } catch (IOException | SecurityException e) {
            return false;
        }
        int start = 0;
        for (int i = 0; i <= env.length; i++) {
            if (i == env.length || env[i] == 0) {
                if (i - start == wanted.length && java.util.Arrays.equals(env, start, i, wanted, 0, wanted.length)) {
                    return true;
                }
                start = i + 1;
            }
        }
        return false;
    }
}
