package io.steward.delivery.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.delivery.Activation;
import io.steward.delivery.artifacts.ArtifactVerifier;
import io.steward.delivery.internal.Fixtures.Host;
import io.steward.delivery.internal.Fixtures.Key;
import io.steward.delivery.internal.Fixtures.Tar;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The artifact kept for the root updater at a fixed path, and the verifier the updater runs on it. */
class KeptArtifactTest {
    private static final String ID = "netprobe";

    @TempDir
    static Path keys;
    static Key demo;

    @TempDir
    Path root;
    Host host;
    DeliveryStager stager;

    @BeforeAll
    static void key() throws Exception {
        demo = Fixtures.opensslKey(keys, "demo");
    }

    @BeforeEach
    void host() throws Exception {
        host = new Host(root);
        Fixtures.trust(host.trust, demo);
        stager = host.stager(Map.of("keep_artifacts", "always", "retain_versions", 0));
    }

    @AfterEach
    void stop() throws Exception {
        stager.deactivate();
    }

    private Set<String> kept() throws Exception {
        Path dir = host.home(ID).resolve(ArtifactVerifier.ARTIFACTS);
        if (!Files.isDirectory(dir)) {
            return Set.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
    }

    @Test
    void theVerifiedBytesAreKeptByDigestAndFollowRetention() throws Exception {
        byte[] v1 = Tar.addon(ID, "1.0").tgz();
        AddonRecord r1 = host.signed(ID, "1.0", v1, demo);
        String sha1 = r1.assignment().artifact().orElseThrow().sha256();
        stager.activate(r1, stager.stage(r1)).commit();
        Path file1 = ArtifactVerifier.artifactFile(host.home(ID), sha1);
        assertArrayEquals(v1, Files.readAllBytes(file1), "the very bytes that were verified");
        assertEquals(Set.of(sha1 + ".tar.gz"), kept());

        // deleted behind the stager's back: the next stage of the same digest keeps it again
        Files.delete(file1);
        stager.stage(r1);
        assertArrayEquals(v1, Files.readAllBytes(file1));

        // an update: both kept until the commit; retention (0 others) keeps current and the rollback target
        byte[] v2 = Tar.addon(ID, "2.0").tgz();
        AddonRecord r2 = host.signed(ID, "2.0", v2, demo);
        String sha2 = r2.assignment().artifact().orElseThrow().sha256();
        stager.activate(r2, stager.stage(r2)).commit();
        assertEquals(Set.of(sha1 + ".tar.gz", sha2 + ".tar.gz"), kept());
        byte[] v3 = Tar.addon(ID, "3.0").tgz();
        AddonRecord r3 = host.signed(ID, "3.0", v3, demo);
        String sha3 = r3.assignment().artifact().orElseThrow().sha256();
        stager.activate(r3, stager.stage(r3)).commit();
        assertEquals(Set.of(sha2 + ".tar.gz", sha3 + ".tar.gz"), kept(), "the artifact of a removed version goes too");
        Fixtures.assertNoLeftovers(host);

        stager.remove(new io.steward.supervision.AddonId(ID));
        assertFalse(Files.exists(host.home(ID).resolve(ArtifactVerifier.ARTIFACTS)));
    }

    @Test
    void aRefusedArtifactIsNotKeptAndAFailedFirstInstallLeavesNothing() throws Exception {
        byte[] v1 = Tar.addon(ID, "1.0").tgz();
        AddonRecord good = host.signed(ID, "1.0", v1, demo);
        AddonRecord badSignature = host.record(ID, "1.0", "sidecar", good.assignment().artifact().orElseThrow().url(),
                Fixtures.sha256(v1), demo.sign(ID, "9.9", Fixtures.sha256(v1)), Optional.empty(), Optional.of(ID));
        assertThrows(SupervisionException.class, () -> stager.stage(badSignature));
        assertEquals(Set.of(), kept());
        Fixtures.assertNoLeftovers(host);

        Activation a = stager.activate(good, stager.stage(good));
        assertEquals(1, kept().size());
        a.rollback();
        assertFalse(Files.exists(host.home(ID)), "nothing left of a first install that was rolled back");
    }

    @Test
    void theVerifierChecksDigestSignatureManifestAndArchiveRules() throws Exception {
        ArtifactVerifier verifier = new ArtifactVerifier(host.trust, Set.of(), 100, 1 << 20, 1 << 22, 1 << 22);
        byte[] v1 = Tar.addon(ID, "1.0").tgz();
        String sha = Fixtures.sha256(v1);
        String sig = demo.sign(ID, "1.0", sha);

        Path ok = Files.createDirectory(root.resolve("ok"));
        try (InputStream in = new java.io.ByteArrayInputStream(v1)) {
            ArtifactVerifier.Verified v = verifier.verifyAndExtract(ID, "1.0", sha, sig, Optional.empty(), in, ok);
            assertEquals(Optional.of("demo"), v.key());
            assertEquals("1.0", v.manifest().version());
        }
        assertTrue(Files.isExecutable(ok.resolve(ID)));
        assertEquals("1.0", ArtifactVerifier.readManifest(ID, ok).version());

        SupervisionException digest = assertThrows(SupervisionException.class, () -> verifier.verifyAndExtract(ID, "1.0",
                "0".repeat(64), demo.sign(ID, "1.0", "0".repeat(64)), Optional.empty(), new java.io.ByteArrayInputStream(v1),
                Files.createDirectory(root.resolve("a"))));
        assertEquals(Disposition.PERMANENT, digest.disposition());
        assertTrue(digest.getMessage().contains("digest mismatch"), digest.getMessage());
        SupervisionException signature = assertThrows(SupervisionException.class, () -> verifier.verifyAndExtract(ID,
                "1.0", sha, demo.sign(ID, "1.1", sha), Optional.empty(), new java.io.ByteArrayInputStream(v1),
                Files.createDirectory(root.resolve("b"))));
        assertTrue(signature.getMessage().contains("signature does not match"), signature.getMessage());
        // the signature of the statement is checked before a byte is read: a stream that must not be touched
        Path untouched = Files.createDirectory(root.resolve("untouched"));
        InputStream never = new InputStream() {
            @Override
            public int read() {
                throw new AssertionError("a byte was read before the signature was checked");
            }
        };
        SupervisionException first = assertThrows(SupervisionException.class, () -> verifier.verifyAndExtract(ID,
                "1.0", sha, demo.sign(ID, "1.1", sha), Optional.empty(), never, untouched));
        assertTrue(first.getMessage().contains("signature does not match"), first.getMessage());
        try (var listing = Files.list(untouched)) {
            assertEquals(0, listing.count(), "nothing extracted");
        }
        // a validly signed artifact of another add-on id cannot pass as this one
        byte[] other = Tar.addon("other", "1.0").tgz();
        String otherSha = Fixtures.sha256(other);
        SupervisionException manifest = assertThrows(SupervisionException.class, () -> verifier.verifyAndExtract(ID,
                "1.0", otherSha, demo.sign(ID, "1.0", otherSha), Optional.empty(), new java.io.ByteArrayInputStream(other),
                Files.createDirectory(root.resolve("c"))));
        assertTrue(manifest.getMessage().contains("does not match the request"), manifest.getMessage());
        byte[] hostile = new Tar().file("addon.json", Fixtures.manifest(ID, "1.0", "sidecar", ID))
                .file(ID, "x", 0755).symlink("evil", "/etc/shadow").tgz();
        String hostileSha = Fixtures.sha256(hostile);
        SupervisionException archive = assertThrows(SupervisionException.class, () -> verifier.verifyAndExtract(ID,
                "1.0", hostileSha, demo.sign(ID, "1.0", hostileSha), Optional.empty(),
                new java.io.ByteArrayInputStream(hostile), Files.createDirectory(root.resolve("d"))));
        assertTrue(archive.getMessage().contains("symbolic link"), archive.getMessage());
    }
}
