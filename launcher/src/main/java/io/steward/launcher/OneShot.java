package io.steward.launcher;

import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code apply}, {@code plan}, {@code status}: boots the platform with a bundle cache no other
 * Steward process uses at the same time ({@link OneShotCache}), waits for the shell bundle's result
 * ({@link Handshake}), prints it and stops the platform.
 */
final class OneShot {
    private static final Duration STOP_BOUND = Duration.ofSeconds(10);

    private OneShot() {
    }

    static int run(Settings settings, Duration timeout, PrintStream out, PrintStream err)
            throws LaunchException, InterruptedException {
        OneShotCache cache = OneShotCache.open(settings);
        Boot boot;
        try {
            boot = Boot.init(settings, cache.dir(), cache.clean());
        } catch (LaunchException | RuntimeException e) {
            cache.close(false);   // a kept cache Felix cannot read is made again by the next command
            throw e;
        }
        AtomicBoolean cleaned = new AtomicBoolean();
        AtomicBoolean finished = new AtomicBoolean();
        Runnable cleanup = () -> {
            if (cleaned.compareAndSet(false, true)) {
                // a command that fails or is interrupted leaves a kept cache to be made again
                boolean stopped = boot.stop(STOP_BOUND);
                cache.close(stopped && finished.get());
            }
        };
        // Ctrl-C or SIGTERM in the middle of a command still stops the platform and releases the cache
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
            finished.set(true);
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
}
