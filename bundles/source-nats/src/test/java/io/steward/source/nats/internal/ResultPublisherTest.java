package io.steward.source.nats.internal;

import static io.steward.source.nats.internal.Harness.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.api.MessageInfo;
import io.steward.source.nats.fleet.FleetController;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.ResultSink;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The results transport against a real nats-server: records offered the way core's spool ingester offers them
 * (a file's records in order; after a failure the whole file again, with the same record ids) reach the stream
 * {@code steward-results} exactly once after JetStream's de-duplication, across a broker outage and a restart
 * of the agent's sink.
 */
class ResultPublisherTest {
    private static final AddonId TIMER = new AddonId("nightly");

    @TempDir
    Path dir;
    NatsServer server;
    Connection operator;
    NatsAssignmentSource source;

    @AfterEach
    void stop() throws Exception {
        if (source != null) {
            source.deactivate();
        }
        if (operator != null) {
            operator.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private NatsAssignmentSource agent() throws Exception {
        return Harness.source(Harness.agent(dir.resolve("h1"), io.steward.delivery.trust.Ed25519.generate()),
                server.url(), "h1", Map.of());
    }

    /** One spool file's records, as the ingester hands them: stops at the first failure. */
    private static int offer(ResultSink sink, String file, List<String> lines) throws IOException {
        for (int i = 0; i < lines.size(); i++) {
            sink.accept(TIMER, file + ":" + (i + 1) + ":h", lines.get(i));
        }
        return lines.size();
    }

    private static List<String> run(int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            out.add("{\"run\":" + n + ",\"line\":" + i + "}");
        }
        return out;
    }

    private long stored(JetStreamManagement jsm) throws Exception {
        return jsm.getStreamInfo(ResultPublisher.STREAM).getStreamState().getMsgCount();
    }

    @Test
    void everyRecordReachesTheStreamOnceAcrossABrokerOutageAndASinkRestart() throws Exception {
        server = NatsServer.start(Files.createDirectories(dir.resolve("nats")));
        operator = Harness.connect(server.url());
        new FleetController(operator, "steward-assignments", "steward-status").ensureBuckets(1);   // the operator's side
        JetStreamManagement jsm = operator.jetStreamManagement();
        source = agent();
        ResultPublisher sink = source.results();
        await("the agent publishes results", () -> offer(sink, "run-1.jsonl", run(1)) == 5);

        // the first two records of run 2 are stored, then the broker dies: the ingester keeps the file
        sink.accept(TIMER, "run-2.jsonl:1:h", run(2).get(0));
        sink.accept(TIMER, "run-2.jsonl:2:h", run(2).get(1));
        server.kill();
        assertThrows(IOException.class, () -> offer(sink, "run-2.jsonl", run(2)), "no broker, no acceptance");
        server.restart();
        await("after the outage the whole of run 2 is offered again and accepted", () -> offer(sink, "run-2.jsonl",
                run(2)) == 5);

        // the agent restarts (kill -9 between the acks and the file's deletion): it offers run 2 once more
        source.deactivate();
        source = agent();
        ResultPublisher again = source.results();
        await("the restarted agent publishes", () -> offer(again, "run-2.jsonl", run(2)) == 5);
        offer(again, "run-3.jsonl", run(3));

        assertEquals(15, stored(jsm), "3 runs of 5 records, each stored once");
        Set<String> bodies = new HashSet<>();
        for (long seq = 1; seq <= 15; seq++) {
            MessageInfo m = jsm.getMessage(ResultPublisher.STREAM, seq);
            assertEquals("steward.results.h1.nightly", m.getSubject());
            assertTrue(m.getHeaders().getFirst("Nats-Msg-Id").startsWith("h1/nightly/run-"), m.getHeaders().toString());
            bodies.add(new String(m.getData(), StandardCharsets.UTF_8));
        }
        Set<String> expected = new HashSet<>();
        for (int r = 1; r <= 3; r++) {
            expected.addAll(run(r));
        }
        assertEquals(expected, bodies);
    }

    @Test
    void withNoStreamTheSinkRefusesInOneSentenceAndNothingIsLost() throws Exception {
        server = NatsServer.start(Files.createDirectories(dir.resolve("nats")));
        source = agent();
        ResultPublisher sink = source.results();
        await("the link is up", () -> source.link().connected());
        IOException e = assertThrows(IOException.class, () -> sink.accept(TIMER, "a.jsonl:1:h", "{}"));
        assertTrue(e.getMessage().startsWith("stream steward-results did not store the record (permission denied, no such stream or unreachable"), e.getMessage());
    }
}
