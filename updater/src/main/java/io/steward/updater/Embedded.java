package io.steward.updater;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * An updater inside the calling JVM, for benchmarks and tests: it serves its socket like the process does
 * ({@link Main}, without the environment and root checks of {@code main}) and also answers requests directly,
 * through the same {@link Handler}, which is the in-process baseline of the socket hop. Not for production.
 */
public final class Embedded implements AutoCloseable {
    private final Main.Running running;
    private final Handler handler;

    private Embedded(Main.Running running) {
        this.running = running;
        this.handler = new Handler(running.updater());
    }

    /** Starts serving with the options of {@code steward-updater} ({@link UpdaterConfig#USAGE}). */
    public static Embedded start(List<String> options) throws IOException {
        UpdaterConfig config = UpdaterConfig.parse(options, Accounts.system());
        config.checkHost();
        return new Embedded(Main.start(config, Map.of()));
    }

    /** Answers one request line without the socket: the same parsing and work, no connection. */
    public String handle(String requestLine) {
        return io.steward.privileged.protocol.Protocol.line(handler.handle(requestLine, "in-process"));
    }

    @Override
    public void close() {
        running.stop();
    }
}
