package io.steward.source.http.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.assignment.codec.JsonAssignmentCodec;
import io.steward.delivery.trust.Ed25519;
import io.steward.delivery.trust.TrustStore;
import io.steward.source.signed.SignedAssignment;
import io.steward.source.signed.SignedDocumentGate;
import io.steward.supervision.spi.AssignmentSource.Snapshot;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The poll loop against a real local TLS server, one poll at a time: the scheduler only records the delay
 * each poll asks for, so the tests read the schedule instead of waiting for it.
 */
class HttpPollerTest {
    static final Instant NOW = Instant.parse("2026-12-07T00:00:00Z");
    static final String DOC_A = "{\"revision\":\"a\",\"addons\":[{\"id\":\"flow\",\"version\":\"1.0.0\",\"supervision\":\"config_toggle\"}]}";
    static final String DOC_B = "{\"revision\":\"b\",\"addons\":[]}";

    @TempDir
    Path dir;
    KeyPair key;
    Path trust;
    Path cache;
    TlsServer server;
    ExecutorService io = Executors.newCachedThreadPool();
    final List<Duration> delays = new CopyOnWriteArrayList<>();
    final Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);

    @BeforeEach
    void setUp() throws Exception {
        key = Ed25519.generate();
        trust = Files.createDirectories(dir.resolve("trust"));
        Files.writeString(trust.resolve("fleet.pem"), Ed25519.publicPem(key.getPublic()));
        cache = dir.resolve("state/http-assignment.json");
        server = new TlsServer(Files.createDirectories(dir.resolve("tls")));
    }

    @AfterEach
    void tearDown() {
        server.close();
        io.shutdownNow();
    }

    HttpPoller poller() throws Exception {
        SignedDocumentGate gate = new SignedDocumentGate("h1", new TrustStore(trust), new JsonAssignmentCodec(), cache, 4096, true);
        HttpFetch fetch = new HttpFetch(URI.create(server.url()), Tls.context(server.certificatePem, ""), Duration.ofSeconds(10),
                4096, io);
        PollTiming timing = new PollTiming(Duration.ofSeconds(60), Duration.ofSeconds(900), clock, bound -> bound / 2);
        return new HttpPoller(URI.create(server.url()), gate, fetch, timing, (task, delay) -> delays.add(delay), clock, () -> { });
    }

    byte[] value(String host, long serial, String doc) {
        return SignedAssignment.sign(host, serial, doc, "fleet", key.getPrivate()).toJson().getBytes(StandardCharsets.UTF_8);
    }

    void serve(byte[] body, String etag) {
        server.respond = ex -> TlsServer.Response.ok(body, etag);
    }

    static String revision(Snapshot s) {
        return s.document().orElseThrow().revision();
    }

    @Test
    void aSignedDocumentBecomesTheSnapshotAndIsCached() throws Exception {
        serve(value("h1", 1, DOC_A), "\"v1\"");
        HttpPoller p = poller();
        p.start();
        assertTrue(p.snapshot().document().isEmpty());
        assertEquals(List.of(Duration.ZERO), delays, "the first poll is scheduled at once");
        p.poll();
        assertEquals("a", revision(p.snapshot()));
        assertTrue(p.snapshot().error().isEmpty(), p.snapshot().error().toString());
        assertEquals(Duration.ofSeconds(60), p.nextDelay(), "the interval (jitter drawn at its middle)");
        assertTrue(Files.exists(cache));
    }

    @Test
    void a304AfterAnEtagSendsIfNoneMatchAndChangesNothing() throws Exception {
        serve(value("h1", 1, DOC_A), "\"v1\"");
        HttpPoller p = poller();
        p.start();
        p.poll();
        Snapshot before = p.snapshot();
        server.respond = ex -> new TlsServer.Response(304, Map.of("ETag", "\"v1\""), null);
        p.poll();
        assertEquals(List.of("", "\"v1\""), server.ifNoneMatch);
        assertSame(before, p.snapshot(), "a 304 changes nothing");
        assertEquals(Duration.ofSeconds(60), p.nextDelay());
    }

    @Test
    void retryAfterInSecondsOrAsAnHttpDateDelaysTheNextPollCapped() throws Exception {
        serve(value("h1", 1, DOC_A), null);
        HttpPoller p = poller();
        p.start();
        p.poll();
        server.respond = ex -> new TlsServer.Response(429, Map.of("Retry-After", "120"), null);
        p.poll();
        assertEquals(Duration.ofSeconds(120), p.nextDelay());
        assertTrue(p.snapshot().warnings().stream().anyMatch(w -> w.contains("HTTP 429")), p.snapshot().warnings().toString());
        assertEquals("a", revision(p.snapshot()), "the last valid document stays");

        String date = DateTimeFormatter.RFC_1123_DATE_TIME.format(NOW.plusSeconds(300).atZone(ZoneOffset.UTC));
        server.respond = ex -> new TlsServer.Response(503, Map.of("Retry-After", date), null);
        p.poll();
        assertEquals(Duration.ofSeconds(300), p.nextDelay());

        server.respond = ex -> new TlsServer.Response(429, Map.of("Retry-After", "0"), null);
        p.poll();
        assertEquals(Duration.ofSeconds(1), p.nextDelay(), "at least a second: no hot loop");

        server.respond = ex -> new TlsServer.Response(429, Map.of("Retry-After", "86400"), null);
        p.poll();
        assertEquals(Duration.ofSeconds(900), p.nextDelay(), "capped at max.backoff.seconds");

        serve(value("h1", 1, DOC_A), null);
        p.poll();
        assertEquals(Duration.ofSeconds(60), p.nextDelay(), "back to the interval");
        assertTrue(p.snapshot().warnings().isEmpty(), p.snapshot().warnings().toString());
    }

    @Test
    void otherErrorsBackOffWithFullJitterUpToTheCap() throws Exception {
        server.respond = ex -> new TlsServer.Response(500, Map.of(), null);
        HttpPoller p = poller();
        p.start();
        long[] expected = {30, 60, 120, 240, 450, 450};     // half (the drawn value) of min(900, 60·2^n)
        for (long e : expected) {
            p.poll();
            assertEquals(Duration.ofSeconds(e), p.nextDelay());
        }
        assertTrue(p.snapshot().error().orElseThrow().contains("HTTP 500"), p.snapshot().error().toString());
    }

    @Test
    void badValuesAreRefusedWithTheirReasonAndTheLastValidStays() throws Exception {
        serve(value("h1", 5, DOC_A), null);
        HttpPoller p = poller();
        p.start();
        p.poll();
        KeyPair stranger = Ed25519.generate();
        byte[] forged = SignedAssignment.sign("h1", 6, DOC_B, "fleet", stranger.getPrivate()).toJson().getBytes(StandardCharsets.UTF_8);
        Map<String, byte[]> bad = new java.util.LinkedHashMap<>();
        bad.put("does not match key 'fleet'", forged);
        bad.put("is for host 'h2'", value("h2", 6, DOC_B));
        bad.put("serial 4 is not newer than serial 5", value("h1", 4, DOC_B));
        bad.put("more than the 4096 allowed", new byte[5000]);
        bad.put("the value is not valid JSON", "{\"format\":".getBytes(StandardCharsets.UTF_8));
        for (Map.Entry<String, byte[]> b : bad.entrySet()) {
            serve(b.getValue(), null);
            p.poll();
            String error = p.snapshot().error().orElseThrow();
            assertTrue(error.contains(b.getKey()) && error.contains("the last valid document stays in effect"), error);
            assertEquals("a", revision(p.snapshot()));
        }
        serve(value("h1", 6, DOC_B), null);
        p.poll();
        assertEquals("b", revision(p.snapshot()));
        assertTrue(p.snapshot().error().isEmpty());
    }

    @Test
    void withTheServerDownAtBootTheCachedDocumentApplies() throws Exception {
        serve(value("h1", 3, DOC_A), null);
        HttpPoller first = poller();
        first.start();
        first.poll();
        server.close();

        HttpPoller second = poller();
        second.start();
        assertEquals("a", revision(second.snapshot()), "in effect before any poll");
        second.poll();
        assertEquals("a", revision(second.snapshot()));
        assertTrue(second.snapshot().error().isEmpty(), second.snapshot().error().toString());
        assertTrue(second.snapshot().warnings().stream().anyMatch(w -> w.contains("failed")), second.snapshot().warnings().toString());
        assertEquals(Duration.ofSeconds(30), second.nextDelay(), "a failure backs off");
    }
}
