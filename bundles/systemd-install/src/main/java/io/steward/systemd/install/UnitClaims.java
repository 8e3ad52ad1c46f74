package io.steward.systemd.install;

import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which add-on may install or remove which unit, by the installer's record of unit owners ({@link UnitOwners}):
 * claims the units of a request before anything is written, gives back the claim of a failed install, and picks
 * the units of an uninstall that the add-on owns. Every call is a no-op that allows everything when the caller
 * keeps its own ledger (the root updater). {@link SystemdUnitInstaller} serializes the calls for one add-on.
 */
final class UnitClaims {
    // the installer's log lines keep the logger name they had before this class was split out
    private static final Logger LOG = LoggerFactory.getLogger(SystemdUnitInstaller.class);

    private final Optional<UnitOwners> owners;
    private final Path unitDir;

    UnitClaims(Optional<UnitOwners> owners, Path unitDir) {
        this.owners = owners;
        this.unitDir = unitDir;
    }

    /**
     * Refuses units another add-on holds and unit files nobody recorded (Steward never overwrites a unit it did not
     * write), then records the request's units for {@code id} before anything is written. Returns what was recorded
     * before; a no-op when the caller keeps the ledger (the updater).
     */
    Set<String> claim(AddonId id, List<String> units) throws SupervisionException {
        if (owners.isEmpty()) {
            return Set.of();
        }
        try {
            Set<String> mine = owners.get().units(id);
            for (String u : units) {
                Optional<String> owner = owners.get().owner(u);
                if (owner.isPresent() && !owner.get().equals(id.value())) {
                    throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": unit install refused: "
                            + u + " belongs to add-on " + owner.get() + " [rule: naming convention]");
                }
                if (!mine.contains(u) && Files.exists(unitDir.resolve(u), LinkOption.NOFOLLOW_LINKS)) {
                    throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": unit install refused: "
                            + u + " already exists in " + unitDir + " and Steward did not write it; Steward "
                            + "never overwrites a unit it did not install [rule: naming convention]");
                }
            }
            Set<String> intent = new TreeSet<>(mine);
            intent.addAll(units);
            owners.get().put(id, intent);
            return mine;
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read or write "
                    + "the record of unit owners: " + e.getMessage(), e);
        }
    }

    /** After a failed install: the record says again what is there. */
    void release(AddonId id, Set<String> before, List<String> units) {
        if (owners.isEmpty()) {
            return;
        }
        Set<String> after = new TreeSet<>(before);
        units.stream().filter(u -> Files.exists(unitDir.resolve(u), LinkOption.NOFOLLOW_LINKS))
                .forEach(after::add);
        try {
            owners.get().put(id, after);
        } catch (IOException e) {
            LOG.error("Add-on {}: cannot write the record of unit owners: {}", id, e.getMessage());
        }
    }

    /** The units of {@code units} this installer recorded for {@code id}; all of them when the caller keeps the ledger. */
    List<String> owned(AddonId id, List<String> units) throws SupervisionException {
        if (owners.isEmpty()) {
            return units;
        }
        try {
            Set<String> mine = owners.get().units(id);
            List<String> skipped = units.stream().filter(u -> !mine.contains(u)).toList();
            if (!skipped.isEmpty()) {
                LOG.warn("Add-on {}: not removing {}: Steward did not install them for it", id, skipped);
            }
            return units.stream().filter(mine::contains).distinct().toList();
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read the record of unit "
                    + "owners: " + e.getMessage(), e);
        }
    }
}
