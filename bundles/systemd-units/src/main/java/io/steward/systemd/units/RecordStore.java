package io.steward.systemd.units;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import io.steward.supervision.AddonId;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** Reads and writes {@link UnitRecord}s: one JSON file per add-on, written to a temp file, synced, renamed. */
final class RecordStore {
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    private final Path dir;

    RecordStore(Path stateDir) {
        this.dir = stateDir.resolve("systemd");
    }

    Path file(AddonId id) {
        return dir.resolve(id.value() + ".json");
    }

    Optional<UnitRecord> load(AddonId id) throws IOException {
        try {
            String text = Files.readString(file(id), StandardCharsets.UTF_8);
            return Optional.of(GSON.fromJson(text, UnitRecord.class));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (JsonParseException | NullPointerException e) {
            throw new IOException("the unit record " + file(id) + " is unreadable: " + e.getMessage(), e);
        }
    }

    void save(AddonId id, UnitRecord record) throws IOException {
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + id.value() + ".json.tmp");
        byte[] bytes = GSON.toJson(record).getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(java.nio.ByteBuffer.wrap(bytes));
            ch.force(true);
        }
        Files.move(tmp, file(id), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    void delete(AddonId id) throws IOException {
        Files.deleteIfExists(file(id));
    }

    /** Every add-on with a record, with its record. */
    List<java.util.Map.Entry<AddonId, UnitRecord>> all() throws IOException {
        List<java.util.Map.Entry<AddonId, UnitRecord>> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(f -> f.getFileName().toString().endsWith(".json")).sorted().toList()) {
                String name = p.getFileName().toString();
                String id = name.substring(0, name.length() - ".json".length());
                if (AddonId.isValid(id)) {
                    AddonId addon = new AddonId(id);
                    load(addon).ifPresent(r -> out.add(java.util.Map.entry(addon, r)));
                }
            }
        }
        return out;
    }
}
