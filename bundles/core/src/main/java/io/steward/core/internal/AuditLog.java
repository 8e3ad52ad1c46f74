package io.steward.core.internal;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.supervision.AuditRecord;
import io.steward.supervision.AuditTrail;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Append-only JSON-lines log of every change Steward makes to the host. Each line carries the
 * SHA-256 of the line before it ({@code prev}), so an edited or deleted line breaks the chain.
 * Appends are fsynced. Written only by the reconcile thread; read from any thread.
 */
final class AuditLog {
    static final String FILE = "audit.jsonl";
    private static final String GENESIS = "0".repeat(64);

    private final Path file;
    private final Clock clock;
    private long seq;
    private String lastHash;

    AuditLog(Path stateDir, Clock clock) throws IOException {
        this.file = stateDir.resolve(FILE);
        this.clock = clock;
        this.lastHash = GENESIS;
        if (Files.exists(file)) {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            if (!lines.isEmpty()) {
                String last = lines.get(lines.size() - 1);
                seq = JsonParser.parseString(last).getAsJsonObject().get("seq").getAsLong();
                lastHash = sha256(last);
            }
        }
    }

    synchronized void append(String addon, String action, String detail) {
        JsonObject o = new JsonObject();
        o.addProperty("seq", seq + 1);
        o.addProperty("at", Instant.now(clock).toString());
        o.addProperty("addon", addon);
        o.addProperty("action", action);
        o.addProperty("detail", detail);
        o.addProperty("prev", lastHash);
        String line = o.toString();
        try {
            Files.createDirectories(file.getParent());
            // a stream, not a FileChannel: an interrupt must not abort an audit record
            try (FileOutputStream out = new FileOutputStream(file.toFile(), true)) {
                out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                out.getFD().sync();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to the audit log " + file, e);
        }
        seq++;
        lastHash = sha256(line);
    }

    /** The last {@code n} records, and the first record whose chain link is broken. */
    AuditTrail read(int n) {
        List<String> lines;
        try {
            lines = Files.exists(file) ? Files.readAllLines(file, StandardCharsets.UTF_8) : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the audit log " + file, e);
        }
        Deque<AuditRecord> tail = new ArrayDeque<>();
        Optional<Long> brokenAt = Optional.empty();
        String expected = GENESIS;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            AuditRecord record;
            String prev;
            try {
                JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                record = new AuditRecord(o.get("seq").getAsLong(), Instant.parse(o.get("at").getAsString()),
                        o.get("addon").getAsString(), o.get("action").getAsString(), o.get("detail").getAsString());
                prev = o.get("prev").getAsString();
            } catch (RuntimeException e) {
                record = null;
                prev = "";
            }
            if (brokenAt.isEmpty() && (record == null || !prev.equals(expected) || record.seq() != i + 1)) {
                brokenAt = Optional.of((long) i + 1);
            }
            expected = sha256(line);
            if (record != null) {
                tail.addLast(record);
                if (tail.size() > Math.max(0, n)) {
                    tail.removeFirst();
                }
            }
        }
        return new AuditTrail(List.copyOf(tail), brokenAt);
    }

    private static String sha256(String line) {
        try {
            return HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(line.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }
}
