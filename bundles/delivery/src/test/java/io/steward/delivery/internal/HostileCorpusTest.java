package io.steward.delivery.internal;

import static io.steward.delivery.internal.Fixtures.Tar;
import static io.steward.supervision.spi.SupervisionException.Disposition.PERMANENT;
import static io.steward.supervision.spi.SupervisionException.Disposition.TRANSIENT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.delivery.Activation;
import io.steward.delivery.StagedArtifact;
import io.steward.delivery.artifacts.ArtifactReader;
import io.steward.delivery.internal.Fixtures.Host;
import io.steward.delivery.internal.Fixtures.Key;
import io.steward.delivery.staging.StageMetadata;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hostile corpus: every case must be refused with its own error (message fragment and disposition),
 * and leave {@code current}, the staged versions and everything else under data exactly as they were.
 * Archive-rule cases are correctly digested and signed by a trusted key: the rules hold for signed
 * artifacts too.
 */
class HostileCorpusTest {
    private static final String ID = "netprobe";
    private static final String V = "2.0";

    @TempDir
    static Path shared;
    static Key demo;
    static Key release;
    static Key stranger;
    static TlsServer tls;
    private static final AtomicInteger HOSTS = new AtomicInteger();

    @BeforeAll
    static void setUp() throws Exception {
        demo = Fixtures.opensslKey(shared.resolve("keys"), "demo");
        release = Fixtures.opensslKey(shared.resolve("keys"), "release-2026");
        stranger = Fixtures.opensslKey(shared.resolve("keys"), "stranger");
        tls = new TlsServer(Files.createDirectories(shared.resolve("tls")));
    }

    @AfterAll
    static void tearDown() throws Exception {
        tls.close();
    }

    @FunctionalInterface
    interface Setup {
        AddonRecord make(Host host) throws Exception;
    }

    record Case(String name, Setup setup, String fragment, Disposition disposition, Map<String, Object> config) {
    }

    private static Case c(String name, String fragment, Disposition d, Setup setup) {
        return new Case(name, setup, fragment, d, Map.of());
    }

    private static Case c(String name, String fragment, Disposition d, Map<String, Object> config, Setup setup) {
        return new Case(name, setup, fragment, d, config);
    }

    /** A correctly digested and signed artifact of whatever bytes. */
    private static Setup signed(byte[] tgz) {
        return host -> host.signed(ID, V, tgz, demo);
    }

    private static Setup tar(Tar tar) throws Exception {
        return signed(tar.tgz());
    }

    private static byte[] good() throws Exception {
        return Tar.addon(ID, V).tgz();
    }

    static List<Case> cases() throws Exception {
        List<Case> cases = new ArrayList<>();
        // ---- archive rules
        cases.add(c("traversal", "leaves the artifact", PERMANENT, tar(Tar.addon(ID, V).file("../evil", "x"))));
        cases.add(c("nested traversal", "leaves the artifact", PERMANENT, tar(Tar.addon(ID, V).file("share/../../evil", "x"))));
        cases.add(c("absolute path", "absolute path", PERMANENT, tar(Tar.addon(ID, V).file("/etc/evil", "x"))));
        cases.add(c("symlink", "is a symbolic link", PERMANENT, tar(Tar.addon(ID, V).symlink("share/link", "/etc/shadow"))));
        cases.add(c("hard link", "is a hard link", PERMANENT, tar(Tar.addon(ID, V).hardlink("share/hard", "/etc/shadow"))));
        cases.add(c("character device", "is a character device", PERMANENT,
                tar(Tar.addon(ID, V).special("share/null", TarConstants.LF_CHR, null))));
        cases.add(c("block device", "is a block device", PERMANENT,
                tar(Tar.addon(ID, V).special("share/sda", TarConstants.LF_BLK, null))));
        cases.add(c("FIFO", "is a FIFO", PERMANENT, tar(Tar.addon(ID, V).special("share/pipe", TarConstants.LF_FIFO, null))));
        cases.add(c("duplicate entry", "duplicate entry \"share/data/defaults.json\"", PERMANENT,
                tar(Tar.addon(ID, V).file("share/data/defaults.json", "{\"second\":true}"))));
        cases.add(c("file then directory of the same name", "which is a file", PERMANENT,
                tar(Tar.addon(ID, V).file("conf", "x").file("conf/inner", "y"))));
        cases.add(c("reserved metadata name", "reserved for Steward", PERMANENT,
                tar(Tar.addon(ID, V).file(ArtifactReader.METADATA, "{\"sha256\":\"forged\"}"))));
        Tar many = Tar.addon(ID, V);
        for (int i = 0; i < 60; i++) {
            many.file("many/f" + i, "x");
        }
        cases.add(c("too many entries", "more than 50 entries", PERMANENT, Map.of("max_entries", 50), tar(many)));
        cases.add(c("entry larger than its header says", "corrupt archive", PERMANENT, signed(Fixtures.gzip(lyingHeader()))));
        cases.add(c("entry above the per-file limit", "above the per-file limit of 65536", PERMANENT,
                Map.of("max_file_bytes", 65536L), tar(Tar.addon(ID, V).file("share/big", new byte[65537], 0644))));
        Tar total = Tar.addon(ID, V);
        for (int i = 0; i < 5; i++) {
            total.file("share/part" + i, new byte[30000], 0644);
        }
        cases.add(c("total above the limit", "total limit of 100000", PERMANENT, Map.of("max_total_bytes", 100_000L), tar(total)));
        cases.add(c("gzip bomb", "gzip bomb", PERMANENT, Map.of("max_total_bytes", 1L << 20, "max_entries", 100),
                signed(Fixtures.gzip(concat(Tar.addon(ID, V).tar(), new byte[64 << 20])))));
        cases.add(c("huge PAX header", "larger than 1048576 bytes", PERMANENT,
                tar(Tar.addon(ID, V).raw(Fixtures.entry("PaxHeaders/big", TarConstants.LF_PAX_EXTENDED_HEADER_LC,
                        Fixtures.paxRecord("comment", "n".repeat(1_200_000)))).file("share/after", "x"))));
        byte[] g = good();
        cases.add(c("truncated gzip", "truncated", PERMANENT, signed(Arrays.copyOf(g, g.length / 2))));
        cases.add(c("truncated gzip trailer", "truncated", PERMANENT, signed(Arrays.copyOf(g, g.length - 4))));
        byte[] badCrc = g.clone();
        badCrc[badCrc.length - 6] ^= 0x55;
        cases.add(c("corrupt gzip CRC", "corrupt archive", PERMANENT, signed(badCrc)));
        cases.add(c("not gzip", "not a gzip stream", PERMANENT, signed(Tar.addon(ID, V).tar())));
        cases.add(c("trailing garbage", "digest mismatch", PERMANENT, host -> {
            byte[] clean = good();
            AddonRecord r = host.signed(ID, V, clean, demo);
            Files.write(Path.of(java.net.URI.create(r.assignment().artifact().get().url())),
                    concat(clean, "garbage after the gzip stream".getBytes(StandardCharsets.UTF_8)));
            return r;
        }));
        // ---- manifest
        cases.add(c("missing binary", "declared binary \"netprobe\" is missing", PERMANENT,
                tar(new Tar().file("addon.json", Fixtures.manifest(ID, V, "sidecar", ID)).file("other", "x"))));
        cases.add(c("missing addon.json", "no addon.json", PERMANENT, tar(new Tar().file(ID, "#!/bin/sh\n", 0755))));
        cases.add(c("addon.json not JSON", "not valid JSON", PERMANENT,
                tar(new Tar().file("addon.json", "{id: netprobe").file(ID, "x", 0755))));
        cases.add(c("manifest id mismatch", "addon.json id \"otherprobe\" does not match", PERMANENT,
                tar(new Tar().file("addon.json", Fixtures.manifest("otherprobe", V, "sidecar", ID)).file(ID, "x", 0755))));
        cases.add(c("manifest version mismatch", "addon.json version \"1.9\" does not match", PERMANENT,
                tar(new Tar().file("addon.json", Fixtures.manifest(ID, "1.9", "sidecar", ID)).file(ID, "x", 0755))));
        cases.add(c("manifest kind mismatch", "addon.json supervision \"systemd_service\" does not match", PERMANENT,
                tar(new Tar().file("addon.json", Fixtures.manifest(ID, V, "systemd_service", ID)).file(ID, "x", 0755))));
        cases.add(c("manifest binary mismatch", "addon.json binary \"bin/other\" does not match", PERMANENT,
                tar(new Tar().file("addon.json", Fixtures.manifest(ID, V, "sidecar", "bin/other")).file("bin/other", "x", 0755))));
        // ---- digest and signature
        cases.add(c("wrong digest", "digest mismatch", PERMANENT, host -> {
            AddonRecord r = host.signed(ID, V, good(), demo);
            String wrong = Fixtures.sha256("something else".getBytes());
            return host.record(ID, V, "sidecar", r.assignment().artifact().get().url(), wrong,
                    demo.sign(ID, V, wrong), Optional.empty(), Optional.of(ID));
        }));
        cases.add(c("untrusted key", "signature does not match any trusted key (tried: demo, release-2026)", PERMANENT,
                host -> host.signed(ID, V, good(), stranger)));
        cases.add(c("signature made for another id", "does not match any trusted key", PERMANENT, host -> {
            byte[] tgz = good();
            String sha = Fixtures.sha256(tgz);
            return host.record(ID, V, "sidecar", host.publish("x.tgz", tgz), sha, demo.sign("otherprobe", V, sha),
                    Optional.empty(), Optional.of(ID));
        }));
        cases.add(c("signature made for another version", "does not match any trusted key", PERMANENT, host -> {
            byte[] tgz = good();
            String sha = Fixtures.sha256(tgz);
            return host.record(ID, V, "sidecar", host.publish("x.tgz", tgz), sha, demo.sign(ID, "1.0", sha),
                    Optional.empty(), Optional.of(ID));
        }));
        cases.add(c("unknown key id", "names key \"nobody\", which is not in the trust store", PERMANENT, host -> {
            byte[] tgz = good();
            String sha = Fixtures.sha256(tgz);
            return host.record(ID, V, "sidecar", host.publish("x.tgz", tgz), sha, demo.sign(ID, V, sha),
                    Optional.of("nobody"), Optional.of(ID));
        }));
        cases.add(c("named key does not match", "does not match trusted key release-2026", PERMANENT, host -> {
            byte[] tgz = good();
            String sha = Fixtures.sha256(tgz);
            return host.record(ID, V, "sidecar", host.publish("x.tgz", tgz), sha, demo.sign(ID, V, sha),
                    Optional.of("release-2026"), Optional.of(ID));
        }));
        cases.add(c("revoked (deleted) key, named", "names key \"old\", which is not in the trust store (trusted: demo, release-2026)",
                PERMANENT, revoked(true)));
        cases.add(c("revoked (deleted) key, tried", "does not match any trusted key (tried: demo, release-2026)",
                PERMANENT, revoked(false)));
        cases.add(c("wrong signature of a missing artifact: refused before anything is fetched",
                "does not match any trusted key", PERMANENT, host -> {
            String sha = Fixtures.sha256(good());
            return host.record(ID, V, "sidecar", host.artifacts.resolve("never-fetched.tar.gz").toUri().toString(), sha,
                    stranger.sign(ID, V, sha), Optional.empty(), Optional.of(ID));
        }));
        cases.add(c("malformed base64", "not valid base64: '%' at position 1 is not a base64 character", PERMANENT, withSignature("%%%not-base64%%%")));
        cases.add(c("signature of the wrong length", "is 6 bytes long", PERMANENT, withSignature("AAAAAAAA")));
        cases.add(c("empty signature", "unsigned (empty signature)", PERMANENT, withSignature("")));
        cases.add(c("wrong signature while unsigned is allowed", "does not match any trusted key", PERMANENT,
                Map.of("allow_unsigned_addons", new String[] {ID}), host -> host.signed(ID, V, good(), stranger)));
        // ---- sources
        cases.add(c("file: URL to a directory", "is a directory", PERMANENT,
                source(host -> Files.createDirectories(host.artifacts.resolve("dir.tar.gz")).toUri().toString())));
        cases.add(c("file: URL to a FIFO", "is not a regular file", PERMANENT, source(host -> {
            Path fifo = host.artifacts.resolve("fifo.tar.gz");
            Fixtures.run(host.artifacts, "mkfifo", fifo.toString());
            return fifo.toUri().toString();
        })));
        cases.add(c("file: URL to a missing file", "does not exist", TRANSIENT,
                source(host -> host.artifacts.resolve("missing.tar.gz").toUri().toString())));
        cases.add(c("unsupported scheme", "unsupported URL scheme \"http\"", PERMANENT,
                source(host -> "http://127.0.0.1:1/netprobe.tar.gz")));
        cases.add(c("HTTP 404", "HTTP 404 from", PERMANENT, source(host -> tls.url("/a/missing.tar.gz"))));
        cases.add(c("HTTP 403", "HTTP 403 from", PERMANENT, source(host -> tls.url("/status/403"))));
        cases.add(c("HTTP 500", "HTTP 500 from", TRANSIENT, source(host -> tls.url("/status/500"))));
        cases.add(c("HTTP 503", "HTTP 503 from", TRANSIENT, source(host -> tls.url("/status/503"))));
        cases.add(c("connection refused", "cannot connect to 127.0.0.1:1", TRANSIENT,
                source(host -> "https://127.0.0.1:1/netprobe.tar.gz")));
        cases.add(c("body stalls", "no data from", TRANSIENT, Map.of("read_timeout_seconds", 1),
                source(host -> tls.url("/stall"))));
        return cases;
    }

    private static Setup withSignature(String signature) {
        return host -> {
            byte[] tgz = good();
            return host.record(ID, V, "sidecar", host.publish("x.tgz", tgz), Fixtures.sha256(tgz), signature,
                    Optional.empty(), Optional.of(ID));
        };
    }

    private static Setup revoked(boolean named) {
        return host -> {
            Key old = Fixtures.opensslKey(shared.resolve("keys-" + HOSTS.incrementAndGet()), "old");
            Fixtures.trust(host.trust, old);
            // the stager has seen the key (an artifact of another add-on verified with it) before it is revoked
            DeliveryStager s = host.stager(Map.of());
            s.stage(host.signed("other", "1.0", Tar.addon("other", "1.0").tgz(), old));
            s.deactivate();
            Files.delete(host.trust.resolve("old.pem"));
            byte[] tgz = good();
            String sha = Fixtures.sha256(tgz);
            return host.record(ID, V, "sidecar", host.publish("x.tgz", tgz), sha, old.sign(ID, V, sha),
                    named ? Optional.of("old") : Optional.empty(), Optional.of(ID));
        };
    }

    @FunctionalInterface
    interface Url {
        String make(Host host) throws Exception;
    }

    private static Setup source(Url url) {
        return host -> {
            byte[] tgz = good();
            String sha = Fixtures.sha256(tgz);
            return host.record(ID, V, "sidecar", url.make(host), sha, demo.sign(ID, V, sha), Optional.empty(), Optional.of(ID));
        };
    }

    @TestFactory
    Stream<DynamicTest> corpus() throws Exception {
        List<Case> cases = cases();
        assertTrue(cases.size() >= 30, "at least 30 hostile cases");
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> refused(c)));
    }

    private void refused(Case c) throws Exception {
        Host host = new Host(Files.createDirectories(shared.resolve("hosts/" + HOSTS.incrementAndGet())));
        Fixtures.trust(host.trust, demo);
        Fixtures.trust(host.trust, release);
        Map<String, Object> config = new HashMap<>(c.config());
        config.put("tls_truststore", tls.certificatePem.toString());
        // what was working: netprobe 1.0 active
        DeliveryStager baseline = host.stager(Map.of());
        AddonRecord v1 = host.signed(ID, "1.0", Tar.addon(ID, "1.0").tgz(), demo);
        Activation act = baseline.activate(v1, baseline.stage(v1));
        act.commit();
        baseline.deactivate();

        AddonRecord hostile = c.setup().make(host);
        Map<String, String> before = host.snapshot();
        DeliveryStager stager = host.stager(config);
        try {
            SupervisionException e = assertThrows(SupervisionException.class, () -> stager.stage(hostile));
            assertTrue(e.getMessage().startsWith("add-on netprobe: "), e.getMessage());
            assertTrue(e.getMessage().contains(c.fragment()), "expected \"" + c.fragment() + "\" in: " + e.getMessage());
            assertEquals(c.disposition(), e.disposition(), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        } finally {
            stager.deactivate();
        }
        assertEquals(before, host.snapshot(), "a refused artifact changed nothing under data");
        assertEquals(Optional.of("versions/1.0"), host.current(ID));
        Fixtures.assertNoLeftovers(host);
    }

    /** A tar whose binary's header says 10 bytes while 1024 follow. */
    private static byte[] lyingHeader() throws Exception {
        byte[] tar = new Tar().file("addon.json", Fixtures.manifest(ID, V, "sidecar", ID))
                .file(ID, "A".repeat(1024), 0755).tar();
        int header = find(tar, ID.getBytes(StandardCharsets.US_ASCII), 512);
        byte[] size = String.format("%011o\0", 10).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(size, 0, tar, header + 124, 12);
        Arrays.fill(tar, header + 148, header + 156, (byte) ' ');
        long sum = 0;
        for (int i = 0; i < 512; i++) {
            sum += tar[header + i] & 0xff;
        }
        byte[] checksum = String.format("%06o\0 ", sum).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(checksum, 0, tar, header + 148, 8);
        return tar;
    }

    private static int find(byte[] haystack, byte[] needle, int step) {
        for (int i = 0; i < haystack.length; i += step) {
            if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length) && haystack[i + needle.length] == 0) {
                return i;
            }
        }
        throw new IllegalArgumentException("not found");
    }

    static byte[] concat(byte[] a, byte[] b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(a);
        out.writeBytes(b);
        return out.toByteArray();
    }

    // ---- the good cases next to the hostile ones

    @Test
    void httpsDownloadStagesAndLeavesNoTemporaryFile() throws Exception {
        Host host = new Host(Files.createDirectories(shared.resolve("hosts/https")));
        Fixtures.trust(host.trust, demo);
        byte[] tgz = good();
        String sha = Fixtures.sha256(tgz);
        tls.files.put("netprobe-2.0.tar.gz", tgz);
        AddonRecord r = host.record(ID, V, "sidecar", tls.url("/a/netprobe-2.0.tar.gz"), sha, demo.sign(ID, V, sha),
                Optional.of("demo"), Optional.of(ID));
        DeliveryStager stager = host.stager(Map.of("tls_truststore", tls.certificatePem.toString()));
        try {
            StagedArtifact staged = stager.stage(r);
            assertEquals(host.home(ID).resolve("versions/2.0"), staged.directory());
            assertEquals("#!/bin/sh\necho netprobe 2.0\n", Files.readString(staged.directory().resolve(ID)));
            assertEquals("rwxr-xr-x", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(staged.directory().resolve(ID))));
            assertEquals("{\"interval\":30}", Files.readString(staged.directory().resolve("share/data/defaults.json")));
            Fixtures.assertNoLeftovers(host);
        } finally {
            stager.deactivate();
        }
    }

    @Test
    void httpsWithoutTrustingTheTestCertificateIsTransient() throws Exception {
        Host host = new Host(Files.createDirectories(shared.resolve("hosts/untrusted-tls")));
        Fixtures.trust(host.trust, demo);
        byte[] tgz = good();
        String sha = Fixtures.sha256(tgz);
        tls.files.put("netprobe-2.0.tar.gz", tgz);
        DeliveryStager stager = host.stager(Map.of());
        try {
            SupervisionException e = assertThrows(SupervisionException.class, () -> stager.stage(host.record(ID, V,
                    "sidecar", tls.url("/a/netprobe-2.0.tar.gz"), sha, demo.sign(ID, V, sha), Optional.empty(),
                    Optional.of(ID))));
            assertEquals(TRANSIENT, e.disposition());
            assertTrue(e.getMessage().startsWith("add-on netprobe: fetch: "), e.getMessage());
        } finally {
            stager.deactivate();
        }
    }

    @Test
    void emptySignatureIsAcceptedOnlyForAllowedAddons() throws Exception {
        Host host = new Host(Files.createDirectories(shared.resolve("hosts/unsigned")));
        Fixtures.trust(host.trust, demo);
        byte[] tgz = good();
        AddonRecord r = host.record(ID, V, "sidecar", host.publish("u.tgz", tgz), Fixtures.sha256(tgz), "",
                Optional.empty(), Optional.of(ID));
        DeliveryStager allowing = host.stager(Map.of("allow_unsigned_addons", new String[] {ID}));
        try {
            assertEquals(host.home(ID).resolve("versions/2.0"), allowing.stage(r).directory());
            assertEquals("", StageMetadata.read(host.home(ID).resolve("versions/2.0")).orElseThrow().key());
        } finally {
            allowing.deactivate();
        }
        DeliveryStager strict = host.stager(Map.of("allow_unsigned_addons", new String[] {"someone-else"}));
        try {
            // even already staged, an unsigned artifact is refused once the operator withdraws the allowance
            SupervisionException e = assertThrows(SupervisionException.class, () -> strict.stage(r));
            assertEquals(PERMANENT, e.disposition());
            assertTrue(e.getMessage().contains("unsigned"), e.getMessage());
        } finally {
            strict.deactivate();
        }
    }
}
