package io.steward.delivery.internal;

import io.steward.delivery.Activation;
import io.steward.delivery.AddonManifest;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.delivery.artifacts.ArtifactReader;
import io.steward.delivery.artifacts.ArtifactVerifier;
import io.steward.delivery.artifacts.Failures;
import io.steward.delivery.artifacts.Limits;
import io.steward.delivery.artifacts.Manifests;
import io.steward.delivery.artifacts.Progress;
import io.steward.delivery.artifacts.SignaturePolicy;
import io.steward.delivery.artifacts.Sink;
import io.steward.delivery.trust.TrustStore;
import io.steward.observe.StewardObserver;
import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
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
import java.util.stream.Stream;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.FieldOption;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Provides {@link ArtifactStager}: fetches an add-on's artifact ({@code file:} or {@code https:}), reads
 * it in one pass (SHA-256 while inflating and extracting into a private directory under
 * {@code <data>/tmp}), checks the digest, the Ed25519 signature against {@code <trust>/*.pem} and the
 * manifest, and only then renames the directory into {@code <home>/versions/}. {@code current} is a
 * relative symbolic link swapped by rename. A re-published version (same version, other digest) goes to
 * {@code versions/<version>+<first 12 hex of sha256>}, never over a directory a rollback may return to.
 * <p>
 * Crash safety: extraction happens in {@code <data>/tmp/stage.<id>.*}, which the next stage of that
 * add-on deletes; a version directory appears by one rename, complete with its metadata; {@code current}
 * changes by one rename. A kill at any instant leaves {@code current} at the old or the new version.
 * <p>
 * Configuration PID {@value #PID}. Threading: calls for different add-ons run concurrently, calls for
 * one add-on are serialized by a lock per add-on. Thread {@code delivery-watchdog} enforces the
 * download idle timeout.
 */
@Component(service = ArtifactStager.class, configurationPid = DeliveryStager.PID)
@Designate(ocd = DeliveryStager.Config.class)
public final class DeliveryStager implements ArtifactStager {
    static final String PID = "io.steward.delivery";
    static final String PUSHED = "pushed_artifact";
    static final String STEP_STAGE = "stage";
    private static final Logger LOG = LoggerFactory.getLogger(DeliveryStager.class);
    private static final Pattern SHA256 = Pattern.compile("^[0-9a-f]{64}$");

    @ObjectClassDefinition(name = "Steward artifact delivery",
            description = "Limits, timeouts and trust for fetching and staging add-on artifacts")
    public @interface Config {
        @AttributeDefinition(description = "Most entries (files and directories) an artifact may hold")
        int max_entries() default 10_000;

        @AttributeDefinition(description = "Most bytes one file of an artifact may hold")
        long max_file_bytes() default 1L << 30;

        @AttributeDefinition(description = "Most bytes all files of an artifact may hold together")
        long max_total_bytes() default 4L << 30;

        @AttributeDefinition(description = "Most bytes of the artifact itself (compressed), for downloads and files")
        long max_artifact_bytes() default 4L << 30;

        @AttributeDefinition(description = "Seconds to wait for an HTTPS connection")
        int connect_timeout_seconds() default 10;

        @AttributeDefinition(description = "Seconds to wait for a response, and without data while a body arrives")
        int read_timeout_seconds() default 60;

        @AttributeDefinition(description = "Add-on ids whose artifacts may be unsigned (empty signature); a wrong signature is still refused")
        String[] allow_unsigned_addons() default {};

        @AttributeDefinition(description = "Version directories kept besides current and the rollback target")
        int retain_versions() default 2;

        @AttributeDefinition(description = "Certificates to trust for https: artifact URLs: a PEM file of CA certificates, "
                + "or a PKCS#12/JKS store readable without a password; empty for the JDK's default trust")
        String tls_truststore() default "";

        @AttributeDefinition(description = "Flush every extracted file to disk before its version directory appears")
        boolean sync_files() default true;

        @AttributeDefinition(description = "Keep the verified artifact file at <data>/addons/<id>/artifacts/<sha256>.tar.gz, "
                + "where the root updater re-reads and re-verifies it: auto (when the agent is not root), always, never")
        String keep_artifacts() default "auto";
    }

    private final HostLayout layout;
    private final boolean tty;
    private final int retain;
    private final boolean syncFiles;
    private final boolean keepArtifacts;
    private final ArtifactReader reader;
    private final SignaturePolicy signatures;
    private final Fetcher fetcher;
    private final ScheduledExecutorService watchdog;
    private final Clock clock = Clock.systemUTC();
    private final ConcurrentHashMap<AddonId, ReentrantLock> locks = new ConcurrentHashMap<>();

    /** Metrics count delivered bytes and verification failures here (whiteboard). */
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            fieldOption = FieldOption.UPDATE)
    private final List<StewardObserver> observers = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** Test hook: called with "extracted" before the move into versions/, "staged" after it. */
    volatile Consumer<String> checkpoint = point -> { };

    @Activate
    public DeliveryStager(BundleContext context, Config config) {
        this(HostLayout.from(context::getProperty), config, Boolean.parseBoolean(context.getProperty("steward.tty")));
    }

    DeliveryStager(HostLayout layout, Config config, boolean tty) {
        this.layout = layout;
        this.tty = tty;
        if (config.retain_versions() < 0) {
            throw new IllegalArgumentException("retain.versions must not be negative: " + config.retain_versions());
        }
        if (config.connect_timeout_seconds() < 1 || config.read_timeout_seconds() < 1) {
            throw new IllegalArgumentException("connect.timeout.seconds and read.timeout.seconds must be positive");
        }
        this.retain = config.retain_versions();
        this.syncFiles = config.sync_files();
        this.keepArtifacts = switch (config.keep_artifacts()) {
            case "always" -> true;
            case "never" -> false;
            case "auto" -> !runsAsRoot();
            default -> throw new IllegalArgumentException("keep.artifacts must be auto, always or never: "
                    + config.keep_artifacts());
        };
        Limits limits = limits(config);
        this.reader = new ArtifactReader(limits);
        this.signatures = new SignaturePolicy(new TrustStore(layout.trust()), Set.of(config.allow_unsigned_addons()));
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "delivery-watchdog");
            t.setDaemon(true);
            return t;
        });
        this.fetcher = new Fetcher(Duration.ofSeconds(config.connect_timeout_seconds()),
                Duration.ofSeconds(config.read_timeout_seconds()), limits.maxArtifactBytes(),
                Fetcher.trustFrom(config.tls_truststore()), watchdog);
        LOG.info("Artifact delivery started: data {}, trust {}, limits {} entries / {} bytes per file / {} bytes in total, "
                        + "retain {} version(s), unsigned allowed for {}{}", layout.data(), layout.trust(),
                limits.maxEntries(), limits.maxFileBytes(), limits.maxTotalBytes(), retain,
                List.of(config.allow_unsigned_addons()), keepArtifacts ? ", artifacts kept for the updater" : "");
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

    static Limits limits(Config config) {
        return new Limits(config.max_entries(), config.max_file_bytes(), config.max_total_bytes(),
                config.max_artifact_bytes());
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        watchdog.shutdownNow();
        if (!watchdog.awaitTermination(5, TimeUnit.SECONDS)) {
            LOG.warn("Thread delivery-watchdog did not stop within 5 s");
        }
        LOG.info("Artifact delivery stopped");
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
                return reuse(fail, addon, ref, sha, slot.dir(), slot.existing().get());
            }
            return fetchAndStage(fail, addon, ref, sha, slot.dir());
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

    /**
     * The digest is already staged and was verified then: nothing is downloaded, but the signature is
     * checked again (the trust store may have changed) and the manifest against the assignment.
     */
    private StagedArtifact reuse(Failures fail, AddonRecord addon, ArtifactRef ref, String sha, Path dir,
                                 StageMetadata meta) throws SupervisionException {
        Assignment a = addon.assignment();
        SignaturePolicy.Verdict verdict = signatures.check(fail, a.id().value(), a.version(), sha, ref.signature(), ref.key());
        AddonManifest manifest = readManifest(fail, dir);
        try {
            Manifests.check(manifest, a, presentFiles(dir, manifest));
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
        Path tmp = tmp();
        try (KeptArtifact keep = KeptArtifact.open(fail, tmp, "keep." + id + ".")) {
            ArtifactReader.Result result;
            try (Fetcher.Opened opened = fetcher.open(fail, ref.url(), tmp, "fetch." + id + ".", total -> Progress.NONE)) {
                result = reader.read(fail, keep.tee(opened.stream()), Sink.DISCARD, Progress.NONE);
            } catch (IOException e) {
                throw fail.temporary(Fetcher.STEP, "cannot close the artifact: " + Failures.describe(e), e);
            }
            if (!MessageDigest.isEqual(result.sha256().getBytes(StandardCharsets.US_ASCII),
                    sha.getBytes(StandardCharsets.US_ASCII))) {
                throw fail.permanent("verify", "digest mismatch: the artifact's sha256 is " + result.sha256()
                        + ", the assignment expects " + sha);
            }
            keep.commit(ArtifactVerifier.artifactFile(addon.home(), sha), syncFiles);
            LOG.info("Add-on {}: kept its artifact again for the updater ({})", id, sha);
        }
    }

    private StagedArtifact fetchAndStage(Failures fail, AddonRecord addon, ArtifactRef ref, String sha, Path target)
            throws SupervisionException {
        Assignment a = addon.assignment();
        // the signed statement (id, version, sha256) first: a wrong signature is refused before a byte is fetched
        // or inflated; the digest of what is read is compared with the signed one below
        SignaturePolicy.Verdict verdict = signatures.check(fail, a.id().value(), a.version(), sha, ref.signature(),
                ref.key());
        Path tmp = tmp();
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
            if (!MessageDigest.isEqual(result.sha256().getBytes(StandardCharsets.US_ASCII),
                    sha.getBytes(StandardCharsets.US_ASCII))) {
                throw fail.permanent("verify", "digest mismatch: the artifact's sha256 is " + result.sha256()
                        + ", the assignment expects " + sha);
            }
            AddonManifest manifest = manifest(fail, result, a);
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

    private static AddonManifest manifest(Failures fail, ArtifactReader.Result result, Assignment a)
            throws SupervisionException {
        if (result.manifest().isEmpty()) {
            throw fail.permanent(Manifests.STEP, "the artifact has no addon.json at its root");
        }
        try {
            AddonManifest m = Manifests.parse(result.manifest().get());
            Manifests.check(m, a, result.files());
            return m;
        } catch (Manifests.Invalid e) {
            throw fail.permanent(Manifests.STEP, e.getMessage());
        }
    }

    private static AddonManifest readManifest(Failures fail, Path dir) throws SupervisionException {
        try {
            Path file = dir.resolve(ArtifactReader.MANIFEST);
            if (Files.size(file) > Limits.MAX_MANIFEST_BYTES) {
                throw fail.permanent(Manifests.STEP, file + " is larger than " + Limits.MAX_MANIFEST_BYTES + " bytes");
            }
            return Manifests.parse(Files.readAllBytes(file));
        } catch (Manifests.Invalid e) {
            throw fail.permanent(Manifests.STEP, e.getMessage());
        } catch (IOException e) {
            throw fail.temporary(Manifests.STEP, "cannot read addon.json in " + dir + ": " + Failures.describe(e), e);
        }
    }

    /** The files a manifest names that exist as regular files in a staged directory. */
    private static Set<String> presentFiles(Path dir, AddonManifest m) {
        Set<String> present = new HashSet<>();
        List<String> named = new ArrayList<>(m.units());
        named.add(m.binary());
        m.config().ifPresent(named::add);
        for (String name : named) {
            if (Files.isRegularFile(dir.resolve(name), LinkOption.NOFOLLOW_LINKS)) {
                present.add(name);
            }
        }
        return present;
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
            return new Switch(addon, staged, previous);
        } finally {
            lock.unlock();
        }
    }

    /** The version directory {@code current} points at, when it is a link into {@code versions/}. */
    private static Optional<Path> currentTarget(Path home) throws SupervisionException {
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
            return Optional.of(new StagedArtifact(target.get(), readManifest(new Failures(id.value()), target.get()),
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

    private Progress progress(String label, long total) {
        return tty ? Progress.percent(System.err, label, total) : Progress.NONE;
    }

    /** One activation: remembers where {@code current} pointed before, for rollback. */
    private final class Switch implements Activation {
        private final AddonRecord addon;
        private final StagedArtifact staged;
        private final Optional<Path> previous;
        private final Failures fail;
        private boolean rolledBack;
        private boolean committed;

        Switch(AddonRecord addon, StagedArtifact staged, Optional<Path> previous) {
            this.addon = addon;
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
            ReentrantLock lock = lock(addon.id());
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
                        FileOps.discard(staged.directory(), tmp(), "gc." + addon.id() + ".");
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
            ReentrantLock lock = lock(addon.id());
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
            currentTarget(home).ifPresent(keep::add);
            rollbackTarget.ifPresent(keep::add);
            keep.add(staged.directory());
            List<Path> others = new ArrayList<>();
            try (Stream<Path> s = Files.list(versions)) {
                s.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && !keep.contains(p)).forEach(others::add);
            } catch (IOException e) {
                throw fail.temporary("commit", "cannot list " + versions + ": " + Failures.describe(e), e);
            }
            others.sort(Comparator.comparing(DeliveryStager::stagedAt).reversed()
                    .thenComparing(Comparator.<Path>naturalOrder()));
            for (Path old : others.subList(Math.min(retain, others.size()), others.size())) {
                try {
                    FileOps.discard(old, tmp(), "gc." + addon.id() + ".");
                    LOG.info("Add-on {}: retention removed versions/{}", addon.id(), old.getFileName());
                } catch (IOException e) {
                    LOG.warn("Add-on {}: retention cannot remove {}; will retry at the next commit", addon.id(), old, e);
                }
            }
            sweepArtifacts(home);
        }
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
