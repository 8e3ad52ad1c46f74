package io.steward.supervision.ephemeral.helper.internal;

import io.steward.delivery.Activation;
import io.steward.delivery.AddonManifest;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Stages a prepared directory ({@code <prepared>/<id>/<version>/}, copied with its file modes) as
 * {@code <home>/versions/<version>} and swaps {@code current} like the real delivery bundle does
 * (a relative symlink replaced atomically). Records every call.
 */
final class FakeStager implements ArtifactStager {
    static final String BINARY = "helper.sh";

    private final Path prepared;
    private final Map<AddonId, Path> homes = new ConcurrentHashMap<>();
    final List<String> calls = Collections.synchronizedList(new ArrayList<>());

    FakeStager(Path prepared) {
        this.prepared = prepared;
    }

    /** Writes an executable bash script as the helper of {@code id} {@code version}. */
    Path prepare(String id, String version, String scriptBody) throws IOException {
        Path dir = Files.createDirectories(prepared.resolve(id).resolve(version));
        Path script = dir.resolve(BINARY);
        Files.writeString(script, "#!/bin/bash\n" + scriptBody + "\n");
        script.toFile().setExecutable(true);
        return script;
    }

    @Override
    public StagedArtifact stage(AddonRecord addon) throws SupervisionException {
        calls.add("stage " + addon.id() + " " + addon.assignment().version());
        Path source = prepared.resolve(addon.id().value()).resolve(addon.assignment().version());
        if (!Files.isDirectory(source)) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + addon.id() + ": staging failed: no "
                    + "artifact prepared for version " + addon.assignment().version());
        }
        homes.put(addon.id(), addon.home());
        Path target = addon.home().resolve("versions").resolve(addon.assignment().version());
        try {
            if (!Files.isDirectory(target)) {
                Files.createDirectories(target);
                try (Stream<Path> files = Files.list(source)) {
                    for (Path f : files.toList()) {
                        Files.copy(f, target.resolve(f.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return staged(addon.id(), addon.assignment().version(), target);
    }

    private static StagedArtifact staged(AddonId id, String version, Path dir) {
        return new StagedArtifact(dir, new AddonManifest(id.value(), version, "ephemeral_helper", BINARY, List.of(),
                List.of(), Optional.empty(), Map.of()), "0".repeat(64));
    }

    @Override
    public Activation activate(AddonRecord addon, StagedArtifact staged) throws SupervisionException {
        calls.add("activate " + addon.id() + " " + staged.manifest().version());
        Path current = addon.current();
        Optional<Path> previous = target(current);
        point(current, staged.directory());
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
            public void rollback() {
                calls.add("rollback " + addon.id());
                if (previous.isPresent()) {
                    point(current, previous.get());
                } else {
                    delete(current);
                }
            }

            @Override
            public void commit() {
                calls.add("commit " + addon.id() + " " + staged.manifest().version());
            }
        };
    }

    @Override
    public Optional<StagedArtifact> current(AddonId id) {
        calls.add("current " + id);
        Path home = homes.get(id);
        if (home == null) {
            return Optional.empty();
        }
        return target(home.resolve("current")).map(dir -> staged(id, dir.getFileName().toString(), dir));
    }

    @Override
    public void remove(AddonId id) {
        calls.add("remove " + id);
        Path home = homes.remove(id);
        if (home != null && Files.exists(home)) {
            try (Stream<Path> all = Files.walk(home)) {
                all.sorted(Comparator.reverseOrder()).forEach(FakeStager::delete);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    long count(String prefix) {
        synchronized (calls) {
            return calls.stream().filter(c -> c.startsWith(prefix)).count();
        }
    }

    private static Optional<Path> target(Path link) {
        if (!Files.isSymbolicLink(link)) {
            return Optional.empty();
        }
        try {
            return Optional.of(link.resolveSibling(Files.readSymbolicLink(link)).normalize());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void point(Path link, Path dir) {
        try {
            Path tmp = link.resolveSibling("current.tmp");
            Files.deleteIfExists(tmp);
            Files.createSymbolicLink(tmp, link.getParent().relativize(dir));
            Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void delete(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
