package io.steward.files;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Objects;

/**
 * Replaces a file atomically: the bytes go to a temporary sibling that is then renamed over the target, so a
 * reader sees the old file or the new one, never a torn one. What else happens is each caller's choice, because
 * callers differ on purpose: {@link #createDirectories()}, {@link #durable()} (fsync the file, then the directory),
 * {@link #permissions(String)} and {@link #cleanUpOnFailure()}.
 * <p>
 * A {@code Replacement} is a one-use value built and written by one thread; the class holds no state of its own.
 */
public final class AtomicFiles {

    private AtomicFiles() {
    }

    /** A replacement of {@code target} through the temporary sibling {@code tempName} (a file name, no path). */
    public static Replacement replace(Path target, String tempName) {
        return new Replacement(target, tempName);
    }

    /** Fsyncs {@code dir}, so a rename in it survives a crash; a file system that refuses this is ignored. */
    public static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some file systems refuse fsync on a directory; the rename is still atomic there
        }
    }

    /** How one file is replaced; each option is off until asked for. */
    public static final class Replacement {
        private final Path target;
        private final String tempName;
        private boolean createDirectories;
        private boolean durable;
        private String permissions;
        private boolean cleanUp;

        private Replacement(Path target, String tempName) {
            this.target = Objects.requireNonNull(target, "target");
            this.tempName = Objects.requireNonNull(tempName, "tempName");
        }

        /** Creates the target's directory (and its parents) first. */
        public Replacement createDirectories() {
            createDirectories = true;
            return this;
        }

        /**
         * Fsyncs the temporary file before the rename and the directory after it. The bytes are written through a
         * stream, not a FileChannel: an interrupt (agent shutdown) must not abort a state write.
         */
        public Replacement durable() {
            durable = true;
            return this;
        }

        /** Sets these POSIX permissions (e.g. {@code rw-r--r--}) on the temporary file before the rename. */
        public Replacement permissions(String posix) {
            PosixFilePermissions.fromString(posix);
            permissions = posix;
            return this;
        }

        /**
         * Deletes the temporary file when writing or renaming fails, so a full disk leaves the old file and no torn
         * temporary beside it; a file system that cannot rename atomically is reported as
         * "cannot replace &lt;target&gt; atomically".
         */
        public Replacement cleanUpOnFailure() {
            cleanUp = true;
            return this;
        }

        /** Writes {@code bytes} and renames them over the target. */
        public void write(byte[] bytes) throws IOException {
            Path dir = target.toAbsolutePath().getParent();
            if (createDirectories) {
                Files.createDirectories(dir);
            }
            Path tmp = target.resolveSibling(tempName);
            if (!cleanUp) {
                writeAndMove(tmp, bytes);
            } else {
                try {
                    writeAndMove(tmp, bytes);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.deleteIfExists(tmp);
                    throw new IOException("cannot replace " + target + " atomically", e);
                } catch (IOException e) {
                    Files.deleteIfExists(tmp);
                    throw e;
                }
            }
            if (durable) {
                syncDirectory(dir);
            }
        }

        private void writeAndMove(Path tmp, byte[] bytes) throws IOException {
            if (durable) {
                try (FileOutputStream out = new FileOutputStream(tmp.toFile())) {
                    out.write(bytes);
                    out.getFD().sync();
                }
            } else {
                Files.write(tmp, bytes);
            }
            if (permissions != null) {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString(permissions));
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
