package io.steward.delivery.staging;

import io.steward.delivery.Activation;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.delivery.artifacts.ArtifactReader;
import io.steward.delivery.artifacts.Failures;
import io.steward.delivery.artifacts.Limits;
import io.steward.delivery.artifacts.SignaturePolicy;
import io.steward.delivery.trust.TrustStore;
import io.steward.observe.StewardObserver;
import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ArtifactStager} itself, outside OSGi: fetches an add-on's artifact ({@code file:} or {@code https:}),
 * reads it in one pass (SHA-256 while inflating and extracting into a private directory under
 * {@code <data>/tmp}), checks the digest, the Ed25519 signature against {@code <trust>/*.pem} and the
 * manifest, and only then renames the directory into {@code <home>/versions/}. {@code current} is a
 * relative symbolic link swapped by rename. A re-published version (same version, other digest) goes to
 * {@code versions/<version>+<first 12 hex of sha256>}, never over a directory a rollback may return to.
 * The delivery bundle's {@code DeliveryStager} is its DS component; the updater's tests and the benchmarks
 * build one directly. This class chooses the version directory and owns {@code current}; {@link VersionStaging}
 * fills a version directory, {@link VersionSwitch} rolls back and applies retention.
 * <p>
 * Crash safety: extraction happens in {@code <data>/tmp/stage.<id>.*}, which the next stage of that
 * add-on deletes; a version directory appears by one rename, complete with its metadata; {@code current}
 * changes by one rename. A kill at any instant leaves {@code current} at the old or the new version.
 * <p>
 * Threading: calls for different add-ons run concurrently, calls for one add-on are serialized by a lock
 * per add-on. Thread {@code delivery-watchdog} enforces the download idle timeout until {@link #close()}.
 */
public final class Stager implements ArtifactStager {
    /** The only delivery that is staged. */
    public static final String PUSHED = "pushed_artifact";
    static final String STEP_STAGE = "stage";
    private static final Logger LOG = LoggerFactory.getLogger(Stager.class);
    private static final Pattern SHA256 = Pattern.compile("^[0-9a-f]{64}$");

    private final HostLayout layout;
    private final int retain;
    private final VersionStaging staging;
    private final ScheduledExecutorService watchdog;
    private final List<StewardObserver> observers;
    private final ConcurrentHashMap<AddonId, ReentrantLock> locks = new ConcurrentHashMap<>();

    /**
     * @param observers read at every call (a whiteboard list the caller keeps up to date, or a fixed one)
     * @throws IllegalArgumentException naming the first setting that is out of range
     */
    public Stager(HostLayout layout, StagingSettings settings, boolean tty, List<StewardObserver> observers) {
        this.layout = layout;
        this.observers = observers;
        if (settings.retainVersions() < 0) {
            throw new IllegalArgumentException("retain.versions must not be negative: " + settings.retainVersions());
        }
        if (settings.connectTimeoutSeconds() < 1 || settings.readTimeoutSeconds() < 1) {
            throw new IllegalArgumentException("connect.timeout.seconds and read.timeout.seconds must be positive");
        }
        this.retain = settings.retainVersions();
        boolean keepArtifacts = switch (settings.keepArtifacts()) {
            case "always" -> true;
            case "never" -> false;
            case "auto" -> !runsAsRoot();
            default -> throw new IllegalArgumentException("keep.artifacts must be auto, always or never: "
                    + settings.keepArtifacts());
        };
        Limits limits = settings.limits();
        SignaturePolicy signatures = new SignaturePolicy(new TrustStore(layout.trust()),
                Set.of(settings.allowUnsignedAddons().toArray(String[]::new)));
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "delivery-watchdog");
            t.setDaemon(true);
            return t;
        });
        Fetcher fetcher = new Fetcher(Duration.ofSeconds(settings.connectTimeoutSeconds()),
                Duration.ofSeconds(settings.readTimeoutSeconds()), limits.maxArtifactBytes(),
                Fetcher.trustFrom(settings.tlsTruststore()), watchdog);
        this.staging = new VersionStaging(new ArtifactReader(limits), signatures, fetcher, tmp(), keepArtifacts,
                settings.syncFiles(), tty, observers);
        LOG.info("Artifact delivery started: data {}, trust {}, limits {} entries / {} bytes per file / {} bytes in total, "
                        + "retain {} version(s), unsigned allowed for {}{}", layout.data(), layout.trust(),
                limits.maxEntries(), limits.maxFileBytes(), limits.maxTotalBytes(), retain,
                settings.allowUnsignedAddons(), keepArtifacts ? ", artifacts kept for the updater" : "");
    }

    /** Whether the effective uid is 0 ({@code /proc/self/status}; {@code user.name} can be set by anyone). */
    private static boolean runsAsRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.US_ASCII)) {
                if (line.startsWith("Uid:")) {
                    String[] f = line.substring(4).trim().split("\\s+");
                    return f.length > 1 && f[1].equals("0");
                }
            }
        } catch (IOException | RuntimeException e) {
            // no /proc: keep the artifacts, the safe side
        }
        return false;
    }

    /** Test hook: called with "extracted" before the move into versions/, "staged" after it. */
    public void checkpoint(Consumer<String> hook) {
        staging.checkpoint = hook;
    }

    /** Stops thread {@code delivery-watchdog}. */
    public void close() throws InterruptedException {
        watchdog.shutdownNow();
        if (!watchdog.awaitTermination(5, TimeUnit.SECONDS)) {
            LOG.warn("Thread delivery-watchdog did not stop within 5 s");
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException when the delivery is not {@code pushed_artifact} (an
     *                                  {@code os_package} or {@code compiled_in} add-on has nothing to stage)
     */
    @Override
    public StagedArtifact stage(AddonRecord addon) throws SupervisionException {
        Assignment a = addon.assignment();
        if (!PUSHED.equals(a.delivery())) {
            throw new IllegalArgumentException("add-on " + a.id() + " has delivery " + a.delivery()
                    + "; only pushed_artifact add-ons are staged");
        }
        ArtifactRef ref = a.artifact().orElseThrow(() -> new IllegalArgumentException(
                "add-on " + a.id() + " has delivery pushed_artifact but no artifact"));
        Failures fail = new Failures(a.id().value());
        String sha = ref.sha256().toLowerCase(Locale.ROOT);
        if (!SHA256.matcher(sha).matches()) {
            throw fail.permanent("verify", "artifact.sha256 \"" + ArtifactReader.printable(ref.sha256())
                    + "\" is not 64 hex digits");
        }
        ReentrantLock lock = lock(a.id());
        lock.lock();
        try {
            cleanLeftovers(a.id(), addon.home());
            Path versions = addon.home().resolve("versions");
            Slot slot = slot(fail, versions, a.version(), sha);
            if (slot.existing().isPresent()) {
                return staging.reuse(fail, addon, ref, sha, slot.dir(), slot.existing().get());
            }
            return staging.fetchAndStage(fail, addon, ref, sha, slot.dir());
        } catch (SupervisionException e) {
            if (e.disposition() == SupervisionException.Disposition.PERMANENT) {
                String step = Failures.step(e.getMessage());
                StewardObserver.each(observers, o -> o.verificationFailed(a.id(), step));
            }
            throw e;
        } finally {
            lock.unlock();
        }
    }

    /** The version directory to stage into, or the one that already holds this digest. */
    private record Slot(Path dir, Optional<StageMetadata> existing) {
    }

    private Slot slot(Failures fail, Path versions, String version, String sha) throws SupervisionException {
        List<String> names = List.of(version, version + "+" + sha.substring(0, 12), version + "+" + sha);
        for (String name : names) {
            Path dir = versions.resolve(name);
            if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                if (!name.equals(version)) {
                    LOG.info("Add-on {}: versions/{} holds other bytes (a re-published version); staging into versions/{}",
                            fail.addon(), version, name);
                }
                return new Slot(dir, Optional.empty());
            }
            Optional<StageMetadata> meta = StageMetadata.read(dir);
            if (meta.isPresent() && meta.get().sha256().equals(sha)) {
                return new Slot(dir, meta);
            }
        }
        throw fail.permanent(STEP_STAGE, "versions/" + version + " and its digest-named alternatives all hold other artifacts");
    }

    @Override
    public Activation activate(AddonRecord addon, StagedArtifact staged) throws SupervisionException {
        AddonId id = addon.id();
        Path home = addon.home();
        Path versions = home.resolve("versions");
        if (!versions.equals(staged.directory().getParent())) {
            throw new IllegalArgumentException(staged.directory() + " is not a version directory of add-on " + id);
        }
        Failures fail = new Failures(id.value());
        ReentrantLock lock = lock(id);
        lock.lock();
        try {
            if (!Files.isDirectory(staged.directory(), LinkOption.NOFOLLOW_LINKS)) {
                throw fail.temporary("activate", staged.directory() + " no longer exists; it is staged again on retry");
            }
            Optional<Path> previous = currentTarget(home);
            try {
                FileOps.swapLink(addon.current(), Path.of("versions", staged.directory().getFileName().toString()));
            } catch (IOException e) {
                throw fail.temporary("activate", "cannot point current at " + staged.directory() + ": "
                        + Failures.describe(e), e);
            }
            LOG.info("Add-on {}: current -> versions/{} (was {})", id, staged.directory().getFileName(),
                    previous.map(p -> "versions/" + p.getFileName()).orElse("none"));
            return new VersionSwitch(addon, staged, previous, lock, tmp(), retain);
        } finally {
            lock.unlock();
        }
    }

    /** The version directory {@code current} points at, when it is a link into {@code versions/}. */
    static Optional<Path> currentTarget(Path home) throws SupervisionException {
        try {
            Optional<Path> link = FileOps.readLink(home.resolve("current"));
            if (link.isEmpty()) {
                return Optional.empty();
            }
            Path target = home.resolve(link.get()).normalize();
            return target.getParent() != null && target.getParent().equals(home.resolve("versions"))
                    ? Optional.of(target) : Optional.empty();
        } catch (IOException e) {
            throw new SupervisionException(SupervisionException.Disposition.TRANSIENT,
                    "add-on " + home.getFileName() + ": activate: cannot read " + home.resolve("current") + ": "
                            + Failures.describe(e), e);
        }
    }

    @Override
    public Optional<StagedArtifact> current(AddonId id) {
        Path home = layout.addonHome(id);
        try {
            Optional<Path> target = currentTarget(home);
            if (target.isEmpty() || !Files.isDirectory(target.get(), LinkOption.NOFOLLOW_LINKS)) {
                return Optional.empty();
            }
            Optional<StageMetadata> meta = StageMetadata.read(target.get());
            if (meta.isEmpty()) {
                return Optional.empty();
            }
            return Optional.of(new StagedArtifact(target.get(), StagedManifest.read(new Failures(id.value()), target.get()),
                    meta.get().sha256()));
        } catch (SupervisionException e) {
            LOG.warn("Add-on {}: cannot read its current version: {}", id, e.getMessage());
            return Optional.empty();
        }
    }

    @Override
    public void remove(AddonId id) throws SupervisionException {
        Path home = layout.addonHome(id);
        Failures fail = new Failures(id.value());
        ReentrantLock lock = lock(id);
        lock.lock();
        try {
            Files.deleteIfExists(home.resolve("current"));
            FileOps.discard(home, tmp(), "gc." + id + ".");
            LOG.info("Add-on {}: removed every staged version", id);
        } catch (IOException e) {
            throw fail.temporary("remove", "cannot delete " + home + ": " + Failures.describe(e), e);
        } finally {
            lock.unlock();
        }
    }

    /** Removes what a crash or a failed stage of this add-on left behind (its temporary trees and links). */
    private void cleanLeftovers(AddonId id, Path home) {
        int n = FileOps.deleteMatching(tmp(), "stage." + id + ".") + FileOps.deleteMatching(tmp(), "fetch." + id + ".")
                + FileOps.deleteMatching(tmp(), "gc." + id + ".") + FileOps.deleteMatching(tmp(), "keep." + id + ".")
                + FileOps.deleteMatching(home, ".current.tmp-");
        if (n > 0) {
            LOG.info("Add-on {}: removed {} leftover(s) of an interrupted stage", id, n);
        }
    }

    private Path tmp() {
        return layout.data().resolve("tmp");
    }

    private ReentrantLock lock(AddonId id) {
        return locks.computeIfAbsent(id, k -> new ReentrantLock());
    }
}
