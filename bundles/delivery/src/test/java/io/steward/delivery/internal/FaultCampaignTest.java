package io.steward.delivery.internal;

import static io.steward.supervision.spi.SupervisionException.Disposition.TRANSIENT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.delivery.internal.Fixtures.Host;
import io.steward.delivery.internal.Fixtures.Key;
import io.steward.delivery.internal.Fixtures.Tar;
import io.steward.supervision.spi.AddonRecord;
import io.steward.delivery.StagedArtifact;
import io.steward.supervision.spi.SupervisionException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault campaign of delivery (docs/testing.md "Faults"): the data directory on a small tmpfs the test mounts (and
 * unmounts; never the host's disk) filled or made read-only during staging, and an HTTPS server that stalls or
 * trickles. Each fault: the add-on fails TRANSIENTLY with one sentence naming the cause and the path or host,
 * what was active stays active, nothing partial is visible (the data directory is byte for byte as before the
 * attempt, nothing left in {@code <data>/tmp}), and once the fault is gone the same assignment converges.
 * Needs root (mount), as CI runs.
 */
class FaultCampaignTest {
    private static final String ID = "netprobe";
    @TempDir
    static Path shared;
    static Key demo;
    static TlsServer tls;

    @BeforeAll
    static void setUp() throws Exception {
        demo = Fixtures.opensslKey(shared.resolve("keys"), "demo");
        tls = new TlsServer(Files.createDirectories(shared.resolve("tls")));
    }

    @AfterAll
    static void tearDown() throws Exception {
        tls.close();
    }

    /** A host whose data directory is a {@code size} tmpfs mounted for the test; close unmounts it. */
    private static final class SmallDisk implements AutoCloseable {
        final Host host;

        SmallDisk(String name, String size) throws Exception {
            host = new Host(Files.createDirectories(shared.resolve(name)));
            Fixtures.trust(host.trust, demo);
            Fixtures.run(host.root, "mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0755", "steward-fault",
                    host.data.toString());
        }

        void remount(String options) throws Exception {
            Fixtures.run(host.root, "mount", "-o", "remount," + options, host.data.toString());
        }

        /** Fills the file system up to its last few KiB; returns the filler, whose deletion gives the space back. */
        Path fill() throws IOException {
            Path filler = host.data.resolve("filler");
            byte[] block = new byte[64 * 1024];
            try (OutputStream out = Files.newOutputStream(filler)) {
                while (Files.getFileStore(host.data).getUsableSpace() > 2 * block.length) {
                    out.write(block);
                }
            }
            return filler;
        }

        @Override
        public void close() throws Exception {
            Fixtures.run(host.root, "umount", host.data.toString());
        }
    }

    private static byte[] artifact(String version, int blobBytes) throws IOException {
        byte[] blob = new byte[blobBytes];
        new Random(blobBytes).nextBytes(blob);          // incompressible: the extracted size is the blob's
        return Tar.addon(ID, version).file("share/blob", blob, 0644).tgz();
    }

    private static void install(DeliveryStager stager, AddonRecord r) throws SupervisionException {
        StagedArtifact staged = stager.stage(r);
        stager.activate(r, staged).commit();
    }

    /** The data directory as a user sees it: the stager's own empty {@code tmp/} does not count (it is checked empty). */
    private static Map<String, String> visible(Host host) throws Exception {
        Map<String, String> all = new java.util.TreeMap<>(host.snapshot());
        all.remove("tmp", "dir");
        return all;
    }

    private static void assertOneSentence(SupervisionException e, String... parts) {
        System.out.println("fault: " + e.getMessage());
        assertEquals(TRANSIENT, e.disposition(), e.getMessage());
        assertTrue(e.getMessage().startsWith("add-on " + ID + ": "), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
        }
    }

    @Test
    void aFullDiskDuringExtractionIsTransientNamesTheDiskAndLeavesNothingThenConverges() throws Exception {
        try (SmallDisk disk = new SmallDisk("full-extract", "4m")) {
            Host host = disk.host;
            DeliveryStager stager = host.stager(Map.of());
            try {
                install(stager, host.signed(ID, "1.0", artifact("1.0", 1000), demo));
                AddonRecord v2 = host.signed(ID, "2.0", artifact("2.0", 1 << 20), demo);
                Path filler = disk.fill();
                Map<String, String> before = visible(host);
                SupervisionException e = assertThrows(SupervisionException.class, () -> stager.stage(v2));
                assertOneSentence(e, "No space left on device", host.data.toString());
                assertEquals(before, visible(host), "nothing partial is visible");
                Fixtures.assertNoLeftovers(host);
                assertEquals(Optional.of("versions/1.0"), host.current(ID), "what was active stays active");

                Files.delete(filler);
                install(stager, v2);
                assertEquals(Optional.of("versions/2.0"), host.current(ID), "converged once space is back");
            } finally {
                stager.deactivate();
            }
        }
    }

    @Test
    void aFullDiskDuringAnHttpsDownloadIsTransientAndLeavesNoPartialFile() throws Exception {
        try (SmallDisk disk = new SmallDisk("full-download", "4m")) {
            Host host = disk.host;
            DeliveryStager stager = host.stager(Map.of("tls_truststore", tls.certificatePem.toString()));
            try {
                byte[] tgz = artifact("2.0", 1 << 20);
                String sha = Fixtures.sha256(tgz);
                tls.files.put("full-download.tar.gz", tgz);
                AddonRecord r = host.record(ID, "2.0", "sidecar", tls.url("/a/full-download.tar.gz"), sha,
                        demo.sign(ID, "2.0", sha), Optional.empty(), Optional.of(ID));
                Path filler = disk.fill();
                Map<String, String> before = visible(host);
                SupervisionException e = assertThrows(SupervisionException.class, () -> stager.stage(r));
                assertOneSentence(e, "No space left on device", host.data.toString());
                assertEquals(before, visible(host), "no partial download is left");
                Fixtures.assertNoLeftovers(host);

                Files.delete(filler);
                install(stager, r);
                assertEquals(Optional.of("versions/2.0"), host.current(ID));
            } finally {
                stager.deactivate();
            }
        }
    }

    @Test
    void aReadOnlyDataDirectoryIsTransientChangesNothingThenConverges() throws Exception {
        try (SmallDisk disk = new SmallDisk("read-only", "8m")) {
            Host host = disk.host;
            DeliveryStager stager = host.stager(Map.of());
            try {
                install(stager, host.signed(ID, "1.0", artifact("1.0", 1000), demo));
                AddonRecord v2 = host.signed(ID, "2.0", artifact("2.0", 1000), demo);
                disk.remount("ro");
                Map<String, String> before = visible(host);
                SupervisionException e = assertThrows(SupervisionException.class, () -> stager.stage(v2));
                assertOneSentence(e, "Read-only file system", host.data.toString());
                assertEquals(before, visible(host));
                assertEquals(Optional.of("versions/1.0"), host.current(ID));

                disk.remount("rw");
                install(stager, v2);
                assertEquals(Optional.of("versions/2.0"), host.current(ID));
            } finally {
                stager.deactivate();
            }
        }
    }

    @Test
    void aStalledHttpsServerTimesOutAndNothingPartialIsStaged() throws Exception {
        Host host = new Host(Files.createDirectories(shared.resolve("stall")));
        Fixtures.trust(host.trust, demo);
        byte[] tgz = artifact("2.0", 1000);
        String sha = Fixtures.sha256(tgz);
        DeliveryStager stager = host.stager(Map.of("tls_truststore", tls.certificatePem.toString(),
                "read_timeout_seconds", 1));
        try {
            Map<String, String> before = visible(host);
            SupervisionException e = assertThrows(SupervisionException.class, () -> stager.stage(host.record(ID, "2.0",
                    "sidecar", tls.url("/stall"), sha, demo.sign(ID, "2.0", sha), Optional.empty(), Optional.of(ID))));
            assertOneSentence(e, "fetch: ", "127.0.0.1", "1 s");
            assertEquals(before, visible(host), "the 1 KiB that arrived is not kept");
            Fixtures.assertNoLeftovers(host);
            assertEquals(Optional.empty(), host.current(ID));
        } finally {
            stager.deactivate();
        }
    }

    @Test
    void aSlowServerThatKeepsSendingIsNotAStall() throws Exception {
        Host host = new Host(Files.createDirectories(shared.resolve("slow")));
        Fixtures.trust(host.trust, demo);
        byte[] tgz = artifact("2.0", 64 * 1024);
        String sha = Fixtures.sha256(tgz);
        tls.files.put("slow.tar.gz", tgz);
        DeliveryStager stager = host.stager(Map.of("tls_truststore", tls.certificatePem.toString(),
                "read_timeout_seconds", 5));
        try {
            // 10 pieces 700 ms apart: 6.3 s in all, more than the timeout, but never 5 s without a byte
            AddonRecord r = host.record(ID, "2.0", "sidecar", tls.url("/slow/slow.tar.gz"), sha,
                    demo.sign(ID, "2.0", sha), Optional.empty(), Optional.of(ID));
            install(stager, r);
            assertEquals(Optional.of("versions/2.0"), host.current(ID));
            Fixtures.assertNoLeftovers(host);
        } finally {
            stager.deactivate();
        }
    }

    /**
     * A trust store that cannot be read. As root (these tests) a mode cannot forbid reading, so the directory is
     * replaced by a file: listing it fails as it fails with EACCES for the agent's user, through the same path.
     */
    @Test
    void anUnreadableTrustStoreIsTransientChangesNothingThenConverges() throws Exception {
        Host host = new Host(Files.createDirectories(shared.resolve("trust-unreadable")));
        Fixtures.trust(host.trust, demo);
        DeliveryStager stager = host.stager(Map.of());
        try {
            install(stager, host.signed(ID, "1.0", artifact("1.0", 1000), demo));
            AddonRecord v2 = host.signed(ID, "2.0", artifact("2.0", 1000), demo);
            Path aside = Files.move(host.trust, host.root.resolve("trust.aside"));
            Files.writeString(host.trust, "not a directory");
            Map<String, String> before = visible(host);
            SupervisionException e = assertThrows(SupervisionException.class, () -> stager.stage(v2));
            assertOneSentence(e, "verify: cannot read the trust store " + host.trust);
            assertEquals(before, visible(host));
            assertEquals(Optional.of("versions/1.0"), host.current(ID));

            Files.delete(host.trust);
            Files.move(aside, host.trust);
            install(stager, v2);
            assertEquals(Optional.of("versions/2.0"), host.current(ID));
        } finally {
            stager.deactivate();
        }
    }
}
