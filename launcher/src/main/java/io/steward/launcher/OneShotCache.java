package io.steward.launcher;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The bundle cache of a one-shot command. A fresh cache costs two directories and three files per
 * bundle (about 30 bundles) and their deletion: 10 to 30 ms of apply on a fast file system, about
 * 110 ms where file creation is slow (this project's /tmp). So the cache is kept in
 * {@code <home>/cache/oneshot} and reused as long as the jars of {@code bin/},
 * {@code bundle/} and {@code deploy/} (path, file, size, modification time) and the JVM are those
 * it was made with; on any difference Felix cleans it first. A reused cache changes nothing that
 * a command sees: bundles are installed by reference (their content is read from the jars at every
 * start), started transiently (the cache never starts a bundle on its own) and their data areas are
 * emptied before each command (no ConfigAdmin configuration outlives it).
 * <p>
 * It lives in the installation, not in {@code <data>} ({@code plan} and {@code status} only read
 * that): it depends on the installation's jars only, and whoever can write there can replace the
 * jars anyway. Only the user who owns {@code <home>/cache} reuses it. One process at a time uses it
 * (a lock file next to it); another one, or a user who cannot write to {@code <home>} or does not own
 * the cache, gets a temporary cache deleted at the end.
 */
final class OneShotCache {
    private final Path dir;
    private final boolean temporary;
    private final boolean clean;
    private final FileChannel lockChannel;
    private final Path stampFile;
    private final String stamp;

    private OneShotCache(Path dir, boolean temporary, boolean clean, FileChannel lockChannel, Path stampFile,
                         String stamp) {
        this.dir = dir;
        this.temporary = temporary;
        this.clean = clean;
        this.lockChannel = lockChannel;
        this.stampFile = stampFile;
        this.stamp = stamp;
    }

    /** The kept cache of the installation if it can be had, else a new temporary one. */
    static OneShotCache open(Settings settings) throws LaunchException {
        OneShotCache kept = kept(settings);
        if (kept != null) {
            return kept;
        }
        try {
            return new OneShotCache(Files.createTempDirectory("steward-cache-"), true, false, null, null, null);
        } catch (IOException e) {
            throw new LaunchException("cannot create a temporary bundle cache: " + e.getMessage(), e);
        }
    }

    private static OneShotCache kept(Settings settings) {
        Path parent = settings.home().resolve("cache");
        if (!Files.isWritable(Files.isDirectory(parent) ? parent : settings.home())) {
            return null;
        }
        FileChannel channel = null;
        try {
            Files.createDirectories(parent);
            // a cache made by another user is not reused: root must never load what a user arranged
            if (!Files.getOwner(parent, java.nio.file.LinkOption.NOFOLLOW_LINKS).getName()
                    .equals(System.getProperty("user.name"))) {
                return null;
            }
            channel = FileChannel.open(parent.resolve("oneshot.lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {      // another command is running on this data directory
                channel.close();
                return null;
            }
            Path dir = parent.resolve("oneshot");
            Path stampFile = parent.resolve("oneshot.stamp");
            String stamp = stamp(settings);
            boolean valid = Files.isDirectory(dir) && stamp.equals(read(stampFile));
            if (valid) {
                emptyDataAreas(dir);
            } else {
                // invalid until a command has run to the end with the cache Felix is about to make
                Files.deleteIfExists(stampFile);
            }
            return new OneShotCache(dir, false, !valid, channel, stampFile, stamp);
        } catch (IOException | UncheckedIOException | OverlappingFileLockException e) {
            closeQuietly(channel);
            return null;
        }
    }

    /** The framework storage directory. */
    Path dir() {
        return dir;
    }

    /** Whether Felix must clean the storage when it initializes. */
    boolean clean() {
        return clean;
    }

    boolean temporary() {
        return temporary;
    }

    /**
     * Called once the framework is stopped (or could not be): a temporary cache is deleted; a kept
     * one is recorded valid if the command ran to its end and the framework stopped cleanly, else
     * invalid (the next command makes it again). Releases the lock.
     */
    void close(boolean ranToTheEnd) {
        if (temporary) {
            delete(dir);
            return;
        }
        try {
            if (!ranToTheEnd) {
                Files.deleteIfExists(stampFile);
            } else if (clean) {
                Files.writeString(stampFile, stamp, StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            // the next command makes the cache again
        } finally {
            closeQuietly(lockChannel);
        }
    }

    /** What the cache depends on: the JVM and every jar the launcher, Felix and the bundles come from. */
    static String stamp(Settings settings) throws IOException {
        StringBuilder out = new StringBuilder("steward one-shot bundle cache 1\n")
                .append(System.getProperty("java.home")).append(' ').append(System.getProperty("java.vm.version"))
                .append('\n');
        for (Path d : List.of(settings.home().resolve("bin"), settings.bundles(), settings.deploy())) {
            if (!Files.isDirectory(d)) {
                out.append(d).append(" absent\n");
                continue;
            }
            List<Path> jars = new ArrayList<>();
            try (DirectoryStream<Path> stream = Files.newDirectoryStream(d, "*.jar")) {
                stream.forEach(jars::add);
            }
            jars.sort(null);
            for (Path jar : jars) {
                BasicFileAttributes a = Files.readAttributes(jar, BasicFileAttributes.class);
                out.append(jar).append(' ').append(a.fileKey()).append(' ').append(a.size()).append(' ')
                        .append(a.lastModifiedTime().to(TimeUnit.NANOSECONDS)).append('\n');
            }
        }
        return out.toString();
    }

    private static String read(Path file) throws IOException {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** Felix keeps each bundle's data area in {@code bundle<id>/data}. */
    private static void emptyDataAreas(Path dir) throws IOException {
        try (DirectoryStream<Path> bundles = Files.newDirectoryStream(dir, "bundle*")) {
            for (Path bundle : bundles) {
                Path data = bundle.resolve("data");
                if (Files.isDirectory(data)) {
                    deleteTree(data);
                }
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }

    private static void delete(Path dir) {
        try {
            deleteTree(dir);
        } catch (IOException | UncheckedIOException e) {
            System.err.println("steward: could not delete the temporary bundle cache " + dir + ": " + e.getMessage());
        }
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                // nothing held any more
            }
        }
    }
}
