package io.steward.updater;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.steward.privileged.protocol.Protocol;
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
import java.util.Collection;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The updater's own, root-owned record per add-on ({@code <state>/units.json}): the units it installed, the
 * SHA-256 of each unit file as it wrote it, and the highest version it installed (anti-rollback). An uninstall
 * touches only units named here (and that follow the naming convention), an install refuses a unit another
 * add-on holds, a unit file the ledger does not list, and one whose bytes are no longer what the updater wrote.
 * Units are recorded <em>before</em> they are written, so a crash leaves a superset (an uninstall of a unit that
 * is not there is harmless), never an installed unit nobody knows of; digests and the highest version only after
 * an operation succeeded. Written canonically (sorted) and atomically: temp file, fsync, rename, directory fsync.
 * Thread-safe.
 */
final class Ledger {
    static final String FILE = "units.json";

    /**
     * What the ledger holds for one add-on.
     *
     * @param units   the units the updater installed (or is installing)
     * @param digests unit name → SHA-256 (hex) of the file the updater wrote; only for names in {@code units}
     * @param highest the highest version an operation succeeded with ({@link VersionOrder})
     */
    record Entry(SortedSet<String> units, SortedMap<String, String> digests, Optional<String> highest) {
        static final Entry EMPTY = new Entry(new TreeSet<>(), new TreeMap<>(), Optional.empty());

        Entry {
            units = Collections.unmodifiableSortedSet(new TreeSet<>(units));
            SortedMap<String, String> kept = new TreeMap<>(digests);
            kept.keySet().retainAll(units);
            digests = Collections.unmodifiableSortedMap(kept);
        }

        boolean isEmpty() {
            return units.isEmpty() && highest.isEmpty();
        }

        /** These units; the digests of those that stay are kept. */
        Entry withUnits(Set<String> next) {
            return new Entry(new TreeSet<>(next), digests, highest);
        }

        /** The digests of units just written (added to, or replacing, those recorded). */
        Entry withDigests(Map<String, String> written) {
            SortedMap<String, String> next = new TreeMap<>(digests);
            next.putAll(written);
            return new Entry(units, next, highest);
        }

        /** Without the digests of {@code rewriting}: units about to be written again, trusted until they are. */
        Entry withoutDigests(Collection<String> rewriting) {
            SortedMap<String, String> next = new TreeMap<>(digests);
            next.keySet().removeAll(rewriting);
            return new Entry(units, next, highest);
        }

        /** {@code version} as the highest when it is higher than the one recorded (or none is). */
        Entry raised(String version) {
            if (highest.isPresent() && VersionOrder.compare(version, highest.get()) <= 0) {
                return this;
            }
            return new Entry(units, digests, Optional.of(version));
        }
    }

    private final Path file;
    private SortedMap<String, Entry> entries;

    private Ledger(Path file, SortedMap<String, Entry> entries) {
        this.file = file;
        this.entries = entries;
    }

    /** Reads the ledger, creating an empty one; a ledger that cannot be read stops the updater (never guess). */
    static Ledger open(Path state) throws IOException {
        Path file = state.resolve(FILE);
        SortedMap<String, Entry> entries = new TreeMap<>();
        try {
            JsonObject o = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
            for (Map.Entry<String, JsonElement> e : o.getAsJsonObject("addons").entrySet()) {
                if (!AddonId.isValid(e.getKey())) {
                    throw new IOException(file + ": \"" + e.getKey() + "\" is not an add-on id");
                }
                JsonObject a = e.getValue().getAsJsonObject();
                SortedSet<String> units = new TreeSet<>(Protocol.strings(a, "units"));
                SortedMap<String, String> digests = new TreeMap<>();
                if (a.has("sha256")) {
                    for (Map.Entry<String, JsonElement> d : a.getAsJsonObject("sha256").entrySet()) {
                        String hex = d.getValue().getAsString();
                        if (!hex.matches("[0-9a-f]{64}")) {
                            throw new IOException(file + ": the sha256 of " + d.getKey() + " is not 64 hex digits");
                        }
                        digests.put(d.getKey(), hex);
                    }
                }
                Optional<String> highest = a.has("highest") ? Optional.of(a.get("highest").getAsString())
                        : Optional.empty();
                Entry entry = new Entry(units, digests, highest);
                if (!entry.isEmpty()) {
                    entries.put(e.getKey(), entry);
                }
            }
        } catch (NoSuchFileException e) {
            Ledger fresh = new Ledger(file, entries);
            fresh.write();
            return fresh;
        } catch (JsonParseException | IllegalStateException | ClassCastException | NullPointerException
                 | UnsupportedOperationException e) {
            throw new IOException(file + " is not a ledger of the updater: " + e.getMessage(), e);
        }
        return new Ledger(file, entries);
    }

    /** Everything recorded for {@code id} (empty when nothing is). */
    synchronized Entry entry(AddonId id) {
        return entries.getOrDefault(id.value(), Entry.EMPTY);
    }

    /** The units recorded for {@code id}. */
    synchronized Set<String> units(AddonId id) {
        return entry(id).units();
    }

    /** The highest version an operation for {@code id} succeeded with. */
    synchronized Optional<String> highest(AddonId id) {
        return entry(id).highest();
    }

    /** The add-on that holds {@code unit}, if any. */
    synchronized Optional<String> owner(String unit) {
        return entries.entrySet().stream().filter(e -> e.getValue().units().contains(unit)).map(Map.Entry::getKey)
                .findFirst();
    }

    /** Records exactly {@code recorded} units for {@code id}, keeping the digests of those that stay. */
    synchronized void put(AddonId id, Set<String> recorded) throws IOException {
        put(id, entry(id).withUnits(recorded));
    }

    /** Records {@code next} for {@code id} (an empty entry removes it); no write if unchanged. */
    synchronized void put(AddonId id, Entry next) throws IOException {
        SortedMap<String, Entry> after = new TreeMap<>(entries);
        if (next.isEmpty()) {
            after.remove(id.value());
        } else {
            after.put(id.value(), next);
        }
        if (after.equals(entries)) {
            return;
        }
        SortedMap<String, Entry> previous = entries;
        entries = after;
        try {
            write();
        } catch (IOException e) {
            entries = previous;
            throw e;
        }
    }

    /**
     * Every unit file the updater wrote and still holds, with the SHA-256 of what it wrote (unit name → hex);
     * a unit recorded without a digest (its install never finished) is not in it.
     */
    synchronized SortedMap<String, String> written() {
        SortedMap<String, String> all = new TreeMap<>();
        entries.values().forEach(e -> all.putAll(e.digests()));
        return all;
    }

    /** A copy of the units recorded (tests, diagnostics). */
    synchronized SortedMap<String, SortedSet<String>> all() {
        SortedMap<String, SortedSet<String>> copy = new TreeMap<>();
        entries.forEach((k, v) -> {
            if (!v.units().isEmpty()) {
                copy.put(k, new TreeSet<>(v.units()));
            }
        });
        return copy;
    }

    private void write() throws IOException {
        JsonObject addons = new JsonObject();
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            JsonObject entry = new JsonObject();
            JsonArray list = new JsonArray();
            e.getValue().units().forEach(list::add);
            entry.add("units", list);
            if (!e.getValue().digests().isEmpty()) {
                JsonObject digests = new JsonObject();
                e.getValue().digests().forEach(digests::addProperty);
                entry.add("sha256", digests);
            }
            e.getValue().highest().ifPresent(v -> entry.addProperty("highest", v));
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
