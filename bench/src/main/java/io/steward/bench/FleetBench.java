package io.steward.bench;

import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.KeyValue;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.KeyValueEntry;
import io.nats.client.api.KeyValueWatchOption;
import io.nats.client.api.KeyValueWatcher;
import io.steward.assignment.codec.JsonAssignmentCodec;
import io.steward.delivery.trust.Ed25519;
import io.steward.delivery.trust.TrustStore;
import io.steward.source.nats.fleet.AssignmentWatch;
import io.steward.source.nats.fleet.FleetController;
import io.steward.source.nats.fleet.Jitter;
import io.steward.source.signed.SignedDocumentGate;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The fleet benchmark (bench/fleet-bench.sh): simulated agents against a real nats-server on loopback.
 * Each simulated agent is the agent's real receiving path — {@link AssignmentWatch} (re-watch from the
 * last revision after a reconnect) and {@link SignedDocumentGate} (signature, host, serial, document,
 * atomic cache) — and acks by writing its status; the controller puts one signed document per host and
 * measures, per host, the time from its put to its status carrying the new serial. Beside it, in the
 * same run, the baseline a user scripts today: the document copied into one file per host, each host
 * polling its file every second and writing a status file.
 */
public final class FleetBench {
    private static final String DOC = "{\"revision\":\"bench-%d\",\"addons\":[{\"id\":\"flow\",\"version\":\"1.0.%d\","
            + "\"supervision\":\"config_toggle\"}]}";

    private final Path work;
    private final KeyPair key = Ed25519.generate();
    private final TrustStore trust;
    private final JsonAssignmentCodec codec = new JsonAssignmentCodec();
    private final BenchNatsServer nats;

    private FleetBench(Path work) throws Exception {
        this.work = work;
        this.nats = new BenchNatsServer(work);
        Path t = Files.createDirectories(work.resolve("trust"));
        Files.writeString(t.resolve("fleet.pem"), Ed25519.publicPem(key.getPublic()));
        trust = new TrustStore(t);
    }

    public static void main(String[] args) throws Exception {
        int[] sizes = args.length > 0 ? Arrays.stream(args[0].split(",")).mapToInt(Integer::parseInt).toArray()
                : new int[] {1000, 10000};
        int connections = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
        Path work = Files.createTempDirectory(Path.of("/dev/shm"), "fleet-bench-");
        FleetBench b = new FleetBench(work);
        try {
            b.run(sizes, connections);
        } finally {
            b.nats.stop();
            try (var files = Files.walk(work)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private void run(int[] sizes, int connections) throws Exception {
        System.out.println("| run | agents | connections | p50 | p99 | all acked | per agent RSS | per agent threads |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        Result base = baseline(1000);
        print("baseline: doc copied to a file per host, hosts poll every 1 s", 1000, 0, base);
        for (int n : sizes) {
            nats.start(-1);
            Fleet fleet = new Fleet(n, 1);
            Result r = fleet.round(1);
            print("NATS KV, one put per host (1 connection)", n, 1, r.relativeTo(base));
            if (n == sizes[0]) {
                long t0 = System.nanoTime();
                nats.start(nats.port());      // kill -9 and start again: same port, same store
                Result rec = fleet.round(2, t0);
                print("the same after a server restart (from the kill)", n, 1, rec.relativeTo(base));
            }
            fleet.close();
            nats.stop();
        }
        if (connections > 0) {
            nats.start(-1);
            Fleet many = new Fleet(sizes[0], connections);
            Result r = many.round(1);
            print("NATS KV, one put per host (" + connections + " connections)", sizes[0], connections, r.relativeTo(base));
            many.close();
            nats.stop();
        }
    }

    private static void print(String what, int n, int conns, Result r) {
        System.out.printf("| %s | %d | %s | %s | %s | %s | %s | %s |%n", what, n, conns == 0 ? "-" : Integer.toString(conns),
                r.p50(), r.p99(), r.all(), r.rssText(), r.threadsText());
    }

    /** Per-host latencies (ms), the time until the last ack, the cost per agent; ratios against a baseline. */
    record Result(double[] ms, double allMs, double rssKiB, double threads, Result base) {
        Result relativeTo(Result b) {
            return new Result(ms, allMs, rssKiB, threads, b);
        }

        private double pct(double q) {
            double[] s = ms.clone();
            Arrays.sort(s);
            return s[Math.min(s.length - 1, (int) Math.ceil(q * s.length) - 1)];
        }

        private String fmt(double v, double b) {
            return String.format("%.0f ms", v) + (base == null ? "" : String.format(" (%.2f×)", v / b));
        }

        String p50() {
            return fmt(pct(0.5), base == null ? 1 : base.pct(0.5));
        }

        String p99() {
            return fmt(pct(0.99), base == null ? 1 : base.pct(0.99));
        }

        String all() {
            return fmt(allMs, base == null ? 1 : base.allMs);
        }

        String rssText() {
            return String.format("%.1f KiB", Math.max(0, rssKiB));
        }

        String threadsText() {
            return String.format("%.3f", Math.max(0, threads));
        }
    }

    // ---------------------------------------------------------------- the NATS fleet

    /** n simulated agents over {@code conns} connections, and the controller. */
    private final class Fleet {
        final int n;
        final List<Connection> agentConnections = new ArrayList<>();
        final List<AssignmentWatch> watches = new ArrayList<>();
        final ScheduledExecutorService watchThread = Executors.newSingleThreadScheduledExecutor();
        final ExecutorService statusWriters = Executors.newFixedThreadPool(8);
        final Connection controller;
        final ConcurrentHashMap<String, Long> acked = new ConcurrentHashMap<>();
        final double rssPerAgent;
        final double threadsPerAgent;

        Fleet(int n, int conns) throws Exception {
            this.n = n;
            controller = Nats.connect(options(null));
            new FleetController(controller, "steward-assignments", "steward-status").ensureBuckets(1);
            System.gc();
            long rss0 = rssKiB();
            int threads0 = Thread.activeCount();
            for (int c = 0; c < conns; c++) {
                List<AssignmentWatch> mine = new ArrayList<>();
                Connection conn = Nats.connect(options((cn, type) -> {
                    if (type == ConnectionListener.Events.RESUBSCRIBED || type == ConnectionListener.Events.RECONNECTED) {
                        mine.forEach(w -> w.up(cn));
                    }
                }));
                agentConnections.add(conn);
                for (int i = c; i < n; i += conns) {
                    AssignmentWatch w = agent("a" + i, conn);
                    mine.add(w);
                    watches.add(w);
                    w.up(conn);
                }
            }
            // every watch started (the executor has run every up())
            watchThread.submit(() -> { }).get();
            System.gc();
            rssPerAgent = (rssKiB() - rss0) / (double) n;
            threadsPerAgent = (Thread.activeCount() - threads0) / (double) n;
        }

        private AssignmentWatch agent(String host, Connection conn) throws Exception {
            Path cache = work.resolve("cache").resolve(host + ".json");
            SignedDocumentGate gate = new SignedDocumentGate(host, trust, codec, cache, 1 << 20, true);
            KeyValue status = conn.keyValue("steward-status");
            AssignmentWatch.Sink sink = new AssignmentWatch.Sink() {
                @Override
                public void entry(KeyValueEntry e) {
                    try {
                        if (gate.offer(e.getValue()).outcome() == SignedDocumentGate.Outcome.ACCEPTED) {
                            long serial = gate.current().orElseThrow().value().serial();
                            statusWriters.execute(() -> ack(status, host, serial));
                        }
                    } catch (Exception ex) {
                        throw new IllegalStateException(ex);
                    }
                }

                @Override
                public void empty() {
                }
            };
            return new AssignmentWatch("steward-assignments", "host." + host, sink, watchThread, Duration.ofMinutes(2),
                    Duration.ofMillis(250), Duration.ofSeconds(8));
        }

        private void ack(KeyValue status, String host, long serial) {
            for (int attempt = 0; attempt < 100; attempt++) {
                try {
                    status.put("host." + host, ("{\"host\":\"" + host + "\",\"serial\":" + serial + ",\"converged\":true}")
                            .getBytes(StandardCharsets.UTF_8));
                    return;
                } catch (Exception e) {
                    sleep(Jitter.backoff(attempt, Duration.ofMillis(50), Duration.ofSeconds(2)).toMillis());
                }
            }
        }

        Result round(long serial) throws Exception {
            return round(serial, -1);
        }

        /** One signed put per host, then until every host's status carries {@code serial}. */
        Result round(long serial, long from) throws Exception {
            long[] putAt = new long[n];
            long[] ackAt = new long[n];
            ConcurrentHashMap<String, Long> seen = new ConcurrentHashMap<>();
            KeyValueWatcher statusWatch = new KeyValueWatcher() {
                @Override
                public void watch(KeyValueEntry e) {
                    String body = new String(e.getValue(), StandardCharsets.UTF_8);
                    if (body.contains("\"serial\":" + serial + ",")) {
                        seen.putIfAbsent(e.getKey().substring("host.".length()), System.nanoTime());
                    }
                }

                @Override
                public void endOfData() {
                }
            };
            var sub = retry(() -> controller.keyValue("steward-status").watchAll(statusWatch, KeyValueWatchOption.UPDATES_ONLY));
            KeyValue kv = controller.keyValue("steward-assignments");
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                byte[] value = io.steward.source.signed.SignedAssignment.sign("a" + i, serial, String.format(DOC, serial, serial),
                        "fleet", key.getPrivate()).toJson().getBytes(StandardCharsets.UTF_8);
                final int h = i;
                putAt[i] = System.nanoTime();
                retry(() -> kv.put("host.a" + h, value));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(600);
            while (seen.size() < n && System.nanoTime() < deadline) {
                sleep(5);
            }
            sub.unsubscribe();
            if (seen.size() < n) {
                throw new IllegalStateException("only " + seen.size() + " of " + n + " acked within 600 s");
            }
            double[] ms = new double[n];
            long last = 0;
            for (int i = 0; i < n; i++) {
                ackAt[i] = seen.get("a" + i);
                ms[i] = (ackAt[i] - (from > 0 ? from : putAt[i])) / 1e6;
                last = Math.max(last, ackAt[i]);
            }
            return new Result(ms, (last - (from > 0 ? from : start)) / 1e6, rssPerAgent, threadsPerAgent, null);
        }

        void close() throws Exception {
            watches.forEach(AssignmentWatch::close);
            watchThread.shutdown();
            statusWriters.shutdownNow();
            for (Connection c : agentConnections) {
                c.close();
            }
            controller.close();
        }
    }

    private Options options(ConnectionListener listener) {
        Options.Builder b = new Options.Builder().server("nats://127.0.0.1:" + nats.port()).maxReconnects(-1)
                .reconnectWait(Duration.ofMillis(250))
                .reconnectDelayHandler(r -> Jitter.backoff(r, Duration.ofMillis(250), Duration.ofSeconds(8)))
                .connectionTimeout(Duration.ofSeconds(5)).errorListener(new io.nats.client.ErrorListener() { });
        if (listener != null) {
            b.connectionListener(listener);
        }
        return b.build();
    }

    // ---------------------------------------------------------------- the baseline

    /** The document copied into one file per host; each host polls its file every second (random phase). */
    private Result baseline(int n) throws Exception {
        Path docs = Files.createDirectories(work.resolve("baseline/docs"));
        Path acks = Files.createDirectories(work.resolve("baseline/acks"));
        ScheduledExecutorService pollers = Executors.newScheduledThreadPool(4);
        byte[][] lastSeen = new byte[n][];
        System.gc();
        long rss0 = rssKiB();
        int threads0 = Thread.activeCount();
        for (int i = 0; i < n; i++) {
            final int h = i;
            pollers.scheduleAtFixedRate(() -> {
                try {
                    Path f = docs.resolve("a" + h + ".json");
                    if (Files.exists(f)) {
                        byte[] b = Files.readAllBytes(f);
                        if (!Arrays.equals(b, lastSeen[h])) {
                            lastSeen[h] = b;
                            codec.parse(new String(b, StandardCharsets.UTF_8), true);
                            Files.writeString(acks.resolve("a" + h + ".json"), "{\"serial\":1}");
                        }
                    }
                } catch (Exception e) {
                    // a half-written copy: read again next second
                }
            }, ThreadLocalRandom.current().nextLong(1000), 1000, TimeUnit.MILLISECONDS);
        }
        double rss = (rssKiB() - rss0) / (double) n;
        double threads = (Thread.activeCount() - threads0) / (double) n;
        sleep(1500);
        long[] putAt = new long[n];
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            putAt[i] = System.nanoTime();
            Path tmp = docs.resolve(".a" + i + ".tmp");
            Files.writeString(tmp, String.format(DOC, 1, 1));
            Files.move(tmp, docs.resolve("a" + i + ".json"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
        long[] ackAt = new long[n];
        int done = 0;
        while (done < n) {
            sleep(10);
            long now = System.nanoTime();
            for (int i = 0; i < n; i++) {
                if (ackAt[i] == 0 && Files.exists(acks.resolve("a" + i + ".json"))) {
                    ackAt[i] = now;
                    done++;
                }
            }
        }
        pollers.shutdownNow();
        double[] ms = new double[n];
        long last = 0;
        for (int i = 0; i < n; i++) {
            ms[i] = (ackAt[i] - putAt[i]) / 1e6;
            last = Math.max(last, ackAt[i]);
        }
        return new Result(ms, (last - start) / 1e6, rss, threads, null);
    }

    // ---------------------------------------------------------------- plumbing

    private static long rssKiB() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        return -1;
    }

    @FunctionalInterface
    interface Call<T> {
        T call() throws Exception;
    }

    /** JetStream answers "no responders" for a moment after a restart; a put or a watch is tried again. */
    private static <T> T retry(Call<T> call) throws Exception {
        Exception last = null;
        for (int attempt = 0; attempt < 200; attempt++) {
            try {
                return call.call();
            } catch (Exception e) {
                last = e;
                sleep(Jitter.backoff(attempt, Duration.ofMillis(20), Duration.ofMillis(500)).toMillis());
            }
        }
        throw last;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
