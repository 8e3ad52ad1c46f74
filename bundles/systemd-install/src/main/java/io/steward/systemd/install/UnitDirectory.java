package io.steward.systemd.install;

import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.files.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * The files of an install in the unit directory: reads a shipped unit from the verified copy, reads what is there
 * now, writes a file atomically ({@code rw-r--r--}, never through a symbolic link) and puts back what was there
 * before, deleting a drop-in directory ({@code *.d}) the install emptied. Stateless apart from the unit directory;
 * {@link SystemdUnitInstaller} serializes the calls for one add-on.
 */
final class UnitDirectory {
    private static final long MAX_UNIT_BYTES = 1 << 20;

    private final Path unitDir;

    UnitDirectory(Path unitDir) {
        this.unitDir = unitDir;
    }

    /** One file the install may change: its path and bytes before and after (empty = absent). */
    record Change(Path path, Optional<byte[]> before, Optional<byte[]> after) {
        boolean differs() {
            return before.isPresent() != after.isPresent()
                    || before.isPresent() && !Arrays.equals(before.get(), after.get());
        }
    }

    /** Puts back what {@code c} found: its earlier bytes, or no file. */
    void restore(Change c) throws IOException {
        Optional<byte[]> now = read(c.path());
        if (c.before().isPresent()) {
            if (now.isEmpty() || !Arrays.equals(now.get(), c.before().get())) {
                write(c.path(), c.before().get());
            }
        } else {
            Files.deleteIfExists(c.path());
            deleteDropInDirIfEmpty(c.path().getParent());
        }
    }

    void apply(Change c) throws IOException {
        if (c.after().isPresent()) {
            write(c.path(), c.after().get());
        } else {
            Files.deleteIfExists(c.path());
            deleteDropInDirIfEmpty(c.path().getParent());
        }
    }

    /** Deletes {@code dir} when empty, but only a drop-in directory ({@code *.d}), never the unit directory. */
    private void deleteDropInDirIfEmpty(Path dir) {
        if (!dir.equals(unitDir) && dir.getFileName().toString().endsWith(".d")
                && dir.getParent().equals(unitDir)) {
            deleteIfEmpty(dir);
        }
    }

    static byte[] readUnit(AddonId id, Path source, String unit) throws SupervisionException {
        Path file = source.resolve(unit).normalize();
        try {
            if (!file.getParent().equals(source.normalize()) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": unit " + unit
                        + " is not a regular file at the root of the artifact");
            }
            if (Files.size(file) > MAX_UNIT_BYTES) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": unit " + unit
                        + " is larger than " + MAX_UNIT_BYTES + " bytes");
            }
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read unit " + unit
                    + " from " + source + ": " + e.getMessage(), e);
        }
    }

    static Optional<byte[]> read(Path file) throws IOException {
        try {
            if (Files.isSymbolicLink(file)) {
                throw new IOException(file + " is a symbolic link; Steward copies unit files and never links them");
            }
            return Optional.of(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    private static void write(Path file, byte[] bytes) throws IOException {
        AtomicFiles.replace(file, "." + file.getFileName() + ".steward-tmp").createDirectories().permissions("rw-r--r--")
                .write(bytes);
    }

    private static void deleteIfEmpty(Path dir) {
        try (var s = Files.list(dir)) {
            if (s.findAny().isEmpty()) {
                Files.delete(dir);
            }
        } catch (IOException e) {
            // not empty or gone: either way nothing to do
        }
    }
}
