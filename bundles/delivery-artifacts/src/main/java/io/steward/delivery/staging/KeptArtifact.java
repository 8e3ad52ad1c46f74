package io.steward.delivery.staging;

import io.steward.delivery.artifacts.ArtifactVerifier;
import io.steward.delivery.artifacts.Failures;
import io.steward.delivery.artifacts.Sink;
import io.steward.supervision.spi.SupervisionException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The artifact bytes kept beside the staged tree, for the root updater to re-read and re-verify
 * ({@code <home>/artifacts/<sha256>.tar.gz}, see {@link ArtifactVerifier#artifactFile}). The bytes are copied
 * while the one-pass reader hashes them (a tee, no second read) into a private file under {@code <data>/tmp},
 * which is renamed into place only after the digest and the signature were checked. A failure to write the
 * copy does not disturb the read: it is reported by {@link #commit}. One instance per stage; not thread-safe.
 */
final class KeptArtifact implements AutoCloseable {
    private final Failures fail;
    private final Path file;
    private final FileChannel channel;
    private IOException failure;

    private KeptArtifact(Failures fail, Path file, FileChannel channel) {
        this.fail = fail;
        this.file = file;
        this.channel = channel;
    }

    static KeptArtifact open(Failures fail, Path tmp, String prefix) throws SupervisionException {
        Path file = null;
        try {
            file = FileOps.privateFile(tmp, prefix);
            return new KeptArtifact(fail, file, FileChannel.open(file, StandardOpenOption.WRITE));
        } catch (IOException e) {
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException ignored) {
                    // the next stage of the add-on removes it
                }
            }
            throw fail.temporary("keep", "cannot create a file in " + tmp + " for the artifact: " + Failures.describe(e), e);
        }
    }

    /** {@code in}, with every byte read also written to the kept file. */
    InputStream tee(InputStream in) {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                if (b >= 0) {
                    copy(new byte[] {(byte) b}, 0, 1);
                }
                return b;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0) {
                    copy(b, off, n);
                }
                return n;
            }
        };
    }

    private void copy(byte[] b, int off, int len) {
        if (failure != null) {
            return;
        }
        try {
            ByteBuffer buffer = ByteBuffer.wrap(b, off, len);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        } catch (IOException e) {
            failure = e;
        }
    }

    /** Moves the verified copy to {@code target} (replacing a file of the same digest), synced when asked. */
    void commit(Path target, boolean sync) throws SupervisionException {
        try {
            if (failure != null) {
                throw failure;
            }
            if (sync) {
                channel.force(true);
            }
            channel.close();
            Files.setPosixFilePermissions(file, Sink.FILE_MODE);
            FileOps.ensureDirectory(target.getParent());
            Files.move(file, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            FileOps.syncDirectory(target.getParent());
        } catch (IOException e) {
            throw fail.temporary("keep", "cannot keep the artifact at " + target + ": " + Failures.describe(e), e);
        }
    }

    /** Deletes the temporary copy unless it was committed. */
    @Override
    public void close() {
        try {
            channel.close();
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // left in <data>/tmp; the next stage of the add-on deletes it
        }
    }
}
