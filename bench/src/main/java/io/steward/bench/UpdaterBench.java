package io.steward.bench;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The per-operation cost of the updater's socket hop (PRODUCT §8: p99 overhead ≤ 5 ms): cheap operations
 * ({@code version}; {@code release} of an add-on that has nothing) through the real client over the unix socket
 * (connect, SO_PEERCRED check, request, answer) beside the same operation answered in-process by the same
 * updater code, in one run, interleaved in rounds so that drift hits both alike. Prints a markdown table.
 * <p>
 * Classes are loaded by name from the class path {@code bench/updater-bench.sh} builds (the updater's lib/ and
 * the client), so this module keeps no compile-time dependency on them. Args: work-dir iterations.
 * Runs as root (the updater checks that its directories are root's); the agent it serves is root itself here.
 */
public final class UpdaterBench {
    private UpdaterBench() {
    }

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        int n = Integer.parseInt(args[1]);
        for (String d : List.of("data", "priv", "units", "trust", "state", "run")) {
            Files.createDirectories(work.resolve(d));
            Files.setPosixFilePermissions(work.resolve(d), PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Files.setPosixFilePermissions(work.resolve("state"), PosixFilePermissions.fromString("rwx------"));
        Path socket = work.resolve("run/updater.sock");
        ClassLoader cl = UpdaterBench.class.getClassLoader();
        Class<?> embeddedType = cl.loadClass("io.steward.updater.Embedded");
        AutoCloseable updater = (AutoCloseable) embeddedType.getMethod("start", List.class).invoke(null, List.of(
                "--socket", socket.toString(), "--agent-user", "0", "--agent-group", "0",
                "--data", work.resolve("data").toString(), "--privileged-root", work.resolve("priv").toString(),
                "--unit-dir", work.resolve("units").toString(), "--trust", work.resolve("trust").toString(),
                "--state", work.resolve("state").toString(), "--systemd-bus", "unix:path=" + work.resolve("no-bus")));
        Method handle = embeddedType.getMethod("handle", String.class);
        Class<?> clientType = cl.loadClass("io.steward.privileged.client.UpdaterClient");
        Object client = clientType.getConstructor(Path.class).newInstance(socket);
        Method version = clientType.getMethod("version");
        Class<?> idType = cl.loadClass("io.steward.supervision.AddonId");
        Object id = idType.getConstructor(String.class).newInstance("bench");
        Method release = clientType.getMethod("release", idType);
        String versionLine = "{\"protocol\":1,\"op\":\"version\"}";
        String releaseLine = "{\"protocol\":1,\"op\":\"release\",\"id\":\"bench\"}";
        try {
            List<Row> rows = new ArrayList<>();
            rows.add(measure("version", n, () -> handle.invoke(updater, versionLine), () -> version.invoke(client)));
            rows.add(measure("release (nothing to release)", n, () -> handle.invoke(updater, releaseLine),
                    () -> release.invoke(client, id)));
            System.out.println("| operation (" + n + " calls each way) | in-process p50 | in-process p99 | socket p50 "
                    + "| socket p99 | overhead p50 | overhead p99 |");
            System.out.println("|---|---:|---:|---:|---:|---:|---:|");
            for (Row r : rows) {
                System.out.printf(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s |%n", r.name, ms(r.local[0]),
                        ms(r.local[1]), ms(r.socket[0]), ms(r.socket[1]), ms(r.socket[0] - r.local[0]),
                        ms(r.socket[1] - r.local[1]));
            }
        } finally {
            updater.close();
        }
    }

    private interface Call {
        void run() throws Exception;
    }

    private record Row(String name, long[] local, long[] socket) {
    }

    /** Rounds of 100 calls each way, alternating, after a warm-up; p50 and p99 of the single-call times. */
    private static Row measure(String name, int n, Call local, Call viaSocket) throws Exception {
        for (int i = 0; i < Math.min(n, 2000); i++) {
            local.run();
            viaSocket.run();
        }
        long[] a = new long[n];
        long[] b = new long[n];
        int done = 0;
        while (done < n) {
            int round = Math.min(100, n - done);
            for (int i = 0; i < round; i++) {
                long t0 = System.nanoTime();
                local.run();
                a[done + i] = System.nanoTime() - t0;
            }
            for (int i = 0; i < round; i++) {
                long t0 = System.nanoTime();
                viaSocket.run();
                b[done + i] = System.nanoTime() - t0;
            }
            done += round;
        }
        return new Row(name, percentiles(a), percentiles(b));
    }

    private static long[] percentiles(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return new long[] {s[(int) Math.floor(0.50 * (s.length - 1))], s[(int) Math.floor(0.99 * (s.length - 1))]};
    }

    private static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.3f ms", nanos / 1e6);
    }
}
