package io.steward.launcher;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;
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

    /**
     * Why an agent cannot start on {@code data}: another process holds {@code <data>/state/agent.lock}
     * (the reconciler's lock; its holder wrote its pid and start into it). Only reads; checked before
     * the platform boots, so a second agent exits at once instead of refusing every pass.
     */
    static Optional<String> lockedBy(Path data) {
        Path file = data.resolve("state").resolve("agent.lock");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            try (FileLock probe = ch.tryLock(0, Long.MAX_VALUE, true)) {
                if (probe != null) {
                    return Optional.empty();
                }
            } catch (java.nio.channels.OverlappingFileLockException e) {
                // this JVM holds it (an embedding, a test): as locked as by another process
            }
            String holder = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).strip();
            return Optional.of("another Steward agent is working on " + data + " (it holds " + file
                    + (holder.isEmpty() ? "" : ": " + holder) + "); stop it or use its shell");
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            return Optional.empty();    // the reconciler reports what it cannot lock
        }
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
