package io.steward.systemd.units;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.steward.delivery.StagedArtifact;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.unitfile.UnitPolicy;
import io.steward.files.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * An add-on's merged config file ({@code @ADDON_CONFIG@}): the artifact's default config deep-merged with the
 * assignment's, written atomically beside the add-on's state directory (and, for a timer, its spool). Holds no
 * state of its own beyond the host layout; {@link UnitSupervisor} calls it from one thread at a time.
 */
final class AddonConfigFile {
    private final HostLayout layout;
    private final boolean timer;

    AddonConfigFile(HostLayout layout, boolean timer) {
        this.layout = layout;
        this.timer = timer;
    }

    /** Writes the default config merged with the assignment's to {@code config}; creates the state (and spool). */
    void write(AddonId id, StagedArtifact staged, Assignment a, Path config) throws SupervisionException {
        try {
            JsonObject merged = new JsonObject();
            Optional<String> defaultName = staged.manifest().config();
            if (defaultName.isPresent()) {
                Path file = staged.directory().resolve(defaultName.get()).normalize();
                if (!file.startsWith(staged.directory()) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                    throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": default config "
                            + defaultName.get() + " is not a file inside the artifact");
                }
                merged = object(id, Files.readString(file, StandardCharsets.UTF_8), defaultName.get());
            }
            merge(merged, object(id, a.configJson(), "the assignment's config"));
            Files.createDirectories(UnitPolicy.stateDir(layout, id));
            if (timer) {
                createSpool(UnitPolicy.spoolDir(layout, id));
            }
            writeAtomically(config, (new Gson().toJson(merged) + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot write " + config + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * A timer's runs write their results into the spool as the unit's own {@code User=} or dynamic user, so it is
     * 1733: anyone may create a file in it, only the agent lists and reads them, nobody deletes another's file.
     */
    private static void createSpool(Path spool) throws IOException {
        Files.createDirectories(spool);
        Files.setAttribute(spool, "unix:mode", 01733);
    }

    private static JsonObject object(AddonId id, String text, String what) throws SupervisionException {
        try {
            JsonElement e = JsonParser.parseString(text);
            if (!e.isJsonObject()) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": " + what
                        + " is not a JSON object");
            }
            return e.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": " + what + " is not valid JSON: "
                    + e.getMessage(), e);
        }
    }

    /** Deep merge: objects merge key by key, anything else replaces. */
    static void merge(JsonObject into, JsonObject from) {
        for (Map.Entry<String, JsonElement> e : from.entrySet()) {
            JsonElement existing = into.get(e.getKey());
            if (existing != null && existing.isJsonObject() && e.getValue().isJsonObject()) {
                merge(existing.getAsJsonObject(), e.getValue().getAsJsonObject());
            } else {
                into.add(e.getKey(), e.getValue());
            }
        }
    }

    static Optional<byte[]> readOptional(Path file) throws SupervisionException {
        try {
            return Optional.of(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    static void writeAtomically(Path file, byte[] bytes) throws IOException {
        AtomicFiles.replace(file, "." + file.getFileName() + ".tmp").createDirectories().write(bytes);
    }
}
