package io.steward.delivery.staging;

import static io.steward.delivery.staging.Stager.STEP_STAGE;

import io.steward.delivery.AddonManifest;
import io.steward.delivery.StagedArtifact;
import io.steward.delivery.artifacts.ArtifactReader;
import io.steward.delivery.artifacts.ArtifactVerifier;
import io.steward.delivery.artifacts.Failures;
import io.steward.delivery.artifacts.Manifests;
import io.steward.delivery.artifacts.Progress;
import io.steward.delivery.artifacts.SignaturePolicy;
import io.steward.delivery.artifacts.Sink;
import io.steward.observe.StewardObserver;
import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fills one version directory for {@link Stager}: checks the signature, fetches, hashes, extracts and checks the
 * manifest in {@code <data>/tmp}, keeps the artifact file for the updater when asked, and promotes the tree into
 * {@code versions/} by one rename; or, for a digest already staged, checks it again without downloading.
 * Threading: called under the stager's lock of the add-on; holds no state of its own besides the test hook.
 */
final class VersionStaging {
    private static final Logger LOG = LoggerFactory.getLogger(VersionStaging.class);

    private final ArtifactReader reader;
    private final SignaturePolicy signatures;
    private final Fetcher fetcher;
    private final Path tmp;
    private final boolean keepArtifacts;
    private final boolean syncFiles;
    private final boolean tty;
    private final List<StewardObserver> observers;
    private final Clock clock = Clock.systemUTC();

    /** Test hook: called with "extracted" before the move into versions/, "staged" after it. */
    volatile Consumer<String> checkpoint = point -> { };

    VersionStaging(ArtifactReader reader, SignaturePolicy signatures, Fetcher fetcher, Path tmp, boolean keepArtifacts,
                   boolean syncFiles, boolean tty, List<StewardObserver> observers) {
        this.reader = reader;
        this.signatures = signatures;
        this.fetcher = fetcher;
        this.tmp = tmp;
        this.keepArtifacts = keepArtifacts;
        this.syncFiles = syncFiles;
        this.tty = tty;
        this.observers = observers;
    }

    /**
     * The digest is already staged and was verified then: nothing is downloaded, but the signature is
     * checked again (the trust store may have changed) and the manifest against the assignment.
     */
    StagedArtifact reuse(Failures fail, AddonRecord addon, ArtifactRef ref, String sha, Path dir,
                                 StageMetadata meta) throws SupervisionException {
        Assignment a = addon.assignment();
        SignaturePolicy.Verdict verdict = signatures.check(fail, a.id().value(), a.version(), sha, ref.signature(), ref.key());
        AddonManifest manifest = StagedManifest.read(fail, dir);
        try {
            Manifests.check(manifest, a, StagedManifest.presentFiles(dir, manifest));
        } catch (Manifests.Invalid e) {
            throw fail.permanent(Manifests.STEP, e.getMessage());
        }
        if (!meta.signature().equals(ref.signature().strip()) || !meta.key().equals(verdict.key().orElse(""))) {
            try {
                new StageMetadata(meta.id(), meta.version(), sha, ref.signature().strip(), verdict.key().orElse(""),
                        meta.stagedAt()).write(dir);
            } catch (IOException e) {
                throw fail.temporary(STEP_STAGE, "cannot update " + StageMetadata.file(dir) + ": " + Failures.describe(e), e);
            }
        }
        if (keepArtifacts && !Files.isRegularFile(ArtifactVerifier.artifactFile(addon.home(), sha), LinkOption.NOFOLLOW_LINKS)) {
            keepAgain(fail, addon, ref, sha);
        }
        LOG.debug("Add-on {}: {} already staged in {}; nothing downloaded", a.id(), a.version(), dir);
        return new StagedArtifact(dir, manifest, sha);
    }

    /** Fetches an artifact that is staged but whose kept file is gone, only to keep it again (digest checked). */
    private void keepAgain(Failures fail, AddonRecord addon, ArtifactRef ref, String sha) throws SupervisionException {
        AddonId id = addon.id();
        try (KeptArtifact keep = KeptArtifact.open(fail, tmp, "keep." + id + ".")) {
            ArtifactReader.Result result;
            try (Fetcher.Opened opened = fetcher.open(fail, ref.url(), tmp, "fetch." + id + ".", total -> Progress.NONE)) {
                result = reader.read(fail, keep.tee(opened.stream()), Sink.DISCARD, Progress.NONE);
            } catch (IOException e) {
                throw fail.temporary(Fetcher.STEP, "cannot close the artifact: " + Failures.describe(e), e);
            }
            checkDigest(fail, result, sha);
            keep.commit(ArtifactVerifier.artifactFile(addon.home(), sha), syncFiles);
            LOG.info("Add-on {}: kept its artifact again for the updater ({})", id, sha);
        }
    }

    StagedArtifact fetchAndStage(Failures fail, AddonRecord addon, ArtifactRef ref, String sha, Path target)
            throws SupervisionException {
        Assignment a = addon.assignment();
        // the signed statement (id, version, sha256) first: a wrong signature is refused before a byte is fetched
        // or inflated; the digest of what is read is compared with the signed one below
        SignaturePolicy.Verdict verdict = signatures.check(fail, a.id().value(), a.version(), sha, ref.signature(),
                ref.key());
        Path work;
        try {
            work = FileOps.privateDirectory(tmp, "stage." + a.id() + ".");
        } catch (IOException e) {
            throw fail.temporary(STEP_STAGE, "cannot create a private directory in " + tmp + ": " + Failures.describe(e), e);
        }
        Sink.Directory sink = new Sink.Directory(work, syncFiles);
        KeptArtifact keep = null;
        try {
            keep = keepArtifacts ? KeptArtifact.open(fail, tmp, "keep." + a.id() + ".") : null;
            ArtifactReader.Result result;
            try (Fetcher.Opened opened = fetcher.open(fail, ref.url(), tmp, "fetch." + a.id() + ".",
                    total -> progress("add-on " + a.id() + ": download", total))) {
                InputStream in = keep == null ? opened.stream() : keep.tee(opened.stream());
                result = reader.read(fail, in, sink, progress("add-on " + a.id() + ": verify and extract", opened.size()));
            } catch (IOException e) {
                throw fail.temporary(Fetcher.STEP, "cannot close the artifact: " + Failures.describe(e), e);
            } finally {
                sink.abort();
            }
            checkDigest(fail, result, sha);
            AddonManifest manifest = StagedManifest.checked(fail, result, a);
            checkpoint.accept("extracted");
            if (keep != null) {     // before the version appears: a staged version always has its artifact
                keep.commit(ArtifactVerifier.artifactFile(addon.home(), sha), syncFiles);
            }
            try {
                Files.setPosixFilePermissions(work.resolve(manifest.binary()), Sink.EXEC_MODE);
                new StageMetadata(a.id().value(), a.version(), sha, ref.signature().strip(), verdict.key().orElse(""),
                        clock.instant()).write(work);
                Files.setPosixFilePermissions(work, Sink.DIR_MODE);
                FileOps.ensureDirectory(target.getParent());
                Files.move(work, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                throw fail.temporary(STEP_STAGE, tmp + " and " + target.getParent()
                        + " are on different file systems; cannot move the verified tree into place atomically", e);
            } catch (IOException e) {
                throw fail.temporary(STEP_STAGE, "cannot move the verified tree to " + target + ": " + Failures.describe(e), e);
            }
            FileOps.syncDirectory(target.getParent());
            checkpoint.accept("staged");
            long bytes = result.artifactBytes();
            StewardObserver.each(observers, o -> o.delivered(a.id(), bytes));
            LOG.info("Add-on {}: staged {} (sha256 {}, {}) in {}", a.id(), a.version(), sha,
                    verdict.key().map(k -> "signed by " + k).orElse("unsigned"), target);
            return new StagedArtifact(target, manifest, sha);
        } finally {
            if (keep != null) {
                keep.close();
            }
            try {
                FileOps.deleteTree(work);
            } catch (IOException e) {
                LOG.warn("Add-on {}: cannot delete {}; the next stage will", a.id(), work, e);
            }
        }
    }

    /** The digest of what was read against the assignment's, in constant time. */
    private static void checkDigest(Failures fail, ArtifactReader.Result result, String sha) throws SupervisionException {
        if (!MessageDigest.isEqual(result.sha256().getBytes(StandardCharsets.US_ASCII),
                sha.getBytes(StandardCharsets.US_ASCII))) {
            throw fail.permanent("verify", "digest mismatch: the artifact's sha256 is " + result.sha256()
                    + ", the assignment expects " + sha);
        }
    }

    private Progress progress(String label, long total) {
        return tty ? Progress.percent(System.err, label, total) : Progress.NONE;
    }
}
