package io.steward.supervision;

import java.util.Objects;
import java.util.Optional;

/**
 * Where a pushed artifact comes from and what it must hash and be signed to.
 *
 * @param url       {@code file:} or {@code https:} URL of the gzip'd tar
 * @param sha256    64 lower-case hex digits of the artifact bytes
 * @param signature base64 Ed25519 signature over the statement of PRODUCT §3; empty when unsigned
 * @param key       trust-store key id that made the signature, when the assignment names one
 */
public record ArtifactRef(String url, String sha256, String signature, Optional<String> key) {
    public ArtifactRef {
        Objects.requireNonNull(url, "url");
        Objects.requireNonNull(sha256, "sha256");
        Objects.requireNonNull(signature, "signature");
        Objects.requireNonNull(key, "key");
    }
}
