package io.steward.delivery.staging;

import io.steward.delivery.artifacts.Limits;
import java.util.List;

/**
 * The settings of a {@link Stager}, as the delivery bundle's configuration gives them (raw, so that the
 * stager checks them in the order it always has). The defaults are the configuration's defaults. Immutable.
 */
public record StagingSettings(int maxEntries, long maxFileBytes, long maxTotalBytes, long maxArtifactBytes,
                              int connectTimeoutSeconds, int readTimeoutSeconds, List<String> allowUnsignedAddons,
                              int retainVersions, String tlsTruststore, boolean syncFiles, String keepArtifacts) {
    public static final int MAX_ENTRIES = 10_000;
    public static final long MAX_FILE_BYTES = 1L << 30;
    public static final long MAX_TOTAL_BYTES = 4L << 30;
    public static final long MAX_ARTIFACT_BYTES = 4L << 30;
    public static final int CONNECT_TIMEOUT_SECONDS = 10;
    public static final int READ_TIMEOUT_SECONDS = 60;
    public static final int RETAIN_VERSIONS = 2;
    public static final boolean SYNC_FILES = true;
    public static final String KEEP_ARTIFACTS = "auto";

    public StagingSettings {
        allowUnsignedAddons = List.copyOf(allowUnsignedAddons);
    }

    /** The configuration's defaults. */
    public static StagingSettings defaults() {
        return new StagingSettings(MAX_ENTRIES, MAX_FILE_BYTES, MAX_TOTAL_BYTES, MAX_ARTIFACT_BYTES,
                CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS, List.of(), RETAIN_VERSIONS, "", SYNC_FILES, KEEP_ARTIFACTS);
    }

    /** These settings with {@code syncFiles} replaced. */
    public StagingSettings withSyncFiles(boolean sync) {
        return new StagingSettings(maxEntries, maxFileBytes, maxTotalBytes, maxArtifactBytes, connectTimeoutSeconds,
                readTimeoutSeconds, allowUnsignedAddons, retainVersions, tlsTruststore, sync, keepArtifacts);
    }

    /** The archive limits; throws {@code IllegalArgumentException} naming the first one that is not positive. */
    public Limits limits() {
        return new Limits(maxEntries, maxFileBytes, maxTotalBytes, maxArtifactBytes);
    }
}
