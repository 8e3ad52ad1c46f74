package io.steward.source.nats.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/**
 * A real {@code nats-server} with JetStream on loopback, started by a test and stopped by it: its store
 * and its ports file in a directory of the test's, its port chosen by the server ({@code -p -1}) the
 * first time and kept across {@link #restart}s, so a client reconnects to the same URL.
 */
final class NatsServer implements AutoCloseable {
    private static final Pattern PORT = Pattern.compile("\"nats\":\\[\"nats://[^\"]*:(\\d+)\"");

    private final Path dir;
    private final List<String> extra;
    private Process process;
    private int port;

    private NatsServer(Path dir, List<String> extra) {
        this.dir = dir;
        this.extra = extra;
    }

    /** Starts a server whose store is {@code dir/store}; {@code extra} are more arguments ({@code -c FILE}). */
    static NatsServer start(Path dir, String... extra) throws IOException, InterruptedException {
        NatsServer s = new NatsServer(dir, List.of(extra));
        s.launch(-1);
        return s;
    }

    /** A server that will listen on {@code port} once {@link #restart} is called (for "started after the agent"). */
    static NatsServer notYetStarted(Path dir, int port, String... extra) {
        NatsServer s = new NatsServer(dir, List.of(extra));
        s.port = port;
        return s;
    }

    static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    String url() {
        return "nats://127.0.0.1:" + port;
    }

    int port() {
        return port;
    }

    private void launch(int requested) throws IOException, InterruptedException {
        Path ports = Files.createDirectories(dir.resolve("ports"));
        try (Stream<Path> old = Files.list(ports)) {
            for (Path p : old.toList()) {
                Files.delete(p);
            }
        }
        List<String> cmd = new ArrayList<>(List.of("nats-server", "-js", "-a", "127.0.0.1", "-p", Integer.toString(requested),
                "-sd", dir.resolve("store").toString(), "--ports_file_dir", ports.toString()));
        cmd.addAll(extra);
        process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("server.log").toFile()).start();
        try {
            port = Awaitility.await().atMost(Duration.ofSeconds(20)).pollDelay(Duration.ZERO)
                    .pollInterval(Duration.ofMillis(20)).pollInSameThread()
                    .until(() -> portWritten(ports), p -> p.isPresent()).orElseThrow();
        } catch (ConditionTimeoutException e) {
            throw new IOException("nats-server wrote no ports file within 20 s: " + Files.readString(dir.resolve("server.log")));
        }
    }

    /** The port in the server's ports file, once it wrote one; fails when the server exited instead. */
    private Optional<Integer> portWritten(Path ports) throws IOException {
        if (!process.isAlive()) {
            throw new IOException("nats-server exited with " + process.exitValue() + ": "
                    + Files.readString(dir.resolve("server.log")));
        }
        try (Stream<Path> files = Files.list(ports)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".ports")).toList()) {
                Matcher m = PORT.matcher(Files.readString(p, StandardCharsets.UTF_8));
                if (m.find()) {
                    return Optional.of(Integer.parseInt(m.group(1)));
                }
            }
        }
        return Optional.empty();
    }

    /** Kills the server (SIGKILL: no goodbye to its clients). */
    void kill() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            process.waitFor();
        }
    }

    /** Starts the server again on its port, with its store. */
    void restart() throws IOException, InterruptedException {
        kill();
        launch(port);
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }
}
