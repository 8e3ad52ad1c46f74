package io.steward.privileged;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Who this process runs as, read from {@code /proc} rather than from {@code user.name} (which any
 * {@code -D} can set). It decides who does privileged work: in-process implementations register only
 * when the agent is root, the updater's client only when it is not.
 */
public final class ProcessIdentity {
    private static final Path SELF = Path.of("/proc/self/status");

    private ProcessIdentity() {
    }

    /** The effective uid of this process, empty where {@code /proc} is unavailable (not Linux). */
    public static OptionalLong effectiveUid() {
        return effectiveUid(SELF);
    }

    /** True when this process runs with effective uid 0. */
    public static boolean isRoot() {
        OptionalLong uid = effectiveUid();
        return uid.isPresent() && uid.getAsLong() == 0;
    }

    /** The effective uid in a {@code /proc/<pid>/status} file ({@code Uid: real effective saved fs}). */
    public static OptionalLong effectiveUid(Path procStatus) {
        try {
            for (String line : Files.readAllLines(procStatus, StandardCharsets.US_ASCII)) {
                if (line.startsWith("Uid:")) {
                    String[] f = line.substring(4).trim().split("\\s+");
                    return f.length > 1 ? OptionalLong.of(Long.parseLong(f[1])) : OptionalLong.empty();
                }
            }
        } catch (IOException | RuntimeException e) {
            // no /proc: not Linux
        }
        return OptionalLong.empty();
    }
}
