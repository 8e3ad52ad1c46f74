package io.steward.delivery.staging;

import io.steward.delivery.Activation;
import io.steward.delivery.StagedArtifact;
import io.steward.delivery.artifacts.ArtifactVerifier;
import io.steward.delivery.artifacts.Failures;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One activation of {@link Stager}: remembers where {@code current} pointed before, rolls back to it (or removes a
 * first install), or commits and applies retention to {@code versions/} and the kept artifact files.
 * Threading: every transition takes the stager's lock of the add-on, so a rollback or commit never runs
 * beside a stage of the same add-on.
 */
final class VersionSwitch implements Activation {
    private static final Logger LOG = LoggerFactory.getLogger(VersionSwitch.class);

    private final AddonRecord addon;
    private final StagedArtifact staged;
    private final Optional<Path> previous;
    private final Failures fail;
    private final ReentrantLock lock;
    private final Path tmp;
    private final int retain;
    private boolean rolledBack;
    private boolean committed;

    VersionSwitch(AddonRecord addon, StagedArtifact staged, Optional<Path> previous, ReentrantLock lock, Path tmp,
                  int retain) {
        this.addon = addon;
        this.lock = lock;
        this.tmp = tmp;
        this.retain = retain;
        this.staged = staged;
        this.previous = previous;
        this.fail = new Failures(addon.id().value());
    }

    @Override
    public StagedArtifact staged() {
        return staged;
    }

    @Override
    public Optional<Path> previous() {
        return previous;
    }

    /**
     * {@inheritDoc}
     * <p>
     * After a first install, {@code current} and the new version directory are removed (PRODUCT §7.2).
     * When the previous version directory has vanished the rollback is refused, {@code current} is left
     * at the new (complete) version, and the failure is <em>permanent</em>: retrying cannot bring the
     * directory back; an operator (or a new assignment) must.
     */
    @Override
    public void rollback() throws SupervisionException {
        lock.lock();
        try {
            if (committed) {
                throw new IllegalStateException("add-on " + addon.id() + ": activation already committed");
            }
            if (rolledBack) {
                return;
            }
            Path home = addon.home();
            if (previous.isEmpty()) {
                try {
                    Files.deleteIfExists(addon.current());
                    FileOps.syncDirectory(home);
                    FileOps.discard(staged.directory(), tmp, "gc." + addon.id() + ".");
                    deleteIfEmpty(home.resolve("versions"));
                    sweepArtifacts(home);
                    deleteIfEmpty(home.resolve(ArtifactVerifier.ARTIFACTS));
                    deleteIfEmpty(home);
                } catch (IOException e) {
                    throw fail.temporary("rollback", "cannot remove the first install of " + staged.directory()
                            + ": " + Failures.describe(e), e);
                }
                rolledBack = true;
                LOG.info("Add-on {}: rolled back its first install; nothing is left staged", addon.id());
                return;
            }
            Path target = previous.get();
            if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                throw fail.permanent("rollback", "the previous version directory versions/" + target.getFileName()
                        + " no longer exists; current is left at versions/" + staged.directory().getFileName());
            }
            try {
                FileOps.swapLink(addon.current(), Path.of("versions", target.getFileName().toString()));
            } catch (IOException e) {
                throw fail.temporary("rollback", "cannot point current back at " + target + ": "
                        + Failures.describe(e), e);
            }
            rolledBack = true;
            LOG.info("Add-on {}: rolled back: current -> versions/{}", addon.id(), target.getFileName());
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@inheritDoc}
     * <p>
     * Retention keeps {@code current}, the rollback target and the {@code retain_versions} most recently
     * staged others. A directory that cannot be deleted is logged and left for the next commit.
     */
    @Override
    public void commit() throws SupervisionException {
        lock.lock();
        try {
            if (rolledBack) {
                throw new IllegalStateException("add-on " + addon.id() + ": activation already rolled back");
            }
            committed = true;
            retain(addon.home(), previous);
        } finally {
            lock.unlock();
        }
    }

    private void retain(Path home, Optional<Path> rollbackTarget) throws SupervisionException {
        Path versions = home.resolve("versions");
        Set<Path> keep = new HashSet<>();
        Stager.currentTarget(home).ifPresent(keep::add);
        rollbackTarget.ifPresent(keep::add);
        keep.add(staged.directory());
        List<Path> others = new ArrayList<>();
        try (Stream<Path> s = Files.list(versions)) {
            s.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && !keep.contains(p)).forEach(others::add);
        } catch (IOException e) {
            throw fail.temporary("commit", "cannot list " + versions + ": " + Failures.describe(e), e);
        }
        others.sort(Comparator.comparing(VersionSwitch::stagedAt).reversed()
                .thenComparing(Comparator.<Path>naturalOrder()));
        for (Path old : others.subList(Math.min(retain, others.size()), others.size())) {
            try {
                FileOps.discard(old, tmp, "gc." + addon.id() + ".");
                LOG.info("Add-on {}: retention removed versions/{}", addon.id(), old.getFileName());
            } catch (IOException e) {
                LOG.warn("Add-on {}: retention cannot remove {}; will retry at the next commit", addon.id(), old, e);
            }
        }
        sweepArtifacts(home);
    }

    /** Deletes kept artifact files whose digest no version directory of the add-on holds any more. */
    private static void sweepArtifacts(Path home) {
        Path artifacts = home.resolve(ArtifactVerifier.ARTIFACTS);
        if (!Files.isDirectory(artifacts, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Set<String> wanted = new HashSet<>();
        try (Stream<Path> s = Files.list(home.resolve("versions"))) {
            s.forEach(v -> StageMetadata.read(v).ifPresent(m -> wanted.add(ArtifactVerifier.artifactName(m.sha256()))));
        } catch (IOException e) {
            // no versions left: nothing is wanted
        }
        try (Stream<Path> s = Files.list(artifacts)) {
            for (Path f : s.toList()) {
                if (!wanted.contains(f.getFileName().toString())) {
                    FileOps.deleteTree(f);
                }
            }
        } catch (IOException e) {
            LOG.warn("Cannot sweep {}; will retry at the next commit: {}", artifacts, e.getMessage());
        }
    }

    private static Instant stagedAt(Path dir) {
        return StageMetadata.read(dir).map(StageMetadata::stagedAt).orElseGet(() -> {
            try {
                return Files.getLastModifiedTime(dir, LinkOption.NOFOLLOW_LINKS).toInstant();
            } catch (IOException e) {
                return Instant.EPOCH;
            }
        });
    }

    private static void deleteIfEmpty(Path dir) throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            if (ds.iterator().hasNext()) {
                return;
            }
        } catch (NoSuchFileException e) {
            return;
        }
        Files.deleteIfExists(dir);
    }
}
