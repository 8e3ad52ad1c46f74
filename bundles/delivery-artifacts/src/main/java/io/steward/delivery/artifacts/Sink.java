package io.steward.delivery.artifacts;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Where the one-pass reader puts what it extracts. Every {@link IOException} a sink throws is about the
 * local disk (full, read-only, gone), hence transient.
 */
public interface Sink {
    Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwxr-xr-x");
    Set<PosixFilePermission> EXEC_MODE = PosixFilePermissions.fromString("rwxr-xr-x");
    Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-r--r--");

    /** A directory at a validated relative path. */
    void directory(String path) throws IOException;

    /** Starts a regular file at a validated relative path whose parents exist as directories in the tar. */
    void begin(String path) throws IOException;

    void write(byte[] b, int off, int len) throws IOException;

    void end(boolean executable) throws IOException;

    /** Where the files go, for a failure's sentence ({@code " into <dir>"}: a full disk names the disk). */
    default String where() {
        return "";
    }

    /** Discards the content (used by {@code steward verify}: nothing touches the disk). */
    Sink DISCARD = new Sink() {
        @Override
        public void directory(String path) {
        }

        @Override
        public void begin(String path) {
        }

        @Override
        public void write(byte[] b, int off, int len) {
        }

        @Override
        public void end(boolean executable) {
        }
    };

    /**
     * Writes into a private directory, creating parents as needed (0755), files 0644 or 0755 whatever the
     * umask, never over an existing name. With {@code sync}, each file is flushed to disk before it is
     * closed, so that a version directory that becomes visible after a power loss is complete.
     */
    final class Directory implements Sink {
        private final Path root;
        private final boolean sync;
        private FileChannel open;
        private Path openPath;

        public Directory(Path root, boolean sync) {
            this.root = root;
            this.sync = sync;
        }

        @Override
        public String where() {
            return " into " + root;
        }

        @Override
        public void directory(String path) throws IOException {
            mkdirs(root.resolve(path));
        }

        @Override
        public void begin(String path) throws IOException {
            Path file = root.resolve(path);
            mkdirs(file.getParent());
            openPath = file;
            open = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            ByteBuffer buffer = ByteBuffer.wrap(b, off, len);
            while (buffer.hasRemaining()) {
                open.write(buffer);
            }
        }

        @Override
        public void end(boolean executable) throws IOException {
            try (FileChannel ch = open) {
                if (sync) {
                    ch.force(true);
                }
            } finally {
                open = null;
            }
            Files.setPosixFilePermissions(openPath, executable ? EXEC_MODE : FILE_MODE);
        }

        /** Closes a file left open by a failed read. */
        public void abort() {
            if (open != null) {
                try {
                    open.close();
                } catch (IOException e) {
                    // the whole directory is deleted next
                }
                open = null;
            }
        }

        private void mkdirs(Path dir) throws IOException {
            if (dir.equals(root) || Files.isDirectory(dir)) {
                return;
            }
            mkdirs(dir.getParent());
            Files.createDirectory(dir);
            Files.setPosixFilePermissions(dir, DIR_MODE);
        }
    }
}
