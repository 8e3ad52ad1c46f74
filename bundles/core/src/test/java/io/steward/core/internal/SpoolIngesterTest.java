package io.steward.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.spi.ResultSink;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpoolIngesterTest {
    private static final AddonId ID = new AddonId("probe");
    private static final SpoolIngester.Limits LIMITS = new SpoolIngester.Limits(1_000, 5, 2, 10_000, 10);

    @TempDir
    Path spool;
    private final Recording sink = new Recording();
    private long clock = 1_000_000;

    /** Accepts until told to fail; keeps what it accepted, in order. */
    static final class Recording implements ResultSink {
        final List<String> ids = new ArrayList<>();
        final List<String> records = new ArrayList<>();
        int failAfter = Integer.MAX_VALUE;

        @Override
        public void accept(AddonId addon, String recordId, String json) throws IOException {
            if (records.size() >= failAfter) {
                throw new IOException("broker unreachable");
            }
            assertEquals(ID, addon);
            ids.add(recordId);
            records.add(json);
        }
    }

    @BeforeEach
    void none() {
        assertTrue(sink.records.isEmpty());
    }

    private Path write(String name, String text) throws IOException {
        Path p = spool.resolve(name);
        Files.writeString(p, text, StandardCharsets.UTF_8);
        Files.setLastModifiedTime(p, FileTime.fromMillis(clock += 1_000));   // each file newer than the last
        return p;
    }

    private SpoolIngester ingester(SpoolIngester.Limits limits) {
        return new SpoolIngester(ID, spool, limits);
    }

    private List<String> left() throws IOException {
        try (Stream<Path> s = Files.list(spool)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void completeFilesGoOldestFirstAndAreDeletedAfterTheSinkAcceptedThem() throws Exception {
        write("b.jsonl", "{\"n\":1}\n{\"n\":2}\n");
        write("a.jsonl", "{\"n\":3}\n");
        SpoolIngester in = ingester(LIMITS);
        assertEquals(3, in.pass(sink));
        assertEquals(List.of("{\"n\":1}", "{\"n\":2}", "{\"n\":3}"), sink.records);
        assertEquals(List.of(), left());
        assertEquals(3, in.tally().records());
        assertTrue(in.tally().summary(ID).isEmpty());
    }

    @Test
    void aPartialTmpFileIsLeftAlone() throws Exception {
        write("run-7.tmp", "{\"n\":1}\n{\"half");
        write("run-6.jsonl", "{\"n\":0}\n");
        assertEquals(1, ingester(LIMITS).pass(sink));
        assertEquals(List.of("{\"n\":0}"), sink.records);
        assertEquals(List.of("run-7.tmp"), left());
    }

    @Test
    void aMalformedLineIsCountedAndReportedAndTheRestOfTheFileStillFlows() throws Exception {
        write("a.jsonl", "{\"n\":1}\n{\"n\":\n[1,2]\n{\"n\":2} x\n{'n':3}\n{\"n\":4}\n");
        SpoolIngester in = ingester(new SpoolIngester.Limits(1_000, 100, 2, 10_000, 10));
        assertEquals(2, in.pass(sink));
        assertEquals(List.of("{\"n\":1}", "{\"n\":4}"), sink.records);
        assertEquals(4, in.tally().malformedLines());
        String summary = in.tally().summary(ID).orElseThrow();
        assertTrue(summary.startsWith("add-on probe: result spool: 4 malformed lines (last: a.jsonl line 5 "), summary);
        assertEquals(List.of(), left());
    }

    @Test
    void invalidUtf8IsAMalformedLine() throws Exception {
        Path p = spool.resolve("a.jsonl");
        Files.write(p, new byte[] {'{', '"', 's', '"', ':', '"', (byte) 0xC3, '"', '}', '\n', '{', '}', '\n'});
        SpoolIngester in = ingester(LIMITS);
        assertEquals(1, in.pass(sink));
        assertEquals(1, in.tally().malformedLines());
        assertTrue(in.tally().lastProblem().orElseThrow().contains("not UTF-8"));
    }

    @Test
    void anOversizedFileIsCountedAndDeletedUnreadAndTheNextStillFlows() throws Exception {
        write("big.jsonl", "{\"pad\":\"" + "x".repeat(2_000) + "\"}\n");
        write("small.jsonl", "{\"n\":1}\n");
        SpoolIngester in = ingester(LIMITS);
        assertEquals(1, in.pass(sink));
        assertEquals(List.of("{\"n\":1}"), sink.records);
        assertEquals(1, in.tally().oversizedFiles());
        assertTrue(in.tally().summary(ID).orElseThrow().contains("1 oversized file"));
        assertEquals(List.of(), left());
    }

    @Test
    void linesPastTheLineCapAreDroppedAndCounted() throws Exception {
        write("a.jsonl", "{}\n".repeat(8));
        SpoolIngester in = ingester(LIMITS);
        assertEquals(5, in.pass(sink));
        assertEquals(3, in.tally().droppedLines());
        assertEquals(List.of(), left());
    }

    @Test
    void atMostFilesPerPassAreReadInOnePass() throws Exception {
        for (int i = 0; i < 5; i++) {
            write("f" + i + ".jsonl", "{\"f\":" + i + "}\n");
        }
        SpoolIngester in = ingester(LIMITS);
        assertEquals(2, in.pass(sink));
        assertEquals(List.of("f2.jsonl", "f3.jsonl", "f4.jsonl"), left());
        assertEquals(2, in.pass(sink));
        assertEquals(1, in.pass(sink));
        assertEquals(List.of("{\"f\":0}", "{\"f\":1}", "{\"f\":2}", "{\"f\":3}", "{\"f\":4}"), sink.records);
    }

    @Test
    void aFailingSinkKeepsTheFileAndTheSameRecordIdsComeAgain() throws Exception {
        write("a.jsonl", "{\"n\":1}\n{\"n\":2}\n");
        write("b.jsonl", "{\"n\":3}\n");
        SpoolIngester in = ingester(LIMITS);
        sink.failAfter = 1;
        assertEquals(0, in.pass(sink));
        assertEquals(List.of("a.jsonl", "b.jsonl"), left());
        assertTrue(in.tally().summary(ID).orElseThrow().contains("results are buffered: the result sink failed "
                + "(broker unreachable)"));
        List<String> firstIds = List.copyOf(sink.ids);
        sink.failAfter = Integer.MAX_VALUE;
        assertEquals(3, in.pass(sink));
        assertEquals(List.of(), left());
        assertEquals(firstIds.get(0), sink.ids.get(1), "the record accepted before the failure has the same id again");
        assertEquals(4, sink.ids.size());
        assertEquals(3, sink.ids.stream().distinct().count());
        assertTrue(in.tally().sinkError().isEmpty());
    }

    @Test
    void recordIdsAreStablePerFileAndLineAndDifferOtherwise() {
        String a = SpoolIngester.recordId("a.jsonl", 1, "{}");
        assertEquals(a, SpoolIngester.recordId("a.jsonl", 1, "{}"));
        assertNotEquals(a, SpoolIngester.recordId("a.jsonl", 2, "{}"));
        assertNotEquals(a, SpoolIngester.recordId("b.jsonl", 1, "{}"));
        assertNotEquals(a, SpoolIngester.recordId("a.jsonl", 1, "{\"x\":1}"));
        assertTrue(a.startsWith("a.jsonl:1:"), a);
    }

    @Test
    void withNoSinkTheSpoolBuffersUpToItsCapAndDropsTheOldestCounted() throws Exception {
        SpoolIngester in = ingester(new SpoolIngester.Limits(1_000, 100, 2, 10_000, 3));
        for (int i = 0; i < 5; i++) {
            write("f" + i + ".jsonl", "{}\n");
        }
        assertEquals(0, in.pass(null));
        assertEquals(List.of("f2.jsonl", "f3.jsonl", "f4.jsonl"), left());
        assertEquals(2, in.tally().droppedFiles());
        assertTrue(in.tally().summary(ID).orElseThrow().contains("2 files dropped over the spool cap"));
    }

    @Test
    void theByteCapDropsTheOldestToo() throws Exception {
        SpoolIngester in = ingester(new SpoolIngester.Limits(1_000, 100, 2, 250, 100));
        for (int i = 0; i < 3; i++) {
            write("f" + i + ".jsonl", "{\"pad\":\"" + "x".repeat(100) + "\"}\n");
        }
        in.pass(null);
        assertEquals(List.of("f1.jsonl", "f2.jsonl"), left());
        assertEquals(1, in.tally().droppedFiles());
    }

    @Test
    void aLinkIsNeverFollowed() throws Exception {
        Path outside = Files.createTempFile("outside", ".jsonl");
        try {
            Files.writeString(outside, "{\"secret\":1}\n");
            Files.createSymbolicLink(spool.resolve("link.jsonl"), outside);
            assertEquals(0, ingester(LIMITS).pass(sink));
            assertTrue(sink.records.isEmpty());
            assertTrue(Files.exists(outside));
            assertFalse(left().isEmpty());
        } finally {
            Files.deleteIfExists(outside);
        }
    }
}
