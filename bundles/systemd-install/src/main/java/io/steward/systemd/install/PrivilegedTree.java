package io.steward.systemd.install;

import io.steward.files.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The root-owned copy of an add-on that units execute from: {@code <privileged-root>/<id>/versions/<name>}
 * with a {@code current} link swapped atomically. A version directory is written once (temp dir, then
 * rename) and identified by a digest of its tree, so a re-published version with other bytes gets a new
 * directory instead of overwriting one a rollback may return to. Used by the in-process installer and by the
 * root updater.
 */
public final class PrivilegedTree {
    private final Path addonRoot;

    public PrivilegedTree(Path privilegedRoot, String id) {
        this.addonRoot = privilegedRoot.resolve(id);
    }

    public Path current() {
        return addonRoot.resolve("current");
    }

    /** Where {@code current} points now (relative target resolved), if it exists. */
    public Optional<Path> currentTarget() throws IOException {
        Path link = current();
        if (!Files.isSymbolicLink(link)) {
            return Optional.empty();
        }
        return Optional.of(addonRoot.resolve(Files.readSymbolicLink(link)).normalize());
    }

    /** The version directory for {@code source}, named {@code <name>} or {@code <name>-<digest prefix>}. */
    public Path versionFor(Path source, String digest) throws IOException {
        String name = source.getFileName().toString();
        Path plain = addonRoot.resolve("versions").resolve(name);
        if (!Files.exists(plain, LinkOption.NOFOLLOW_LINKS) || digest.equals(readDigest(plain))) {
            return plain;
        }
        return addonRoot.resolve("versions").resolve(name + "-" + digest.substring(0, 12));
    }

    private static String readDigest(Path version) throws IOException {
        Path marker = version.resolveSibling(version.getFileName() + ".sha256");
        try {
            return Files.readString(marker).trim();
        } catch (NoSuchFileException e) {
            return "";
        }
    }

    /** True when {@code version} exists and holds the tree with {@code digest}. */
    public boolean holds(Path version, String digest) throws IOException {
        return Files.isDirectory(version, LinkOption.NOFOLLOW_LINKS) && digest.equals(readDigest(version));
    }

    /** Copies {@code source} to {@code version} (temp dir, then rename); regular files and directories only. */
    public void materialise(Path source, Path version, String digest) throws IOException {
        Files.createDirectories(version.getParent());
        if (holds(version, digest)) {
            return;
        }
        Path tmp = Files.createTempDirectory(version.getParent(), ".tmp-");
        try {
            copyTree(source, tmp);
            deleteTree(version);
            Files.move(tmp, version, StandardCopyOption.ATOMIC_MOVE);
            writeDigest(version, digest);
        } finally {
            deleteTree(tmp);
        }
    }

    /**
     * Like {@link #materialise}, but moves {@code extracted} (a verified tree on the same file system, e.g. one
     * the root updater extracted from the artifact) instead of copying it; {@code extracted} is gone afterwards.
     */
    public void adopt(Path extracted, Path version, String digest) throws IOException {
        Files.createDirectories(version.getParent());
        if (holds(version, digest)) {
            deleteTree(extracted);
            return;
        }
        deleteTree(version);
        Files.move(extracted, version, StandardCopyOption.ATOMIC_MOVE);
        writeDigest(version, digest);
    }

    private static void writeDigest(Path version, String digest) throws IOException {
        Path marker = version.resolveSibling(version.getFileName() + ".sha256");
        AtomicFiles.replace(marker, marker.getFileName() + ".tmp").write((digest + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** Points {@code current} at {@code version} (relative link, atomic rename), or removes it for empty. */
    public void point(Optional<Path> version) throws IOException {
        Path link = current();
        if (version.isEmpty()) {
            Files.deleteIfExists(link);
            return;
        }
        Files.createDirectories(addonRoot);
        Path tmp = addonRoot.resolve(".current.tmp");
        Files.deleteIfExists(tmp);
        Files.createSymbolicLink(tmp, addonRoot.relativize(version.get()));
        Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Deletes a version directory and its marker. */
    public void deleteVersion(Path version) throws IOException {
        deleteTree(version);
        Files.deleteIfExists(version.resolveSibling(version.getFileName() + ".sha256"));
    }

    /** After a failed first install: {@code versions/} and the add-on's directory, each only if empty. */
    public void deleteEmpty() {
        for (Path dir : List.of(addonRoot.resolve("versions"), addonRoot)) {
            try {
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                return;     // not empty (or gone): what is there stays
            }
        }
    }

    /** Deletes everything of the add-on. */
    public void deleteAll() throws IOException {
        deleteTree(addonRoot);
    }

    /** SHA-256 over the sorted relative paths, executable bits and bytes of the regular files of a tree. */
    public static String digest(Path root) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        List<Path> files = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(root)) {
            walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).sorted().forEach(files::add);
        }
        byte[] buffer = new byte[65536];
        for (Path f : files) {
            md.update(root.relativize(f).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            md.update((byte) (Files.isExecutable(f) ? 1 : 0));
            try (InputStream in = Files.newInputStream(f, LinkOption.NOFOLLOW_LINKS)) {
                for (int n; (n = in.read(buffer)) > 0; ) {
                    md.update(buffer, 0, n);
                }
            }
            md.update((byte) 0);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static void copyTree(Path source, Path target) throws IOException {
        Files.walkFileTree(source, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Path t = target.resolve(source.relativize(dir).toString());
                Files.createDirectories(t);
                Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rwxr-xr-x"));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (!attrs.isRegularFile()) {
                    throw new IOException("refusing to copy " + file + ": not a regular file");
                }
                Path t = target.resolve(source.relativize(file).toString());
                Files.copy(file, t, LinkOption.NOFOLLOW_LINKS);
                Files.setPosixFilePermissions(t, PosixFilePermissions.fromString(
                        Files.isExecutable(file) ? "rwxr-xr-x" : "rw-r--r--"));
                return FileVisitResult.CONTINUE;
            }
        });
    }

    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            Files.delete(root);
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
