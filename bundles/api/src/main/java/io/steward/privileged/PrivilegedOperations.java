package io.steward.privileged;

import io.steward.delivery.StagedArtifact;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Privileged work on behalf of an add-on. Every argument is validated by the implementation as if it
 * came from an attacker: ids and paths by segment, files by their real path, capabilities against
 * {@link #ALLOWED_CAPABILITIES}. Thread-safe.
 */
@ProviderType
public interface PrivilegedOperations {
    /** The only file capabilities Steward grants (upstream §6.2); lower case, without {@code +ep}. */
    Set<String> ALLOWED_CAPABILITIES = Set.of("cap_net_raw", "cap_net_admin", "cap_net_bind_service", "cap_bpf",
            "cap_perfmon", "cap_dac_read_search");

    /**
     * Grants {@code capabilities} ({@code +ep}) to the add-on's program and returns the path to execute:
     * the staged file itself when the work is done in-process, a root-owned copy when an updater does it.
     * Only a regular file inside the staged version directory qualifies.
     *
     * @param binary path of the program relative to the staged directory
     * @throws SupervisionException PERMANENT for a capability outside the allowlist or an unsafe path,
     *                              TRANSIENT when the privileged side is unavailable
     */
    Path grantCapabilities(AddonId id, StagedArtifact staged, String binary, List<String> capabilities)
            throws SupervisionException;

    /** Removes every privileged artefact of the add-on (root-owned copies); idempotent. */
    void release(AddonId id) throws SupervisionException;
}
