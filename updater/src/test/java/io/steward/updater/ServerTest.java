package io.steward.updater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The busy path of {@link Server} (review #13): with every worker held and the queue full (a flood of idle
 * connections), a real request gets the {@code busy} answer, never an I/O error (EPIPE on its write, a reset
 * before the answer). Runs in-process: the peer is this JVM, so the served uid and gid are this process's (root
 * in CI).
 */
class ServerTest {
    @TempDir
    Path dir;

    @Test
    void aFloodOfIdleConnectionsGetsBusyAndARealRequestReadsItsAnswer() throws Exception {
        long[] ids = ids();
        Path path = dir.resolve("s.sock");
        AFUNIXServerSocket socket = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path));
        List<AFUNIXSocket> flood = new ArrayList<>();
        try (Server server = new Server(socket, new Handler(null), ids[0], ids[1], Duration.ofSeconds(60), 1);
             Closer closer = () -> {
                 for (AFUNIXSocket s : flood) {     // before the server closes: its threads see the end of stream
                     s.close();
                 }
             }) {
            server.start();
            // one worker, a queue of four: five idle connections hold everything
            for (int i = 0; i < 5; i++) {
                flood.add(AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path)));
            }
            await("the worker and its queue are held", server::saturated);
            for (int i = 0; i < 100; i++) {     // more idle connections: answered busy, held by the drainers
                flood.add(AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path)));
            }
            String padding = "x".repeat(60_000);     // still being written when the updater has answered
            for (int i = 0; i < 50; i++) {
                JsonObject answer = request(path, "{\"protocol\":1,\"op\":\"version\",\"pad\":\"" + padding + "\"}");
                assertFalse(answer.get("ok").getAsBoolean(), answer.toString());
                assertEquals("busy", answer.getAsJsonObject("error").get("code").getAsString(), answer.toString());
                assertEquals("transient", answer.getAsJsonObject("error").get("disposition").getAsString());
            }
        }
    }

    private interface Closer extends AutoCloseable {
        @Override
        void close() throws IOException;
    }

    /** One request; an I/O error on either side fails the test (no catch). */
    private static JsonObject request(Path path, String line) throws IOException {
        try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path))) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            s.shutdownOutput();
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            s.getInputStream().transferTo(answer);
            return JsonParser.parseString(answer.toString(StandardCharsets.UTF_8)).getAsJsonObject();
        }
    }

    /** This process's uid and gid, from /proc/self/status (what SO_PEERCRED reports for a connection from it). */
    private static long[] ids() throws IOException {
        long uid = -1;
        long gid = -1;
        for (String l : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("Uid:")) {
                uid = Long.parseLong(l.split("\\s+")[1]);
            } else if (l.startsWith("Gid:")) {
                gid = Long.parseLong(l.split("\\s+")[1]);
            }
        }
        return new long[] {uid, gid};
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        try {
            Awaitility.await(what).atMost(Duration.ofSeconds(30)).pollDelay(Duration.ZERO)
                    .pollInterval(Duration.ofMillis(10)).pollInSameThread().until(condition::getAsBoolean);
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("timed out waiting until " + what, e);
        }
    }
}
