package io.steward.delivery.artifacts;

import io.steward.delivery.trust.TrustStore;

import io.steward.delivery.AddonManifest;
import io.steward.supervision.spi.SupervisionException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Optional;
import java.util.Set;

/**
 * The delivery's verification for the root updater ({@code io.steward.updater}), which runs it outside OSGi on
 * the artifact the agent kept at {@link #artifactFile}: the same one-pass reader (digest while inflating and
 * extracting, the archive rules and limits of PRODUCT §3), the same signature policy against the updater's own,
 * root-owned trust store, and the manifest's id and version against the request. Public because the updater
 * is another process with this jar on its class path; the package is not exported to OSGi. Thread-safe.
 */
public final class ArtifactVerifier {
    /** The directory of {@code <data>/addons/<id>/} where the agent keeps verified artifact files. */
    public static final String ARTIFACTS = "artifacts";
    /** The manifest file name at the root of an artifact. */
    public static final String MANIFEST = ArtifactReader.MANIFEST;

    /** What a verification found: the manifest and the trusted key that signed (empty when accepted unsigned). */
    public record Verified(AddonManifest manifest, Optional<String> key) {
    }

    private final ArtifactReader reader;
    private final SignaturePolicy signatures;

    /**
     * @param trust         the trust store directory ({@code *.pem})
     * @param allowUnsigned add-on ids whose artifacts may be unsigned (an empty signature)
     */
    public ArtifactVerifier(Path trust, Set<String> allowUnsigned, int maxEntries, long maxFileBytes,
                            long maxTotalBytes, long maxArtifactBytes) {
        this.reader = new ArtifactReader(new Limits(maxEntries, maxFileBytes, maxTotalBytes, maxArtifactBytes));
        this.signatures = new SignaturePolicy(new TrustStore(trust), allowUnsigned);
    }

    /** The file name of a kept artifact: {@code <sha256>.tar.gz}. */
    public static String artifactName(String sha256) {
        return sha256 + ".tar.gz";
    }

    /** Where the agent keeps the verified artifact of an add-on: {@code <addon home>/artifacts/<sha256>.tar.gz}. */
    public static Path artifactFile(Path addonHome, String sha256) {
        return addonHome.resolve(ARTIFACTS).resolve(artifactName(sha256));
    }

    /**
     * Checks the signature of the statement ({@code id}, {@code version}, {@code sha256}) against the trust
     * store before a byte of {@code in} is read; then reads {@code in} to its end, extracting into {@code target}
     * (an empty directory the caller owns and deletes on failure), and checks the digest against {@code sha256}
     * and the manifest's id and version against {@code id} and {@code version}. The program the manifest names
     * is made executable.
     *
     * @throws SupervisionException PERMANENT for a digest mismatch, a bad or missing signature, an unsafe
     *                              archive or a manifest of another add-on; TRANSIENT for I/O errors
     */
    public Verified verifyAndExtract(String id, String version, String sha256, String signature, Optional<String> key,
                                     InputStream in, Path target) throws SupervisionException {
        Failures fail = new Failures(id);
        // the signed statement first: nothing of an artifact whose signature is wrong is read or inflated
        SignaturePolicy.Verdict verdict = signatures.check(fail, id, version, sha256, signature, key);
        Sink.Directory sink = new Sink.Directory(target, true);
        ArtifactReader.Result result;
        try {
            result = reader.read(fail, in, sink, Progress.NONE);
        } finally {
            sink.abort();
        }
        if (!MessageDigest.isEqual(result.sha256().getBytes(StandardCharsets.US_ASCII),
                sha256.getBytes(StandardCharsets.US_ASCII))) {
            throw fail.permanent("verify", "digest mismatch: the kept artifact's sha256 is " + result.sha256()
                    + ", the request names " + sha256);
        }
        if (result.manifest().isEmpty()) {
            throw fail.permanent(Manifests.STEP, "the artifact has no addon.json at its root");
        }
        AddonManifest manifest;
        try {
            manifest = Manifests.parse(result.manifest().get());
            checkIdentity(manifest, id, version);
            Manifests.checkFiles(manifest, result.files());
        } catch (Manifests.Invalid e) {
            throw fail.permanent(Manifests.STEP, e.getMessage());
        }
        try {
            Files.setPosixFilePermissions(target.resolve(manifest.binary()), Sink.EXEC_MODE);
        } catch (IOException e) {
            throw fail.temporary(Manifests.STEP, "cannot make " + manifest.binary() + " executable: "
                    + Failures.describe(e), e);
        }
        return new Verified(manifest, verdict.key());
    }

    /**
     * Checks a signature alone (the trust store may have changed since a tree was verified): the statement of
     * {@code id}, {@code version} and {@code sha256} against the trusted keys.
     */
    public Optional<String> checkSignature(String id, String version, String sha256, String signature,
                                           Optional<String> key) throws SupervisionException {
        return signatures.check(new Failures(id), id, version, sha256, signature, key).key();
    }

    /** The manifest of a tree this verifier extracted earlier (the caller vouches that nobody else wrote it). */
    public static AddonManifest readManifest(String id, Path dir) throws SupervisionException {
        Failures fail = new Failures(id);
        Path file = dir.resolve(MANIFEST);
        try {
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) || Files.size(file) > Limits.MAX_MANIFEST_BYTES) {
                throw fail.permanent(Manifests.STEP, file + " is not a regular file of at most "
                        + Limits.MAX_MANIFEST_BYTES + " bytes");
            }
            return Manifests.parse(Files.readAllBytes(file));
        } catch (Manifests.Invalid e) {
            throw fail.permanent(Manifests.STEP, e.getMessage());
        } catch (IOException e) {
            throw fail.temporary(Manifests.STEP, "cannot read " + file + ": " + Failures.describe(e), e);
        }
    }

    private static void checkIdentity(AddonManifest m, String id, String version) throws Manifests.Invalid {
        if (!m.id().equals(id)) {
            throw new Manifests.Invalid("addon.json id \"" + m.id() + "\" does not match the request's \"" + id + "\"");
        }
        if (!m.version().equals(version)) {
            throw new Manifests.Invalid("addon.json version \"" + m.version() + "\" does not match the request's \""
                    + version + "\"");
        }
    }
}
