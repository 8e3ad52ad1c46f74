package io.steward.supervision.sidecar.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;

/** Files the sidecar kind writes: crash-safe replacement, the merged config, copy-truncate rotation. */
final class Files2 {
    static final Gson GSON = new GsonBuilder().disableHtmlEscaping().setPrettyPrinting().create();
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private Files2() {
    }

    /** Writes a temporary sibling, fsyncs it, renames it over {@code target}, fsyncs the directory. Mode 0600. */
    static void writeAtomically(Path target, byte[] bytes) throws IOException {
        Path dir = target.getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + target.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(OWNER_ONLY))) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                ch.write(buffer);
            }
            ch.force(true);
        }
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot replace " + target + " atomically", e);
        }
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some file systems refuse fsync on a directory; the rename is still atomic
        }
    }

    /**
     * The add-on's effective config: the artifact's default config with the assignment's config merged over
     * it as a JSON merge patch (RFC 7396): nested objects merge key by key (upstream gap 23), a {@code null}
     * removes a key, anything else replaces.
     */
    static JsonObject mergeConfig(JsonObject defaults, JsonObject override) {
        JsonObject merged = defaults.deepCopy();
        for (Map.Entry<String, JsonElement> e : override.entrySet()) {
            JsonElement value = e.getValue();
            JsonElement existing = merged.get(e.getKey());
            if (value.isJsonNull()) {
                merged.remove(e.getKey());
            } else if (value.isJsonObject() && existing != null && existing.isJsonObject()) {
                merged.add(e.getKey(), mergeConfig(existing.getAsJsonObject(), value.getAsJsonObject()));
            } else {
                merged.add(e.getKey(), withoutNulls(value));
            }
        }
        return merged;
    }

    private static JsonElement withoutNulls(JsonElement value) {
        if (!value.isJsonObject()) {
            return value.deepCopy();
        }
        JsonObject copy = new JsonObject();
        value.getAsJsonObject().entrySet().forEach(e -> {
            if (!e.getValue().isJsonNull()) {
                copy.add(e.getKey(), withoutNulls(e.getValue()));
            }
        });
        return copy;
    }

    /** Parses a JSON object text. */
    static JsonObject object(String json, String what) {
        try {
            JsonElement e = JsonParser.parseString(json);
            if (!e.isJsonObject()) {
                throw new IllegalArgumentException(what + " is not a JSON object");
            }
            return e.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(what + " is not valid JSON: " + e.getMessage());
        }
    }

    static byte[] bytes(JsonElement json) {
        return (GSON.toJson(json) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /**
     * Copy-truncate rotation: when {@code log} is larger than {@code maxBytes}, shifts {@code log.1 … log.(keep-1)}
     * up by one, copies {@code log} to {@code log.1} and truncates {@code log} to zero. The add-on keeps its file
     * descriptor (opened with O_APPEND, so its next write lands at the new end). Lines written between the copy
     * and the truncation are lost, as with logrotate's copytruncate.
     *
     * @return whether it rotated
     */
    static boolean rotate(Path log, long maxBytes, int keep) throws IOException {
        if (!Files.isRegularFile(log) || Files.size(log) <= maxBytes) {
            return false;
        }
        if (keep > 0) {
            Files.deleteIfExists(numbered(log, keep));
            for (int i = keep - 1; i >= 1; i--) {
                Path from = numbered(log, i);
                if (Files.exists(from)) {
                    Files.move(from, numbered(log, i + 1), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            Files.copy(log, numbered(log, 1), StandardCopyOption.REPLACE_EXISTING);
        }
        try (FileChannel ch = FileChannel.open(log, StandardOpenOption.WRITE)) {
            ch.truncate(0);
        }
        return true;
    }

    static Path numbered(Path log, int n) {
        return log.resolveSibling(log.getFileName() + "." + n);
    }
}
