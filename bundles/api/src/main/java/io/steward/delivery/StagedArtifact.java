package io.steward.delivery;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A verified artifact extracted under {@code <data>/addons/<id>/versions/}.
 *
 * @param directory the version directory (never the {@code current} link)
 * @param manifest  its manifest
 * @param sha256    digest of the artifact bytes it came from
 */
public record StagedArtifact(Path directory, AddonManifest manifest, String sha256) {
    public StagedArtifact {
        Objects.requireNonNull(directory, "directory");
        Objects.requireNonNull(manifest, "manifest");
        Objects.requireNonNull(sha256, "sha256");
    }
}
