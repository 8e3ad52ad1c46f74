package io.steward.updater;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.steward.privileged.client.internal.Protocol;
import io.steward.supervision.AddonId;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The updater's own, root-owned record of the units it installed per add-on ({@code <state>/units.json}). An
 * uninstall touches only units named here (and that follow the naming convention), and an install refuses a
 * unit another add-on holds. Units are recorded <em>before</em> they are written, so a crash leaves a superset
 * (an uninstall of a unit that is not there is harmless), never an installed unit nobody knows of. Written
 * canonically (sorted) and atomically: temp file, fsync, rename, directory fsync. Thread-safe.
 */
final class Ledger {
    static final String FILE = "units.json";

    private final Path file;
    private SortedMap<String, SortedSet<String>> units;

    private Ledger(Path file, SortedMap<String, SortedSet<String>> units) {
        this.file = file;
        this.units = units;
    }

    /** Reads the ledger, creating an empty one; a ledger that cannot be read stops the updater (never guess). */
    static Ledger open(Path state) throws IOException {
        Path file = state.resolve(FILE);
        SortedMap<String, SortedSet<String>> units = new TreeMap<>();
        try {
            JsonObject o = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
            for (Map.Entry<String, JsonElement> e : o.getAsJsonObject("addons").entrySet()) {
                if (!AddonId.isValid(e.getKey())) {
                    throw new IOException(file + ": \"" + e.getKey() + "\" is not an add-on id");
                }
                SortedSet<String> set = new TreeSet<>(Protocol.strings(e.getValue().getAsJsonObject(), "units"));
                if (!set.isEmpty()) {
                    units.put(e.getKey(), set);
                }
            }
        } catch (NoSuchFileException e) {
            Ledger fresh = new Ledger(file, units);
            fresh.write();
            return fresh;
        } catch (JsonParseException | IllegalStateException | ClassCastException | NullPointerException e) {
            throw new IOException(file + " is not a ledger of the updater: " + e.getMessage(), e);
        }
        return new Ledger(file, units);
    }

    /** The units recorded for {@code id}. */
    synchronized Set<String> units(AddonId id) {
        return Set.copyOf(units.getOrDefault(id.value(), new TreeSet<>()));
    }

    /** The add-on that holds {@code unit}, if any. */
    synchronized Optional<String> owner(String unit) {
        return units.entrySet().stream().filter(e -> e.getValue().contains(unit)).map(Map.Entry::getKey).findFirst();
    }

    /** Records exactly {@code recorded} for {@code id} (empty: the add-on has no unit left); no write if unchanged. */
    synchronized void put(AddonId id, Set<String> recorded) throws IOException {
        SortedMap<String, SortedSet<String>> next = new TreeMap<>(units);
        if (recorded.isEmpty()) {
            next.remove(id.value());
        } else {
            next.put(id.value(), new TreeSet<>(recorded));
        }
        if (next.equals(units)) {
            return;
        }
        SortedMap<String, SortedSet<String>> previous = units;
        units = next;
        try {
            write();
        } catch (IOException e) {
            units = previous;
            throw e;
        }
    }

    /** A copy of everything recorded (tests, diagnostics). */
    synchronized SortedMap<String, SortedSet<String>> all() {
        SortedMap<String, SortedSet<String>> copy = new TreeMap<>();
        units.forEach((k, v) -> copy.put(k, new TreeSet<>(v)));
        return copy;
    }

    private void write() throws IOException {
        JsonObject addons = new JsonObject();
        for (Map.Entry<String, SortedSet<String>> e : units.entrySet()) {
            JsonObject entry = new JsonObject();
            JsonArray list = new JsonArray();
            e.getValue().forEach(list::add);
            entry.add("units", list);
            addons.add(e.getKey(), entry);
        }
        JsonObject root = new JsonObject();
        root.addProperty("version", 1);
        root.add("addons", addons);
        byte[] bytes = (Protocol.line(root) + "\n").getBytes(StandardCharsets.UTF_8);
        Path tmp = file.resolveSibling("." + FILE + ".tmp");
        Files.deleteIfExists(tmp);
        try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException e) {
            // a file system that refuses fsync on a directory: the rename is still atomic
        }
    }
}
