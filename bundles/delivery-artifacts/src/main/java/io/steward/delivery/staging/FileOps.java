package io.steward.delivery.staging;

import io.steward.delivery.artifacts.Sink;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;

/** File-system steps that must be atomic or private: links swapped by rename, trees removed without following links. */
public final class FileOps {
    private static final Set<PosixFilePermission> PRIVATE_DIR = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> PRIVATE_FILE = PosixFilePermissions.fromString("rw-------");
    private static final SecureRandom RANDOM = new SecureRandom();

    private FileOps() {
    }

    public static String random() {
        byte[] b = new byte[8];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** Creates {@code dir} and missing parents with mode 0755 (whatever the umask). */
    public static void ensureDirectory(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        Path parent = dir.getParent();
        if (parent != null) {
            ensureDirectory(parent);
        }
        try {
            Files.createDirectory(dir);
            Files.setPosixFilePermissions(dir, Sink.DIR_MODE);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(dir)) {
                throw e;
            }
        }
    }

    /** A new directory only the agent can enter (0700), under {@code parent}. */
    public static Path privateDirectory(Path parent, String prefix) throws IOException {
        return createPrivate(parent, prefix, true);
    }

    /** A new empty file only the agent can read (0600), under {@code parent}. */
    public static Path privateFile(Path parent, String prefix) throws IOException {
        return createPrivate(parent, prefix, false);
    }

    private static Path createPrivate(Path parent, String prefix, boolean directory) throws IOException {
        ensurePrivateParent(parent);
        Path path = parent.resolve(prefix + random());
        Set<PosixFilePermission> mode = directory ? PRIVATE_DIR : PRIVATE_FILE;
        if (directory) {
            Files.createDirectory(path, PosixFilePermissions.asFileAttribute(mode));
        } else {
            Files.createFile(path, PosixFilePermissions.asFileAttribute(mode));
        }
        Files.setPosixFilePermissions(path, mode);     // whatever the umask
        return path;
    }

    private static void ensurePrivateParent(Path parent) throws IOException {
        if (!Files.isDirectory(parent)) {
            ensureDirectory(parent.getParent());
            try {
                Files.createDirectory(parent, PosixFilePermissions.asFileAttribute(PRIVATE_DIR));
                Files.setPosixFilePermissions(parent, PRIVATE_DIR);
            } catch (FileAlreadyExistsException e) {
                // created concurrently
            }
        }
    }

    /** The target of a symbolic link, or empty when {@code link} is not one. */
    public static Optional<Path> readLink(Path link) throws IOException {
        try {
            if (!Files.isSymbolicLink(link)) {
                return Optional.empty();
            }
            return Optional.of(Files.readSymbolicLink(link));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /** Points {@code link} at {@code target} atomically: a temporary link renamed over it. */
    public static void swapLink(Path link, Path target) throws IOException {
        Path dir = link.getParent();
        Path tmp = dir.resolve("." + link.getFileName() + ".tmp-" + random());
        Files.createSymbolicLink(tmp, target);
        try {
            Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        syncDirectory(dir);
    }

    /** Replaces {@code target} with {@code bytes}: a synced temporary sibling renamed over it. */
    public static void writeAtomically(Path target, byte[] bytes, Set<PosixFilePermission> mode) throws IOException {
        Path dir = target.getParent();
        Path tmp = dir.resolve("." + target.getFileName() + ".tmp-" + random());
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                ch.write(buffer);
            }
            ch.force(true);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.setPosixFilePermissions(tmp, mode);
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.deleteIfExists(tmp);
            throw new IOException("cannot replace " + target + " atomically", e);
        }
        syncDirectory(dir);
    }

    public static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some file systems refuse fsync on a directory; the rename is still atomic there
        }
    }

    /** Deletes a tree without following symbolic links; a missing tree is fine. */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            Files.deleteIfExists(root);
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                // a tree we made private (0700, or a file 0400) must stay removable
                Files.setPosixFilePermissions(dir, PRIVATE_DIR);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /**
     * Removes a tree so that it disappears at once: renamed into {@code trash} (same file system), then
     * deleted there. A crash midway leaves the remains in {@code trash}, never a half-deleted tree in place.
     */
    public static void discard(Path tree, Path trash, String prefix) throws IOException {
        if (!Files.exists(tree, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        ensurePrivateParent(trash);
        Path gone = trash.resolve(prefix + random());
        try {
            Files.move(tree, gone, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            gone = tree;        // another file system: delete in place
        }
        deleteTree(gone);
    }

    /** Deletes the entries of {@code dir} whose names start with {@code prefix}; errors are left for later. */
    public static int deleteMatching(Path dir, String prefix) {
        int n = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> p.getFileName().toString().startsWith(prefix))) {
            for (Path p : ds) {
                try {
                    deleteTree(p);
                    n++;
                } catch (IOException e) {
                    // retried at the next stage
                }
            }
        } catch (IOException e) {
            // no such directory: nothing left over
        }
        return n;
    }
}
