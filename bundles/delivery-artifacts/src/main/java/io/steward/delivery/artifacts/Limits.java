package io.steward.delivery.artifacts;

/**
 * Archive limits (PRODUCT §3), enforced on the bytes actually read, never on what a header claims.
 *
 * @param maxEntries       entries in the tar, directories included
 * @param maxFileBytes     bytes of one file
 * @param maxTotalBytes    bytes of all files together
 * @param maxArtifactBytes bytes of the artifact itself (the compressed stream, trailing data included)
 */
public record Limits(int maxEntries, long maxFileBytes, long maxTotalBytes, long maxArtifactBytes) {
    /** Largest {@code addon.json} read into memory. */
    public static final int MAX_MANIFEST_BYTES = 1 << 20;
    /** Largest tar metadata (PAX or GNU long-name headers) one entry may carry. */
    public static final int MAX_ENTRY_METADATA_BYTES = 1 << 20;

    public Limits {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("max.entries must be positive: " + maxEntries);
        }
        if (maxFileBytes < 1) {
            throw new IllegalArgumentException("max.file.bytes must be positive: " + maxFileBytes);
        }
        if (maxTotalBytes < 1) {
            throw new IllegalArgumentException("max.total.bytes must be positive: " + maxTotalBytes);
        }
        if (maxArtifactBytes < 1) {
            throw new IllegalArgumentException("max.artifact.bytes must be positive: " + maxArtifactBytes);
        }
    }

    /**
     * The most the gzip stream may inflate to: the file bytes plus a generous allowance per entry for
     * headers and padding. Anything beyond is a gzip bomb, whatever the headers say.
     */
    public long maxInflatedBytes() {
        long overhead = (maxEntries + 2L) * 4096L + 64 * 1024;
        return maxTotalBytes > Long.MAX_VALUE - overhead ? Long.MAX_VALUE : maxTotalBytes + overhead;
    }
}
