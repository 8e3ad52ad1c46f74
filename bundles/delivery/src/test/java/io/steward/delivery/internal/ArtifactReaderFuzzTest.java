package io.steward.delivery.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.steward.delivery.artifacts.ArtifactReader;
import io.steward.delivery.artifacts.Failures;
import io.steward.delivery.artifacts.Limits;
import io.steward.delivery.artifacts.Manifests;
import io.steward.delivery.artifacts.Progress;
import io.steward.delivery.artifacts.Sink;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;

/**
 * Jazzer target: the one-pass artifact reader ({@link ArtifactReader}: gzip, tar through commons-compress, the
 * archive rules) extracting into a sink that checks the contract the real directory sink relies on, and the
 * manifest parser on what it found (docs/testing.md "Fuzzing").
 * The first input byte chooses how the rest is read: even, as a tar that this test gzips; odd, as the artifact's
 * raw bytes (gzip and all).
 * <p>
 * Oracle: with a healthy source and sink, {@code read} throws nothing but the documented refusal — a PERMANENT
 * {@link SupervisionException} of one line, {@code add-on fz: extract: …} —; an accepted artifact's digest is the
 * SHA-256 of its raw bytes, the files it reports are exactly the files it handed to the sink, each under a safe
 * relative name, never written over or through a file, within the limits; its manifest, if any, parses or is
 * refused with {@code Manifests.Invalid} only.
 */
class ArtifactReaderFuzzTest {
    private static final AtomicLong EXECUTIONS = new AtomicLong();
    private static final Limits LIMITS = new Limits(64, 1 << 20, 4 << 20, 8 << 20);
    private static final ArtifactReader READER = new ArtifactReader(LIMITS);
    private static final Failures FAIL = new Failures("fz");

    @FuzzTest
    @DictionaryEntries({"addon.json", "./", "../", "/etc/passwd", "ustar\u000000", "ustar  \u0000", "././@LongLink",
        "PaxHeader", "path=", "size=", "linkpath=", "GNU.sparse.", ".steward-artifact.json", "bin/x", "a/b/c"})
    void readerRefusesCleanlyAndExtractsOnlyWhatItReports(byte[] input) {
        EXECUTIONS.incrementAndGet();
        if (input.length == 0) {
            return;
        }
        byte[] raw = (input[0] & 1) == 0 ? gzip(input, 1) : java.util.Arrays.copyOfRange(input, 1, input.length);
        Recording sink = new Recording();
        ArtifactReader.Result r;
        try {
            r = READER.read(FAIL, new ByteArrayInputStream(raw), sink, Progress.NONE);
        } catch (SupervisionException e) {
            assertEquals(Disposition.PERMANENT, e.disposition(), e.getMessage());
            assertTrue(e.getMessage().startsWith("add-on fz: extract: "), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            return;
        }
        assertEquals(HexFormat.of().formatHex(sha256(raw)), r.sha256());
        assertEquals(sink.files.keySet(), r.files(), "the reader reports exactly the files it wrote");
        long total = 0;
        for (Map.Entry<String, Long> f : sink.files.entrySet()) {
            assertTrue(f.getValue() <= LIMITS.maxFileBytes(), f.getKey());
            total += f.getValue();
        }
        assertTrue(total <= LIMITS.maxTotalBytes());
        assertEquals(total, r.bytes());
        assertTrue(r.entries() <= LIMITS.maxEntries());
        r.manifest().ifPresent(m -> {
            try {
                Manifests.checkFiles(Manifests.parse(m), r.files());
            } catch (Manifests.Invalid e) {
                assertFalse(String.valueOf(e.getMessage()).isBlank());
            }
        });
    }

    /**
     * A sink that holds the contract {@link Sink.Directory} relies on: every name is a safe relative path, a file
     * is begun once and ended before the next, no name is both a file and a directory, no file is written over.
     */
    private static final class Recording implements Sink {
        final Map<String, Long> files = new HashMap<>();
        final Set<String> directories = new HashSet<>();
        String open;

        @Override
        public void directory(String path) {
            safe(path);
            assertFalse(files.containsKey(path), "a directory over a file: " + path);
            directories.add(path);
        }

        @Override
        public void begin(String path) {
            safe(path);
            assertEquals(null, open, "a file begun while another is open");
            assertFalse(files.containsKey(path) || directories.contains(path), "written over: " + path);
            for (String parent = parent(path); parent != null; parent = parent(parent)) {
                assertFalse(files.containsKey(parent), "a file as a parent directory: " + path);
            }
            open = path;
            files.put(path, 0L);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            assertTrue(open != null && len >= 0);
            files.merge(open, (long) len, Long::sum);
        }

        @Override
        public void end(boolean executable) {
            assertTrue(open != null, "end without begin");
            open = null;
        }

        private static String parent(String path) {
            int slash = path.lastIndexOf('/');
            return slash < 0 ? null : path.substring(0, slash);
        }

        private static void safe(String path) {
            assertFalse(path.isEmpty() || path.startsWith("/") || path.endsWith("/"), path);
            for (String segment : path.split("/", -1)) {
                assertFalse(segment.isEmpty() || segment.equals(".") || segment.equals(".."), path);
            }
            assertFalse(path.chars().anyMatch(c -> c == 0), path);
        }
    }

    private static byte[] gzip(byte[] b, int from) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(b, from, b.length - from);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterAll
    static void report() {
        System.out.println("fuzz: ArtifactReaderFuzzTest " + EXECUTIONS.get() + " executions");
    }
}
