package io.steward.delivery.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;

/**
 * Jazzer target: the one-pass artifact reader ({@link ArtifactReader}: gzip, tar through commons-compress, the
 * archive rules) extracting into a real directory, and the manifest parser on what it found (README "Fuzzing").
 * The first input byte chooses how the rest is read: even, as a tar that this test gzips; odd, as the artifact's
 * raw bytes (gzip and all).
 * <p>
 * Oracle: with a healthy source and sink, {@code read} throws nothing but the documented refusal — a PERMANENT
 * {@link SupervisionException} of one line, {@code add-on fz: extract: …} —; an accepted artifact's digest is the
 * SHA-256 of its raw bytes, the files it reports are exactly the regular files in the directory (no link, no
 * other type, nothing above the limits), and nothing is written outside that directory; its manifest, if any,
 * parses or is refused with {@code Manifests.Invalid} only.
 */
class ArtifactReaderFuzzTest {
    private static final AtomicLong EXECUTIONS = new AtomicLong();
    private static final Limits LIMITS = new Limits(64, 1 << 20, 4 << 20, 8 << 20);
    private static final ArtifactReader READER = new ArtifactReader(LIMITS);
    private static final Failures FAIL = new Failures("fz");
    private static Path scratch;

    @FuzzTest
    @DictionaryEntries({"addon.json", "./", "../", "/etc/passwd", "ustar\u000000", "ustar  \u0000", "././@LongLink",
        "PaxHeader", "path=", "size=", "linkpath=", "GNU.sparse.", ".steward-artifact.json", "bin/x", "a/b/c"})
    void readerRefusesCleanlyAndExtractsOnlyWhatItReports(byte[] input) throws IOException {
        EXECUTIONS.incrementAndGet();
        if (input.length == 0) {
            return;
        }
        byte[] raw = (input[0] & 1) == 0 ? gzip(input, 1) : java.util.Arrays.copyOfRange(input, 1, input.length);
        Path work = Files.createTempDirectory(scratch(), "x");
        Path root = Files.createDirectory(work.resolve("root"));
        Sink.Directory sink = new Sink.Directory(root, false);
        try {
            ArtifactReader.Result r;
            try {
                r = READER.read(FAIL, new ByteArrayInputStream(raw), sink, Progress.NONE);
            } catch (SupervisionException e) {
                sink.abort();
                assertEquals(Disposition.PERMANENT, e.disposition(), e.getMessage());
                assertTrue(e.getMessage().startsWith("add-on fz: extract: "), e.getMessage());
                assertFalse(e.getMessage().contains("\n"), e.getMessage());
                return;
            }
            assertEquals(HexFormat.of().formatHex(sha256(raw)), r.sha256());
            Set<String> onDisk;
            try (Stream<Path> all = Files.walk(root)) {
                List<Path> paths = all.filter(p -> !p.equals(root)).toList();
                for (Path p : paths) {
                    assertTrue(Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)
                            || Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS), "only files and directories: " + p);
                    if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                        assertTrue(Files.size(p) <= LIMITS.maxFileBytes(), p.toString());
                    }
                }
                onDisk = paths.stream().filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                        .map(p -> root.relativize(p).toString()).collect(Collectors.toSet());
            }
            assertEquals(onDisk, r.files(), "the reader reports exactly the files it wrote");
            try (Stream<Path> beside = Files.list(work)) {
                assertEquals(List.of(root), beside.toList(), "nothing written beside the extraction directory");
            }
            r.manifest().ifPresent(m -> {
                try {
                    Manifests.checkFiles(Manifests.parse(m), r.files());
                } catch (Manifests.Invalid e) {
                    assertFalse(String.valueOf(e.getMessage()).isBlank());
                }
            });
        } finally {
            delete(work);
        }
    }

    private static Path scratch() throws IOException {
        if (scratch == null) {
            scratch = Files.createTempDirectory("artifact-fuzz");
        }
        return scratch;
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

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @AfterAll
    static void report() throws IOException {
        if (scratch != null) {
            delete(scratch);
        }
        System.out.println("fuzz: ArtifactReaderFuzzTest " + EXECUTIONS.get() + " executions");
    }
}
