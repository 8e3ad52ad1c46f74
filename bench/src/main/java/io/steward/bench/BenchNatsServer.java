package io.steward.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The fleet benchmark's nats-server on loopback: started fresh or again on the same port and store, and killed. */
final class BenchNatsServer {

    private static final Pattern PORT = Pattern.compile("\"nats\":\\[\"nats://[^\"]*:(\\d+)\"");
    private final Path work;
    private Process server;
    private int port;
    private int stores;

    BenchNatsServer(Path work) {
        this.work = work;
    }

    int port() {
        return port;
    }

    /** A fresh server (fresh store) on a free port, or ({@code requested} > 0) the same server started again. */
    void start(int requested) throws Exception {
        stop();
        if (requested < 0) {
            stores++;
        }
        Path dir = Files.createDirectories(work.resolve("nats"));
        Path ports = Files.createDirectories(dir.resolve("ports"));
        try (var old = Files.list(ports)) {
            for (Path p : old.toList()) {
                Files.delete(p);
            }
        }
        server = new ProcessBuilder("nats-server", "-js", "-a", "127.0.0.1", "-p", Integer.toString(requested), "-sd",
                dir.resolve("store-" + stores).toString(), "--ports_file_dir", ports.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < end) {
            try (var files = Files.list(ports)) {
                for (Path p : files.filter(f -> f.toString().endsWith(".ports")).toList()) {
                    Matcher m = PORT.matcher(Files.readString(p));
                    if (m.find()) {
                        port = Integer.parseInt(m.group(1));
                        return;
                    }
                }
            }
            Thread.sleep(10);    // polling for the ports file, bounded by the deadline
        }
        throw new IllegalStateException("nats-server did not start");
    }

    void stop() throws InterruptedException {
        if (server != null) {
            server.destroyForcibly().waitFor();
            server = null;
        }
    }
}
