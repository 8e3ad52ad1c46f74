package io.steward.delivery.staging;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.delivery.artifacts.ArtifactReader;
import io.steward.delivery.artifacts.Sink;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;

/**
 * {@code .steward-artifact.json} in every version directory: what was verified when the directory was
 * staged. It lets a stage of the same artifact skip the download, and tells a re-published version (same
 * version, other bytes) from the one already on disk.
 *
 * @param id        add-on id
 * @param version   version
 * @param sha256    digest of the artifact the directory was extracted from
 * @param signature the signature it was accepted with (empty when accepted unsigned)
 * @param key       the trusted key that matched, empty when unsigned
 * @param stagedAt  when it was staged; retention keeps the most recent
 */
public record StageMetadata(String id, String version, String sha256, String signature, String key, Instant stagedAt) {

    public static Path file(Path versionDir) {
        return versionDir.resolve(ArtifactReader.METADATA);
    }

    String toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("id", id);
        o.addProperty("version", version);
        o.addProperty("sha256", sha256);
        o.addProperty("signature", signature);
        o.addProperty("key", key);
        o.addProperty("staged_at", stagedAt.toString());
        return o + "\n";
    }

    /** The metadata of a version directory; empty when the file is missing or unreadable. */
    public static Optional<StageMetadata> read(Path versionDir) {
        try {
            String text = Files.readString(file(versionDir), StandardCharsets.UTF_8);
            JsonObject o = JsonParser.parseString(text).getAsJsonObject();
            return Optional.of(new StageMetadata(o.get("id").getAsString(), o.get("version").getAsString(),
                    o.get("sha256").getAsString(), o.get("signature").getAsString(), o.get("key").getAsString(),
                    Instant.parse(o.get("staged_at").getAsString())));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();    // missing or foreign: not a directory this stager made
        }
    }

    public void write(Path versionDir) throws IOException {
        FileOps.writeAtomically(file(versionDir), toJson().getBytes(StandardCharsets.UTF_8), Sink.FILE_MODE);
    }
}
