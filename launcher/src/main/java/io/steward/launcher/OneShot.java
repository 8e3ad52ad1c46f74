package io.steward.launcher;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * {@code apply}, {@code plan}, {@code status}: boots the platform with a private, temporary bundle
 * cache (two Steward processes never share one), waits for the shell bundle's result
 * ({@link Handshake}), prints it, stops the platform and deletes the cache.
 */
final class OneShot {
    private static final Duration STOP_BOUND = Duration.ofSeconds(10);

    private OneShot() {
    }

    static int run(Settings settings, Duration timeout, PrintStream out, PrintStream err)
            throws LaunchException, InterruptedException {
        Path cache;
        try {
            cache = Files.createTempDirectory("steward-cache-");
        } catch (IOException e) {
            throw new LaunchException("cannot create a temporary bundle cache: " + e.getMessage(), e);
        }
        Boot boot;
        try {
            boot = Boot.init(settings, cache);
        } catch (LaunchException e) {
            delete(cache);
            throw e;
        }
        AtomicBoolean cleaned = new AtomicBoolean();
        Runnable cleanup = () -> {
            if (cleaned.compareAndSet(false, true)) {
                boot.stop(STOP_BOUND);
                delete(cache);
            }
        };
        // Ctrl-C or SIGTERM in the middle of a command still stops the platform and removes the cache
        Runtime.getRuntime().addShutdownHook(new Thread(cleanup, "steward-cleanup"));
        try {
            Handshake handshake = Handshake.listen(boot.context());
            Thread watcher = new Thread(() -> {
                try {
                    boot.framework().waitForStop(0);
                    handshake.frameworkStopped();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "steward-watch");
            watcher.setDaemon(true);
            watcher.start();
            boot.start();
            Handshake.Result result = handshake.await(timeout);
            print(out, result.stdout());
            print(err, result.stderr());
            return result.exit();
        } finally {
            cleanup.run();
        }
    }

    private static void print(PrintStream stream, String text) {
        if (!text.isEmpty()) {
            stream.print(text.endsWith("\n") ? text : text + "\n");
            stream.flush();
        }
    }

    private static void delete(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            System.err.println("steward: could not delete the temporary bundle cache " + dir + ": " + e.getMessage());
        }
    }
}
