package io.steward.updater;

import io.steward.delivery.artifacts.ArtifactVerifier;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.UserPrincipal;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The agent's fixed staging location, read as root without trusting it (upstream §9.2 item 15): the updater
 * derives the path itself, {@code <data>/addons/<id>/artifacts/<sha256>.tar.gz}, from the request's id and
 * digest (never a path from the caller), and walks it with {@code openat(2)} through a
 * {@link SecureDirectoryStream}: every directory below {@code <data>} and the file itself are opened with
 * {@code O_NOFOLLOW}, so a symbolic link swapped in anywhere on the way is refused, not followed. The file must
 * be a regular file owned by the agent; after the open, its identity (device and inode) and size are checked
 * again, and what is read is then verified byte for byte (digest and signature). A FIFO swapped in between the
 * check and the open would block the open: it runs with a deadline, after which the updater opens the FIFO's
 * other end to release it and refuses the request. Thread-safe.
 */
final class StagingArea {
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    private static final long OPEN_DEADLINE_SECONDS = 5;

    private final Path data;
    private final UserPrincipal agent;
    private final long maxBytes;
    private final ExecutorService opener = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "updater-open");
        t.setDaemon(true);
        return t;
    });

    StagingArea(Path data, UserPrincipal agent, long maxBytes) {
        this.data = data;
        this.agent = agent;
        this.maxBytes = maxBytes;
    }

    /** Opens the artifact the agent kept for {@code id} and {@code sha256}; the caller closes the channel. */
    SeekableByteChannel open(AddonId id, String sha256) throws SupervisionException {
        String where = "<data>/addons/" + id + "/" + ArtifactVerifier.ARTIFACTS + "/" + ArtifactVerifier.artifactName(sha256);
        try (DirectoryStream<Path> top = Files.newDirectoryStream(data)) {
            if (!(top instanceof SecureDirectoryStream<Path> dataDir)) {
                throw refuse(id, "this platform cannot open " + where + " without following links (no openat)");
            }
            try (SecureDirectoryStream<Path> addons = dataDir.newDirectoryStream(Path.of("addons"), NOFOLLOW);
                 SecureDirectoryStream<Path> home = addons.newDirectoryStream(Path.of(id.value()), NOFOLLOW);
                 SecureDirectoryStream<Path> artifacts = home.newDirectoryStream(Path.of(ArtifactVerifier.ARTIFACTS),
                         NOFOLLOW)) {
                Path name = Path.of(ArtifactVerifier.artifactName(sha256));
                PosixFileAttributeView view = artifacts.getFileAttributeView(name, PosixFileAttributeView.class, NOFOLLOW);
                PosixFileAttributes before = view.readAttributes();
                check(id, where, before);
                SeekableByteChannel channel = openWithDeadline(id, where, artifacts, name);
                try {
                    PosixFileAttributes after = view.readAttributes();
                    check(id, where, after);
                    if (!before.fileKey().equals(after.fileKey()) || channel.size() != before.size()) {
                        throw refuse(id, where + " changed while it was opened");
                    }
                    return channel;
                } catch (SupervisionException | IOException | RuntimeException e) {
                    channel.close();
                    throw e;
                }
            }
        } catch (SupervisionException e) {
            throw e;
        } catch (java.nio.file.NoSuchFileException e) {
            // transient: the agent keeps the artifact again when it stages the add-on on the next attempt
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": materialize: " + where
                    + " does not exist (the agent keeps it when it stages the artifact)");
        } catch (IOException e) {
            // ELOOP (a link), ENOTDIR...: the fixed location does not hold a plain artifact file
            throw refuse(id, "cannot open " + where + " without following links: " + describe(e));
        }
    }

    private void check(AddonId id, String where, PosixFileAttributes a) throws SupervisionException {
        if (a.isSymbolicLink()) {
            throw refuse(id, where + " is a symbolic link; the updater does not follow links there");
        }
        if (!a.isRegularFile()) {
            throw refuse(id, where + " is not a regular file");
        }
        if (!a.owner().equals(agent)) {
            throw refuse(id, where + " is owned by " + a.owner().getName() + ", not by the agent's user " + agent.getName());
        }
        if (a.size() > maxBytes) {
            throw refuse(id, where + " is larger than " + maxBytes + " bytes");
        }
    }

    private SeekableByteChannel openWithDeadline(AddonId id, String where, SecureDirectoryStream<Path> dir, Path name)
            throws IOException, SupervisionException {
        Future<SeekableByteChannel> f = opener.submit(() -> dir.newByteChannel(name,
                Set.of(StandardOpenOption.READ, NOFOLLOW)));
        try {
            return f.get(OPEN_DEADLINE_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            // only a FIFO blocks an open for reading: opening its writing end lets the blocked open return
            try (SeekableByteChannel w = dir.newByteChannel(name, Set.of(StandardOpenOption.WRITE, NOFOLLOW))) {
                // nothing is written
            } catch (IOException ignored) {
                // gone again: the open below returns or fails by itself
            }
            try {
                f.get(OPEN_DEADLINE_SECONDS, TimeUnit.SECONDS).close();
            } catch (ExecutionException | TimeoutException | IOException ignored) {
                f.cancel(true);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                f.cancel(true);
            }
            throw refuse(id, where + " could not be opened within " + OPEN_DEADLINE_SECONDS + " s (not a regular file)");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.cancel(true);
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": materialize: interrupted");
        }
    }

    void close() {
        opener.shutdownNow();
    }

    private static SupervisionException refuse(AddonId id, String why) {
        // permanent: the agent must stage the artifact again (a new assignment or a re-stage) before a retry helps
        return new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": materialize: " + why);
    }

    private static String describe(IOException e) {
        String m = e.getMessage();
        String reason = e instanceof java.nio.file.FileSystemException fse && fse.getReason() != null ? fse.getReason() : null;
        return e.getClass().getSimpleName() + (reason != null ? " (" + reason + ")" : m != null ? " " + m : "");
    }
}
