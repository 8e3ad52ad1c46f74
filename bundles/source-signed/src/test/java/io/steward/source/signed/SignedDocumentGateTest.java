package io.steward.source.signed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.assignment.codec.JsonAssignmentCodec;
import io.steward.delivery.trust.Ed25519;
import io.steward.delivery.trust.TrustStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.HexFormat;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The rules of a signed value, each refusal with its sentence and the value in effect unchanged. */
class SignedDocumentGateTest {
    static final String DOC_A = "{\"revision\":\"a\",\"addons\":[{\"id\":\"flow\",\"version\":\"1.0.0\",\"supervision\":\"config_toggle\"}]}";
    static final String DOC_B = "{\"revision\":\"b\",\"addons\":[]}";

    @TempDir
    Path dir;
    KeyPair key;
    KeyPair other;
    Path trust;
    Path cache;

    @BeforeEach
    void keys() throws Exception {
        key = Ed25519.generate();
        other = Ed25519.generate();
        trust = Files.createDirectories(dir.resolve("trust"));
        Files.writeString(trust.resolve("fleet.pem"), Ed25519.publicPem(key.getPublic()));
        cache = dir.resolve("state/cache.json");
    }

    SignedDocumentGate gate(String host) {
        return new SignedDocumentGate(host, new TrustStore(trust), new JsonAssignmentCodec(), cache, 65536, true);
    }

    byte[] value(String host, long serial, String doc) {
        return SignedAssignment.sign(host, serial, doc, "fleet", key.getPrivate()).toJson().getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aValueSignedByStockOpensslIsAcceptedAndCached() throws Exception {
        Path priv = dir.resolve("k.pem");
        run("openssl", "genpkey", "-algorithm", "ed25519", "-out", priv.toString());
        run("sh", "-c", "openssl pkey -in " + priv + " -pubout > " + trust.resolve("ops.pem"));
        String sha = HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(DOC_A.getBytes(StandardCharsets.UTF_8)));
        Path stmt = dir.resolve("stmt");
        Files.writeString(stmt, "steward-assignment-v1\nh1\n7\n" + sha + "\n");
        String sig = run("sh", "-c", "openssl pkeyutl -sign -inkey " + priv + " -rawin -in " + stmt + " | base64 -w0").strip();
        byte[] v = new SignedAssignment("h1", 7, DOC_A, "ops", sig).toJson().getBytes(StandardCharsets.UTF_8);

        SignedDocumentGate g = gate("h1");
        assertEquals(SignedDocumentGate.Outcome.ACCEPTED, g.offer(v).outcome());
        assertEquals(7, g.current().orElseThrow().value().serial());
        assertArrayEquals(v, Files.readAllBytes(cache));
        assertEquals(SignedDocumentGate.Outcome.UNCHANGED, g.offer(v).outcome(), "a redelivery is no news");
    }

    @Test
    void refusalsNameTheCauseAndKeepTheValueInEffect() throws Exception {
        SignedDocumentGate g = gate("h1");
        byte[] first = value("h1", 5, DOC_A);
        assertEquals(SignedDocumentGate.Outcome.ACCEPTED, g.offer(first).outcome());

        SignedAssignment good = SignedAssignment.sign("h1", 6, DOC_B, "fleet", key.getPrivate());
        String tampered = new SignedAssignment("h1", 6, DOC_A, "fleet", good.signature()).toJson();
        String wrongKey = SignedAssignment.sign("h1", 6, DOC_B, "fleet", other.getPrivate()).toJson();
        String unknownKey = SignedAssignment.sign("h1", 6, DOC_B, "gone", key.getPrivate()).toJson();
        assertRefused(g, tampered, "does not match key 'fleet'");
        assertRefused(g, wrongKey, "does not match key 'fleet'");
        assertRefused(g, unknownKey, "key 'gone', which is not in the trust store");
        assertRefused(g, new String(value("h2", 6, DOC_B), StandardCharsets.UTF_8), "is for host 'h2', not this host 'h1'");
        assertRefused(g, new String(value("h1", 5, DOC_B), StandardCharsets.UTF_8), "serial 5 is not newer than serial 5");
        assertRefused(g, new String(value("h1", 4, DOC_A), StandardCharsets.UTF_8), "serial 4 is not newer than serial 5");
        assertRefused(g, DOC_B, "has an unknown field 'revision'");
        assertRefused(g, "{\"format\":\"steward-assignment-v1\"", "is not valid JSON");
        assertRefused(g, "[1]", "is not a JSON object");
        assertRefused(g, "{\"format\":\"steward-assignment-v1\",\"host\":\"h1\",\"serial\":6.5,\"document\":\"{}\",\"key\":\"fleet\",\"signature\":\"\"}",
                "serial 6.5 is not a whole number");
        assertRefused(g, new String(value("h1", 6, "{\"addons\":[{\"id\":\"../x\"}]}"), StandardCharsets.UTF_8),
                "the document of serial 6 is invalid: addons[0].id");
        assertRefused(g, "x".repeat(70000), "more than the limit of 65536");
        assertRefused(g, "", "is empty");

        assertEquals(5, g.current().orElseThrow().value().serial());
        assertArrayEquals(first, Files.readAllBytes(cache), "the cache still holds the value in effect");
        assertEquals(SignedDocumentGate.Outcome.ACCEPTED, g.offer(good.toJson().getBytes(StandardCharsets.UTF_8)).outcome());
    }

    @Test
    void theCacheAppliesAtBootAndIsCheckedAgain() throws Exception {
        gate("h1").offer(value("h1", 3, DOC_A));
        SignedDocumentGate boot = gate("h1");
        assertEquals(Optional.empty(), boot.loadCache());
        assertEquals("a", boot.current().orElseThrow().document().revision());
        assertEquals(SignedDocumentGate.Outcome.REFUSED, boot.offer(value("h1", 3, DOC_B)).outcome(),
                "the cached serial still counts after a restart: no replay");

        SignedDocumentGate otherHost = gate("h2");
        assertTrue(otherHost.loadCache().orElseThrow().contains("is for host 'h1'"));
        assertTrue(otherHost.current().isEmpty());

        Files.delete(trust.resolve("fleet.pem"));      // the key revoked: its documents no longer apply
        SignedDocumentGate revoked = gate("h1");
        assertTrue(revoked.loadCache().orElseThrow().contains("not in the trust store"));
        assertFalse(revoked.current().isPresent());
    }

    private static void assertRefused(SignedDocumentGate g, String value, String expected) throws Exception {
        SignedDocumentGate.Verdict v = g.offer(value.getBytes(StandardCharsets.UTF_8));
        assertEquals(SignedDocumentGate.Outcome.REFUSED, v.outcome(), value);
        assertTrue(v.reason().orElseThrow().contains(expected), v.reason().orElseThrow());
    }

    private static String run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return out;
    }
}
