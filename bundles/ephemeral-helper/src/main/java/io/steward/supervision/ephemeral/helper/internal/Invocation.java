package io.steward.supervision.ephemeral.helper.internal;

import io.steward.supervision.AddonId;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How to start one helper, fixed when it is registered.
 *
 * @param id               the add-on
 * @param version          its version in effect
 * @param executable       the program ({@code current/<binary>} for a pushed artifact)
 * @param args             the assignment's arguments, put before a request's
 * @param env              the assignment's environment
 * @param workingDirectory the directory the program starts in
 * @param spool            the add-on's result spool, passed as {@code STEWARD_ADDON_SPOOL}
 */
record Invocation(AddonId id, String version, Path executable, List<String> args, Map<String, String> env,
                  Path workingDirectory, Path spool) {
    Invocation {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(executable, "executable");
        args = List.copyOf(args);
        env = Map.copyOf(env);
        Objects.requireNonNull(workingDirectory, "workingDirectory");
        Objects.requireNonNull(spool, "spool");
    }
}
