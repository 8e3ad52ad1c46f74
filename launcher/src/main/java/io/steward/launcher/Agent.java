package io.steward.launcher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.osgi.framework.FrameworkEvent;

/**
 * {@code steward run}: boots the platform with its bundle cache under {@code <data>/cache/felix}
 * and blocks until the framework stops. SIGTERM (the shutdown hook) stops the framework, that
 * is the agent; what the add-ons do then is up to their dispatchers.
 */
final class Agent {
    private static final Duration STOP_BOUND = Duration.ofSeconds(30);

    private Agent() {
    }

    static int run(Settings settings) throws LaunchException, InterruptedException {
        Path storage = settings.data().resolve("cache").resolve("felix");
        try {
            Files.createDirectories(storage);
        } catch (IOException e) {
            throw new LaunchException("cannot create the bundle cache " + storage + ": " + e.getMessage(), e);
        }
        Boot boot = Boot.init(settings, storage);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> boot.stop(STOP_BOUND), "steward-shutdown"));
        boot.start();
        FrameworkEvent stopped = boot.framework().waitForStop(0);
        return stopped.getType() == FrameworkEvent.ERROR ? 1 : 0;
    }
}
