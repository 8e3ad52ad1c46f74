package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.Resources;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Best-effort resource limits through cgroup v2: each limited add-on gets
 * {@code <cgroup2 mount>/steward/<id>} with {@code cpu.max}, {@code memory.max} and {@code pids.max},
 * and its pid is moved there right after it starts (children forked before the move stay outside).
 * When the host has no usable cgroup v2 hierarchy (cgroup v1 only, or a hybrid one whose v2 part lacks
 * the controllers), nothing is written and the reason is returned for the status detail.
 * Stateless apart from the mount it found.
 */
final class Cgroups {
    private static final long CPU_PERIOD_USEC = 100_000;

    private final Optional<Path> mount;

    /** Finds the cgroup2 mount in {@code mountinfo} (normally {@code /proc/self/mountinfo}). */
    Cgroups(Path mountinfo) {
        this.mount = findMount(mountinfo);
    }

    static Optional<Path> findMount(Path mountinfo) {
        try {
            for (String line : Files.readAllLines(mountinfo, StandardCharsets.UTF_8)) {
                int dash = line.indexOf(" - ");
                if (dash < 0) {
                    continue;
                }
                String[] after = line.substring(dash + 3).split(" ");
                String[] before = line.substring(0, dash).split(" ");
                if (after.length > 0 && after[0].equals("cgroup2") && before.length > 4) {
                    return Optional.of(Path.of(before[4].replace("\\040", " ")));
                }
            }
        } catch (IOException e) {
            // no /proc: no cgroups
        }
        return Optional.empty();
    }

    /** The controllers a set of limits needs. */
    static Set<String> needed(Resources r) {
        Set<String> needed = new TreeSet<>();
        r.cpuMaxPercent().ifPresent(x -> needed.add("cpu"));
        r.memoryMaxBytes().ifPresent(x -> needed.add("memory"));
        r.tasksMax().ifPresent(x -> needed.add("pids"));
        return needed;
    }

    /**
     * Puts {@code pid} under the limits.
     *
     * @return empty when the limits are in force, otherwise why not (one clause for the status detail)
     */
    Optional<String> apply(AddonId id, long pid, Resources r) {
        if (r.isEmpty()) {
            return Optional.empty();
        }
        Set<String> needed = needed(r);
        if (mount.isEmpty()) {
            return Optional.of("resource limits not applied: this host has no cgroup v2 hierarchy");
        }
        Path root = mount.get();
        Set<String> available;
        try {
            available = new TreeSet<>(Arrays.asList(
                    Files.readString(root.resolve("cgroup.controllers"), StandardCharsets.US_ASCII).trim().split("\\s+")));
        } catch (IOException e) {
            return Optional.of("resource limits not applied: cannot read " + root.resolve("cgroup.controllers"));
        }
        Set<String> missing = new TreeSet<>(needed);
        missing.removeAll(available);
        if (!missing.isEmpty()) {
            return Optional.of("resource limits not applied: cgroup v2 at " + root + " lacks the "
                    + String.join(", ", missing) + " controller" + (missing.size() > 1 ? "s" : "")
                    + " (it has: " + (available.isEmpty() || available.equals(Set.of("")) ? "none"
                    : String.join(", ", available)) + ")");
        }
        Path parent = root.resolve("steward");
        Path group = parent.resolve(id.value());
        try {
            String enable = String.join(" ", needed.stream().map(c -> "+" + c).toList());
            Files.writeString(root.resolve("cgroup.subtree_control"), enable);
            Files.createDirectories(group);
            Files.writeString(parent.resolve("cgroup.subtree_control"), enable);
            if (r.cpuMaxPercent().isPresent()) {
                long quota = Math.max(1000, Math.round(r.cpuMaxPercent().getAsDouble() / 100 * CPU_PERIOD_USEC));
                Files.writeString(group.resolve("cpu.max"), quota + " " + CPU_PERIOD_USEC);
            }
            if (r.memoryMaxBytes().isPresent()) {
                Files.writeString(group.resolve("memory.max"), Long.toString(r.memoryMaxBytes().getAsLong()));
            }
            if (r.tasksMax().isPresent()) {
                Files.writeString(group.resolve("pids.max"), Long.toString(r.tasksMax().getAsLong()));
            }
            Files.writeString(group.resolve("cgroup.procs"), Long.toString(pid));
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.of("resource limits not applied: cannot set up " + group + " (" + e.getMessage() + ")");
        }
    }

    /** Removes the add-on's cgroup once it is empty; quiet when there is none. */
    void release(AddonId id) {
        mount.ifPresent(root -> {
            try {
                Files.deleteIfExists(root.resolve("steward").resolve(id.value()));
            } catch (IOException e) {
                // still populated or never created
            }
        });
    }
}
