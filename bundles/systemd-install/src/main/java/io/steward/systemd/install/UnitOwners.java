package io.steward.systemd.install;

import io.steward.supervision.AddonId;
import io.steward.files.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Which add-on installed which unit: the in-process installer's own record ({@code <data>/state/unit-owners},
 * root-owned when the agent is root), one {@code <unit> <id>} per line, rewritten atomically. An install refuses a
 * unit another add-on holds or a unit file that exists without being recorded here (Steward never overwrites a
 * unit it did not write); an uninstall removes only recorded units. Units are recorded before they are written, so
 * a crash leaves a superset. The root updater keeps its own ledger instead and does not use this class.
 */
public final class UnitOwners {
    private final Path file;

    public UnitOwners(Path file) {
        this.file = file;
    }

    /** The units recorded for {@code id}. */
    public synchronized Set<String> units(AddonId id) throws IOException {
        Set<String> out = new TreeSet<>();
        read().forEach((unit, owner) -> {
            if (owner.equals(id.value())) {
                out.add(unit);
            }
        });
        return out;
    }

    /** The add-on that holds {@code unit}, if any. */
    public synchronized Optional<String> owner(String unit) throws IOException {
        return Optional.ofNullable(read().get(unit));
    }

    /** Records exactly {@code units} for {@code id}. */
    public synchronized void put(AddonId id, Set<String> units) throws IOException {
        SortedMap<String, String> all = read();
        all.values().removeIf(owner -> owner.equals(id.value()));
        units.forEach(u -> all.put(u, id.value()));
        StringBuilder b = new StringBuilder();
        all.forEach((u, owner) -> b.append(u).append(' ').append(owner).append('\n'));
        AtomicFiles.replace(file, file.getFileName() + ".tmp").createDirectories()
                .write(b.toString().getBytes(StandardCharsets.UTF_8));
    }

    private SortedMap<String, String> read() throws IOException {
        SortedMap<String, String> all = new TreeMap<>();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                String[] parts = line.split(" ");
                if (parts.length != 2 || !AddonId.isValid(parts[1])) {
                    throw new IOException(file + " is not a record of unit owners (line \"" + line + "\")");
                }
                all.put(parts[0], parts[1]);
            }
        } catch (NoSuchFileException e) {
            return all;
        }
        return all;
    }

}
