package io.steward.supervision;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Desired state for one add-on on this host (PRODUCT §2). Immutable; every collection is copied.
 *
 * @param id           add-on id, also a path segment
 * @param version      assigned version, also a path segment
 * @param enabled      a disabled assignment is treated as absent: the add-on is removed
 * @param kind         supervision kind in its wire spelling ({@code sidecar}, {@code systemd_service}, …)
 * @param delivery     {@code pushed_artifact}, {@code os_package} or {@code compiled_in}
 * @param artifact     the artifact to fetch, for {@code pushed_artifact}
 * @param binary       the program's file name (pushed) or absolute path (os_package)
 * @param args         extra argv
 * @param env          extra environment
 * @param configJson   the operator's config as a JSON object text, {@code "{}"} when none
 * @param capabilities file capabilities the add-on needs ({@code cap_net_raw}, …)
 * @param resources    resource limits
 */
public record Assignment(AddonId id, String version, boolean enabled, String kind, String delivery,
                         Optional<ArtifactRef> artifact, Optional<String> binary, List<String> args,
                         Map<String, String> env, String configJson, List<String> capabilities,
                         Resources resources) {
    public Assignment {
        Objects.requireNonNull(id, "id");
        if (!Versions.isValid(version)) {
            throw new IllegalArgumentException("\"" + version + "\" is not a valid version");
        }
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(delivery, "delivery");
        Objects.requireNonNull(artifact, "artifact");
        Objects.requireNonNull(binary, "binary");
        args = List.copyOf(args);
        env = Map.copyOf(env);
        Objects.requireNonNull(configJson, "configJson");
        capabilities = List.copyOf(capabilities);
        Objects.requireNonNull(resources, "resources");
    }

    /** A copy with {@code enabled} replaced. */
    public Assignment withEnabled(boolean value) {
        return new Assignment(id, version, value, kind, delivery, artifact, binary, args, env, configJson,
                capabilities, resources);
    }
}
