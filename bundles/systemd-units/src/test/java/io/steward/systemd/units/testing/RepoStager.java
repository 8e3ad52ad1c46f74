package io.steward.systemd.units.testing;

import io.steward.delivery.Activation;
import io.steward.delivery.AddonManifest;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.testing.SystemdSandbox;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A small file-based {@link ArtifactStager} for tests (the real one lives in {@code io.steward.delivery}):
 * artifacts are plain directories {@code <repo>/<id>/<version>/}; stage copies one to
 * {@code <home>/versions/<version>}, activate swaps {@code current}. Its whole state is on disk, so a child
 * JVM and the test share it.
 */
public final class RepoStager implements ArtifactStager {
    private final Path repo;
    private final HostLayout layout;

    public RepoStager(Path repo, HostLayout layout) {
        this.repo = repo;
        this.layout = layout;
    }

    /** Writes an artifact: file name → content; {@code *.sh} become executable. */
    public static void publish(Path repo, String id, String version, Map<String, String> files) throws IOException {
        Path dir = repo.resolve(id).resolve(version);
        Files.createDirectories(dir);
        for (Map.Entry<String, String> f : files.entrySet()) {
            Path p = dir.resolve(f.getKey());
            Files.writeString(p, f.getValue());
            if (f.getKey().endsWith(".sh")) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
        }
    }

    public static String digest(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                md.update(dir.relativize(p).toString().getBytes(StandardCharsets.UTF_8));
                md.update(Files.readAllBytes(p));
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private StagedArtifact staged(AddonId id, Path dir) throws IOException {
        String version = dir.getFileName().toString();
        // the manifest lists the unit files at the artifact's root, as `steward pack` users write it
        List<String> units;
        try (Stream<Path> s = Files.list(dir)) {
            units = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".service") || n.endsWith(".timer"))
                    .sorted().toList();
        }
        return new StagedArtifact(dir, new AddonManifest(id.value(), version, "systemd", "run.sh", units,
                List.of(), Optional.empty(), Map.of()), digest(dir));
    }

    @Override
    public StagedArtifact stage(AddonRecord addon) throws SupervisionException {
        AddonId id = addon.id();
        String version = addon.assignment().version();
        Path source = repo.resolve(id.value()).resolve(version);
        Path target = layout.addonHome(id).resolve("versions").resolve(version);
        try {
            if (!Files.isDirectory(source)) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": no artifact " + version);
            }
            if (!Files.isDirectory(target)) {
                Files.createDirectories(target.getParent());
                Path tmp = Files.createTempDirectory(target.getParent(), ".stage-");
                try (Stream<Path> s = Files.list(source)) {
                    for (Path p : s.toList()) {
                        Files.copy(p, tmp.resolve(p.getFileName().toString()), StandardCopyOption.COPY_ATTRIBUTES);
                    }
                }
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            }
            return staged(id, target);
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": stage failed: " + e, e);
        }
    }

    @Override
    public Activation activate(AddonRecord addon, StagedArtifact staged) throws SupervisionException {
        Path link = addon.current();
        try {
            Optional<Path> previous = Files.isSymbolicLink(link)
                    ? Optional.of(link.resolveSibling(Files.readSymbolicLink(link)).normalize()) : Optional.empty();
            swap(link, Optional.of(staged.directory()));
            return new Activation() {
                @Override
                public StagedArtifact staged() {
                    return staged;
                }

                @Override
                public Optional<Path> previous() {
                    return previous;
                }

                @Override
                public void rollback() throws SupervisionException {
                    try {
                        swap(link, previous);
                    } catch (IOException e) {
                        throw new SupervisionException(Disposition.TRANSIENT, "rollback failed: " + e, e);
                    }
                }

                @Override
                public void commit() {
                }
            };
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "activate failed: " + e, e);
        }
    }

    private static void swap(Path link, Optional<Path> target) throws IOException {
        if (target.isEmpty()) {
            Files.deleteIfExists(link);
            return;
        }
        Path tmp = link.resolveSibling(".current.tmp");
        Files.deleteIfExists(tmp);
        Files.createSymbolicLink(tmp, link.getParent().relativize(target.get()));
        Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public Optional<StagedArtifact> current(AddonId id) {
        Path link = layout.addonHome(id).resolve("current");
        try {
            if (!Files.isSymbolicLink(link)) {
                return Optional.empty();
            }
            return Optional.of(staged(id, link.resolveSibling(Files.readSymbolicLink(link)).normalize()));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    @Override
    public void remove(AddonId id) throws SupervisionException {
        try {
            SystemdSandbox.PathsForTests.deleteTree(layout.addonHome(id).resolve("versions"));
            Files.deleteIfExists(layout.addonHome(id).resolve("current"));
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "remove failed: " + e, e);
        }
    }

    public static boolean exists(Path p) {
        return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
    }
}
