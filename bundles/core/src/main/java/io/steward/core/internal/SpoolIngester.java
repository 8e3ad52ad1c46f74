package io.steward.core.internal;

import com.google.gson.JsonElement;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.ResultSink;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pass over one add-on's result spool (docs/fleet.md "Results out"): complete {@code *.jsonl} files only (a run
 * writes {@code *.tmp} and renames it), oldest first, at most {@link Limits#filesPerPass} files, each strictly
 * parsed one JSON object a line and handed record by record to the {@link ResultSink}; a file is deleted only
 * after the sink accepted all of it (at least once). A malformed line is counted and logged, never fatal: the
 * rest of the file still flows. An oversized file is counted and deleted unread. With no sink, or a failing
 * one, the spool is the buffer: over its cap the oldest complete files are dropped, and counted.
 * <p>
 * Never follows a link and never executes anything: the spool is written by the add-on's runs, whoever they are.
 * Not thread-safe: one caller (the results thread) per spool.
 */
final class SpoolIngester {
    private static final Logger LOG = LoggerFactory.getLogger(SpoolIngester.class);
    static final String COMPLETE = ".jsonl";

    /**
     * The bounds of the spool.
     *
     * @param maxFileBytes a complete file larger than this is deleted unread (and counted)
     * @param maxLines     lines of a file past this are dropped (and counted)
     * @param filesPerPass files read in one pass, oldest first
     * @param capBytes     the spool's complete files may hold this much before the oldest are dropped
     * @param capFiles     and this many files
     */
    record Limits(long maxFileBytes, int maxLines, int filesPerPass, long capBytes, int capFiles) {
        static final Limits DEFAULT = new Limits(1 << 20, 10_000, 16, 64L << 20, 1_000);
    }

    /** What happened to one spool over the agent's life; the counts only grow. */
    record Tally(long records, long malformedLines, long oversizedFiles, long droppedLines, long droppedFiles,
                 Optional<String> lastProblem, Optional<String> sinkError) {
        static final Tally NONE = new Tally(0, 0, 0, 0, 0, Optional.empty(), Optional.empty());

        /** One sentence for the status; empty when nothing went wrong. */
        Optional<String> summary(AddonId id) {
            List<String> parts = new ArrayList<>();
            if (malformedLines > 0) {
                parts.add(malformedLines + " malformed line" + (malformedLines == 1 ? "" : "s"));
            }
            if (oversizedFiles > 0) {
                parts.add(oversizedFiles + " oversized file" + (oversizedFiles == 1 ? "" : "s"));
            }
            if (droppedLines > 0) {
                parts.add(droppedLines + " line" + (droppedLines == 1 ? "" : "s") + " over the line cap");
            }
            if (droppedFiles > 0) {
                parts.add(droppedFiles + " file" + (droppedFiles == 1 ? "" : "s") + " dropped over the spool cap");
            }
            sinkError.ifPresent(e -> parts.add("results are buffered: " + e));
            if (parts.isEmpty()) {
                return Optional.empty();
            }
            return Optional.of("add-on " + id + ": result spool: " + String.join(", ", parts)
                    + lastProblem.map(p -> " (last: " + p + ")").orElse(""));
        }
    }

    private final AddonId id;
    private final Path spool;
    private final Limits limits;
    private Tally tally = Tally.NONE;
    private int malformedInFile;     // only the first of a file is logged, then the file's count

    SpoolIngester(AddonId id, Path spool, Limits limits) {
        this.id = id;
        this.spool = spool;
        this.limits = limits;
    }

    Tally tally() {
        return tally;
    }

    /**
     * One pass: the cap first (so a full spool drops even with no sink), then up to {@code filesPerPass} files
     * to {@code sink} when there is one. Returns the records accepted.
     */
    int pass(ResultSink sink) throws IOException {
        List<Entry> files = completeFiles();
        files = enforceCap(files);
        if (sink == null) {
            return 0;
        }
        int accepted = 0;
        for (Entry f : files.subList(0, Math.min(files.size(), limits.filesPerPass()))) {
            Optional<Integer> n = ingest(f, sink);
            if (n.isEmpty()) {
                break;      // the sink failed: the file stays, and so does everything newer (order)
            }
            accepted += n.get();
        }
        return accepted;
    }

    private record Entry(Path path, long size, long modified) {
    }

    /** Regular {@code *.jsonl} files (no links), oldest first, then by name. */
    private List<Entry> completeFiles() throws IOException {
        List<Entry> out = new ArrayList<>();
        if (!Files.isDirectory(spool, LinkOption.NOFOLLOW_LINKS)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(spool, "*" + COMPLETE)) {
            for (Path p : ds) {
                BasicFileAttributes a;
                try {
                    a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                } catch (NoSuchFileException gone) {
                    continue;
                }
                if (a.isRegularFile()) {
                    out.add(new Entry(p, a.size(), a.lastModifiedTime().toMillis()));
                }
            }
        }
        out.sort(Comparator.comparingLong(Entry::modified).thenComparing(e -> e.path().getFileName().toString()));
        return out;
    }

    /** Drops the oldest files until the rest fit the cap; returns the rest, oldest first. */
    private List<Entry> enforceCap(List<Entry> files) throws IOException {
        long bytes = files.stream().mapToLong(Entry::size).sum();
        int drop = 0;
        while (drop < files.size() && (files.size() - drop > limits.capFiles() || bytes > limits.capBytes())) {
            bytes -= files.get(drop).size();
            drop++;
        }
        for (Entry f : files.subList(0, drop)) {
            Files.deleteIfExists(f.path());
            problem(0, 0, 0, 1, f.path().getFileName() + " dropped, the spool is over its cap of "
                    + limits.capFiles() + " files or " + limits.capBytes() + " bytes");
        }
        return files.subList(drop, files.size());
    }

    /** The records of one file to the sink; the file deleted after the last. Empty when the sink failed. */
    private Optional<Integer> ingest(Entry f, ResultSink sink) throws IOException {
        String name = f.path().getFileName().toString();
        if (f.size() > limits.maxFileBytes()) {
            Files.deleteIfExists(f.path());
            problem(0, 1, 0, 0, name + " is " + f.size() + " bytes, over the cap of " + limits.maxFileBytes()
                    + "; deleted unread");
            return Optional.of(0);
        }
        byte[] bytes;
        try {
            bytes = readAtMost(f.path(), limits.maxFileBytes() + 1);
        } catch (NoSuchFileException gone) {
            return Optional.of(0);
        } catch (FileSystemException e) {
            if (!Files.isSymbolicLink(f.path())) {
                throw e;
            }
            Files.deleteIfExists(f.path());     // replaced by a link since it was listed (ELOOP)
            problem(0, 1, 0, 0, name + " became a link; deleted unread");
            return Optional.of(0);
        }
        if (bytes.length > limits.maxFileBytes()) {    // it grew since it was listed
            Files.deleteIfExists(f.path());
            problem(0, 1, 0, 0, name + " is over the cap of " + limits.maxFileBytes() + " bytes; deleted unread");
            return Optional.of(0);
        }
        String[] lines = new String(bytes, StandardCharsets.ISO_8859_1).split("\n", -1);
        int accepted = 0;
        int count = 0;
        malformedInFile = 0;
        for (int i = 0; i < lines.length; i++) {
            String raw = lines[i];
            if (raw.isEmpty()) {
                continue;   // the final newline, or a blank line
            }
            int lineNo = i + 1;
            if (++count > limits.maxLines()) {
                long rest = java.util.Arrays.stream(lines, i, lines.length).filter(l -> !l.isEmpty()).count();
                problem(0, 0, rest, 0, name + " has more than " + limits.maxLines() + " lines; " + rest
                        + " dropped");
                break;
            }
            Optional<String> json = parse(raw, name, lineNo);
            if (json.isEmpty()) {
                continue;
            }
            try {
                sink.accept(id, recordId(name, lineNo, json.get()), json.get());
            } catch (IOException | RuntimeException e) {
                sinkFailed(e);
                return Optional.empty();
            }
            accepted++;
        }
        Files.deleteIfExists(f.path());
        if (malformedInFile > 1) {
            LOG.warn("add-on {}: result spool: {} had {} malformed lines", id, name, malformedInFile);
        }
        record(accepted);
        return Optional.of(accepted);
    }

    /** At most {@code max} bytes of {@code file}, opened without following a link (the runs own the names). */
    private static byte[] readAtMost(Path file, long max) throws IOException {
        try (SeekableByteChannel ch = Files.newByteChannel(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
             InputStream in = Channels.newInputStream(ch)) {
            return in.readNBytes((int) Math.min(max, Integer.MAX_VALUE - 8));
        }
    }

    /** The line as a string when it is one strict JSON object in UTF-8; counted and logged otherwise. */
    private Optional<String> parse(String latin1, String file, int lineNo) {
        String line;
        try {
            line = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(latin1.getBytes(StandardCharsets.ISO_8859_1))).toString();
        } catch (CharacterCodingException e) {
            malformed(file + " line " + lineNo + " is not UTF-8");
            return Optional.empty();
        }
        if (line.endsWith("\r")) {
            line = line.substring(0, line.length() - 1);
        }
        try {
            JsonReader reader = new JsonReader(new StringReader(line));
            reader.setStrictness(Strictness.STRICT);
            JsonElement e = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                malformed(file + " line " + lineNo + " has text after its JSON value");
                return Optional.empty();
            }
            if (!e.isJsonObject()) {
                malformed(file + " line " + lineNo + " is not a JSON object");
                return Optional.empty();
            }
        } catch (JsonParseException | IOException | IllegalStateException e) {
            malformed(file + " line " + lineNo + " is not valid JSON");
            return Optional.empty();
        }
        return Optional.of(line);
    }

    /** {@code <file>:<line>:<first 16 hex of sha256(line)>}: the same for the same line of the same file. */
    static String recordId(String file, int line, String json) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(json.getBytes(StandardCharsets.UTF_8));
            return file + ":" + line + ":" + HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void malformed(String what) {
        if (++malformedInFile == 1) {
            LOG.warn("add-on {}: result spool: {}", id, what);
        }
        count(1, 0, 0, 0, what);
    }

    private void problem(long malformed, long oversized, long droppedLines, long droppedFiles, String what) {
        LOG.warn("add-on {}: result spool: {}", id, what);
        count(malformed, oversized, droppedLines, droppedFiles, what);
    }

    private void count(long malformed, long oversized, long droppedLines, long droppedFiles, String what) {
        Tally t = tally;
        tally = new Tally(t.records(), t.malformedLines() + malformed, t.oversizedFiles() + oversized,
                t.droppedLines() + droppedLines, t.droppedFiles() + droppedFiles, Optional.of(what), t.sinkError());
    }

    private void record(int accepted) {
        Tally t = tally;
        if (t.sinkError().isPresent()) {
            LOG.info("add-on {}: result spool: the sink accepts records again", id);
        }
        tally = new Tally(t.records() + accepted, t.malformedLines(), t.oversizedFiles(), t.droppedLines(),
                t.droppedFiles(), t.lastProblem(), Optional.empty());
    }

    private void sinkFailed(Exception e) {
        Tally t = tally;
        String why = "the result sink failed (" + e.getMessage() + ")";
        if (t.sinkError().isEmpty()) {
            LOG.warn("add-on {}: result spool: {}; the files stay until it accepts them", id, why);
        }
        tally = new Tally(t.records(), t.malformedLines(), t.oversizedFiles(), t.droppedLines(), t.droppedFiles(),
                t.lastProblem(), Optional.of(why));
    }
}
