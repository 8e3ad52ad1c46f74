package io.steward.updater;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.delivery.AddonManifest;
import io.steward.delivery.StagedArtifact;
import io.steward.delivery.artifacts.ArtifactVerifier;
import io.steward.privileged.protocol.Protocol;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.install.PrivilegedTree;
import io.steward.updater.Updater.Artifact;
import io.steward.files.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The updater's root-owned, verified copies of artifacts ({@code <privileged-root>/<id>/versions/<sha256>}, each
 * with its {@value #VERIFIED} marker, and {@code current}): re-verifies an artifact from the agent's staging
 * area into a new copy or reuses one verified before, points {@code current}, keeps the current and previous
 * copies and deletes older ones, and undoes the copy of a failed request. Thread-safe for different add-ons;
 * {@link Updater} serializes the calls for one add-on.
 */
final class VerifiedCopies {
    // the updater's log lines keep the one logger name they had before this class was split out
    private static final Logger LOG = LoggerFactory.getLogger(Updater.class);
    private static final String VERIFIED = ".verified";

    private final UpdaterConfig config;
    private final ArtifactVerifier verifier;
    private final StagingArea staging;
    /** Bytes reserved on the privileged root by verifications in progress ({@link #reserveSpace}). */
    private final AtomicLong reservedBytes = new AtomicLong();

    VerifiedCopies(UpdaterConfig config, StagingArea staging) {
        this.config = config;
        this.staging = staging;
        this.verifier = new ArtifactVerifier(config.trust(), config.allowUnsigned(), 10_000, config.maxEntryBytes(),
                config.maxExtractBytes(), config.maxArtifactBytes());
    }

    /**
     * The root-owned, verified copy of the artifact: reused when this updater verified the same id, version and
     * digest before (the signature is checked again: the trust store may have changed), else read from the
     * agent's fixed staging location, verified and extracted into {@code versions/<sha256>}.
     */
    StagedArtifact verifiedCopy(Artifact a) throws SupervisionException {
        AddonId id = a.id();
        PrivilegedTree tree = new PrivilegedTree(config.privilegedRoot(), id.value());
        Path addonRoot = config.privilegedRoot().resolve(id.value());
        Path version = addonRoot.resolve("versions").resolve(a.sha256());
        Path marker = version.resolveSibling(a.sha256() + VERIFIED);
        // the signed statement first: a wrong signature is refused before a byte is read, inflated or written
        verifier.checkSignature(id.value(), a.version(), a.sha256(), a.signature(), a.key());
        boolean rootExisted = Files.exists(addonRoot, LinkOption.NOFOLLOW_LINKS);
        boolean versionsExisted = Files.exists(addonRoot.resolve("versions"), LinkOption.NOFOLLOW_LINKS);
        boolean done = false;
        boolean reserved = false;
        try {
            Optional<JsonObject> seen = readMarker(marker);
            if (seen.isPresent() && Files.isDirectory(version, LinkOption.NOFOLLOW_LINKS)
                    && a.version().equals(Protocol.string(seen.get(), "version", ""))
                    && id.value().equals(Protocol.string(seen.get(), "id", ""))) {
                StagedArtifact reused = new StagedArtifact(version, ArtifactVerifier.readManifest(id.value(), version),
                        a.sha256());
                done = true;
                return reused;
            }
            reserveSpace(id);
            reserved = true;
            ensureDirectory(config.privilegedRoot());
            ensureDirectory(addonRoot);
            ensureDirectory(addonRoot.resolve("versions"));
            deleteLeftovers(addonRoot);
            Path work = Files.createTempDirectory(addonRoot, ".verify-");
            try {
                Path extracted = Files.createDirectory(work.resolve(a.sha256()));
                AddonManifest manifest;
                try (SeekableByteChannel channel = staging.open(id, a.sha256());
                     InputStream in = Channels.newInputStream(channel)) {
                    manifest = verifier.verifyAndExtract(id.value(), a.version(), a.sha256(), a.signature(), a.key(),
                            in, extracted).manifest();
                }
                Files.setPosixFilePermissions(extracted, PosixFilePermissions.fromString("rwxr-xr-x"));
                tree.adopt(extracted, version, PrivilegedTree.digest(extracted));
                JsonObject m = new JsonObject();
                m.addProperty("id", id.value());
                m.addProperty("version", a.version());
                m.addProperty("sha256", a.sha256());
                AtomicFiles.replace(marker, marker.getFileName() + ".tmp")
                        .write((Protocol.line(m) + "\n").getBytes(StandardCharsets.UTF_8));
                LOG.info("Add-on {}: verified {} (sha256 {}) into {}", id, a.version(), a.sha256(), version);
                done = true;
                return new StagedArtifact(version, manifest, a.sha256());
            } finally {
                PrivilegedTree.deleteTree(work);
            }
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": materialize: cannot write the "
                    + "root-owned copy under " + addonRoot + ": " + e.getMessage(), e);
        } finally {
            if (reserved) {
                reservedBytes.addAndGet(-config.maxExtractBytes());
            }
            if (!done) {      // a refused copy leaves no empty versions/ or <id>/ it created behind
                if (!versionsExisted) {
                    deleteIfEmpty(addonRoot.resolve("versions"));
                }
                if (!rootExisted) {
                    deleteIfEmpty(addonRoot);
                }
            }
        }
    }

    /**
     * Reserves what one verification may extract ({@code --max-extract-bytes}) on the privileged root's file system,
     * counting the reservations of verifications in progress (requests of other add-ons run at once), or refuses
     * (TRANSIENT) when the free space does not cover it. The caller gives the reservation back when done.
     */
    private void reserveSpace(AddonId id) throws SupervisionException, IOException {
        long free = Files.getFileStore(config.privilegedRoot()).getUsableSpace();
        synchronized (reservedBytes) {
            long inUse = reservedBytes.get();
            if (free - inUse < config.maxExtractBytes()) {
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": materialize refused: the "
                        + "file system of " + config.privilegedRoot() + " has " + free + " bytes free (" + inUse
                        + " reserved by verifications in progress), less than the " + config.maxExtractBytes()
                        + " one request may extract (--max-extract-bytes)");
            }
            reservedBytes.addAndGet(config.maxExtractBytes());
        }
    }

    static Optional<Path> currentTarget(AddonId id, PrivilegedTree tree) throws SupervisionException {
        try {
            return tree.currentTarget();
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read its root-owned "
                    + "current: " + e.getMessage(), e);
        }
    }

    static void point(AddonId id, PrivilegedTree tree, Path version) throws SupervisionException {
        try {
            tree.point(Optional.of(version));
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot point its root-owned "
                    + "current at " + version + ": " + e.getMessage(), e);
        }
    }

    /** Keeps {@code current} and the previous target (a rollback may return there); deletes older copies. */
    void retain(AddonId id, PrivilegedTree tree, Path current, Optional<Path> previous) {
        Path versions = config.privilegedRoot().resolve(id.value()).resolve("versions");
        Set<Path> keep = new java.util.HashSet<>();
        keep.add(current.normalize());
        previous.ifPresent(p -> keep.add(p.normalize()));
        try {
            tree.currentTarget().ifPresent(p -> keep.add(p.normalize()));
        } catch (IOException e) {
            return;     // unsure what current is: keep everything
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(versions)) {
            for (Path p : ds) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && !keep.contains(p.normalize())) {
                    tree.deleteVersion(p);
                    Files.deleteIfExists(p.resolveSibling(p.getFileName() + VERIFIED));
                    LOG.info("Add-on {}: removed the superseded root-owned copy {}", id, p.getFileName());
                }
            }
        } catch (IOException e) {
            LOG.warn("Add-on {}: cannot remove superseded root-owned copies: {}", id, e.getMessage());
        }
    }

    /** After a failed operation: the copy it made, and the add-on's directory if it made that too. */
    void undoCopy(AddonId id, PrivilegedTree tree, Path addonRoot, boolean rootExisted, Path versionDir,
                          boolean versionExisted) {
        try {
            Optional<Path> current = tree.currentTarget();
            if (!versionExisted && (current.isEmpty() || !current.get().normalize().equals(versionDir.normalize()))) {
                tree.deleteVersion(versionDir);
                Files.deleteIfExists(versionDir.resolveSibling(versionDir.getFileName() + VERIFIED));
            }
            if (!rootExisted && current.isEmpty()) {
                deleteLeftovers(addonRoot);
                deleteIfEmpty(addonRoot.resolve("versions"));
                deleteIfEmpty(addonRoot);
            }
        } catch (IOException e) {
            LOG.warn("Add-on {}: cannot remove the root-owned copy of a failed request: {}", id, e.getMessage());
        }
    }

    boolean deleteTree(AddonId id) throws SupervisionException {
        Path addonRoot = config.privilegedRoot().resolve(id.value());
        if (!Files.exists(addonRoot, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try {
            new PrivilegedTree(config.privilegedRoot(), id.value()).deleteAll();
            LOG.info("Add-on {}: root-owned copy {} removed", id, addonRoot);
            return true;
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot delete " + addonRoot + ": "
                    + e.getMessage(), e);
        }
    }

    private static Optional<JsonObject> readMarker(Path marker) {
        try {
            return Optional.of(JsonParser.parseString(Files.readString(marker, StandardCharsets.UTF_8)).getAsJsonObject());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();      // unreadable: verify again
        }
    }

    private static void ensureDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectory(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    /** Temporary trees of an interrupted verification ({@code .verify-*}). */
    private static void deleteLeftovers(Path addonRoot) throws IOException {
        if (!Files.isDirectory(addonRoot, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<Path> leftovers = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(addonRoot, ".verify-*")) {
            ds.forEach(leftovers::add);
        }
        for (Path p : leftovers) {
            PrivilegedTree.deleteTree(p);
        }
    }

    private static void deleteIfEmpty(Path dir) {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            if (ds.iterator().hasNext()) {
                return;
            }
        } catch (IOException e) {
            return;
        }
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // not empty after all, or gone
        }
    }
}
