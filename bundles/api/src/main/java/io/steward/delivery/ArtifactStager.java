package io.steward.delivery;

import io.steward.supervision.AddonId;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Fetches, verifies, stages and activates add-on artifacts (PRODUCT §3, §4). Thread-safe; calls for
 * different add-ons may run concurrently. Failures are {@link SupervisionException}s whose message
 * names the add-on, the step and the cause, classified permanent (bad digest, bad signature, unsafe
 * archive, HTTP 4xx) or transient (network, HTTP 5xx, timeouts).
 */
@ProviderType
public interface ArtifactStager {
    /**
     * Makes the assigned artifact available under {@code versions/}: nothing is downloaded when the
     * same id, version, digest and signature are already staged and verified; otherwise the bytes are
     * fetched, hashed, extracted into a private directory and checked (digest, signature, archive
     * rules, manifest against the assignment) before the directory is moved into place. Does not
     * touch {@code current}.
     */
    StagedArtifact stage(AddonRecord addon) throws SupervisionException;

    /** Points {@code current} at a staged version, atomically, remembering the previous target. */
    Activation activate(AddonRecord addon, StagedArtifact staged) throws SupervisionException;

    /** The version {@code current} points at now, if any. */
    Optional<StagedArtifact> current(AddonId id);

    /** Removes everything staged for the add-on ({@code current} and every version). */
    void remove(AddonId id) throws SupervisionException;
}
