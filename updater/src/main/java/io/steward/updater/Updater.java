package io.steward.updater;

import io.steward.delivery.StagedArtifact;
import io.steward.delivery.artifacts.ArtifactVerifier;
import io.steward.privileged.UnitInstallRequest;
import io.steward.privileged.UnitInstallation;
import io.steward.privileged.UnitInstaller;
import io.steward.privileged.capabilities.CapabilityGrant;
import io.steward.privileged.capabilities.LocalPrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.install.PrivilegedTree;
import io.steward.systemd.unitfile.UnitPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The updater's operations, each a method that validates every argument before it changes anything. The work
 * is the project's own code: {@link ArtifactVerifier} re-verifies the artifact the agent kept (digest,
 * signature against the updater's trust store, archive rules), {@link PrivilegedTree} holds the root-owned
 * copy ({@code <privileged-root>/<id>/versions/<sha256>} and {@code current}; {@link VerifiedCopies} makes, reuses,
 * keeps and undoes those copies), the transactional
 * {@link UnitInstaller} of {@code io.steward.systemd.dbus} installs units from that copy (never from the
 * agent's tree) with {@link UnitPolicy}'s checks, {@link CapabilityGrant} and
 * {@link LocalPrivilegedOperations} grant capabilities with {@code /usr/sbin/setcap}. The {@link Ledger}
 * records which units the updater installed for which add-on, their digests and the highest version installed.
 * <p>
 * Every operation is bound to the signed manifest of the verified copy ({@link ManifestBinding},
 * {@link CapabilityGrant#bound}), checks the signature before a byte of the artifact is read, refuses a version
 * older than the ledger's highest unless the operator passed {@code --allow-rollback ID}, and never overwrites or
 * deletes a unit file the updater did not write or that was changed since ({@link UnitFiles}).
 * <p>
 * Operations on one add-on are serialized (a lock per id); different add-ons proceed concurrently.
 */
final class Updater {
    private static final Logger LOG = LoggerFactory.getLogger(Updater.class);
    private static final int MAX_UNITS = 64;
    private static final Duration MAX_JOB_TIMEOUT = Duration.ofMinutes(10);

    /** The artifact a request names: validated in the constructor (a bad value is an invalid argument). */
    record Artifact(AddonId id, String version, String sha256, String signature, Optional<String> key) {
        Artifact {
            Objects.requireNonNull(id, "id");
            if (!io.steward.supervision.Versions.isValid(version)) {
                throw new IllegalArgumentException("version \"" + printable(version) + "\" is not a valid version");
            }
            if (sha256 == null || !sha256.matches("[0-9a-f]{64}")) {
                throw new IllegalArgumentException("sha256 \"" + printable(sha256) + "\" is not 64 lower-case hex digits");
            }
            if (signature == null || signature.length() > 256 || !signature.matches("[A-Za-z0-9+/=]*")) {
                throw new IllegalArgumentException("signature is not base64 of at most 256 characters");
            }
            if (key.isPresent() && !key.get().matches("[A-Za-z0-9._-]{1,128}")) {
                throw new IllegalArgumentException("key \"" + printable(key.get()) + "\" is not a key id");
            }
        }
    }

    /** What an uninstall did. */
    record Uninstalled(List<String> removed, List<String> skipped, boolean treeReleased) {
    }

    private final UpdaterConfig config;
    private final UnitInstaller installer;
    private final Ledger ledger;
    private final UnitFiles units;
    private final LocalPrivilegedOperations capabilities;
    private final ConcurrentHashMap<String, ReentrantLock> locks = new ConcurrentHashMap<>();
    private final VerifiedCopies copies;

    Updater(UpdaterConfig config, UnitInstaller installer, StagingArea staging, Ledger ledger) {
        this.config = config;
        this.installer = installer;
        this.ledger = ledger;
        this.copies = new VerifiedCopies(config, staging);
        this.capabilities = new LocalPrivilegedOperations(OptionalLong.of(config.agentGid()));
        this.units = new UnitFiles(config.unitDir());
    }

    Ledger ledger() {
        return ledger;
    }

    // ---- materialize -------------------------------------------------------------------------------------

    /** Re-verifies and extracts the artifact into the root-owned tree and points {@code current} at it. */
    Path materialize(Artifact a) throws SupervisionException {
        return locked(a.id(), () -> {
            refuseWhileUnitsInstalled(a.id(), "materialize");
            refuseRollback(a, "materialize");
            PrivilegedTree tree = new PrivilegedTree(config.privilegedRoot(), a.id().value());
            Optional<Path> previous = VerifiedCopies.currentTarget(a.id(), tree);
            Path version = copies.verifiedCopy(a).directory();
            VerifiedCopies.point(a.id(), tree, version);
            copies.retain(a.id(), tree, version, previous);
            raiseFloor(a);
            return version;
        });
    }

    // ---- units ---------------------------------------------------------------------------------------------

    /**
     * Installs the request's units from the updater's verified copy, transactionally (the in-process
     * installer's snapshot and restore). Names are checked before anything is read or written; the units are
     * recorded in the ledger before the first write; a failure leaves the tree, the units and the ledger as
     * they were.
     */
    UnitInstallation installUnits(Artifact a, List<String> units, String primary, Resources resources, boolean restart,
                                  Duration jobTimeout) throws SupervisionException, Refusal {
        AddonId id = a.id();
        if (units.isEmpty() || units.size() > MAX_UNITS || new LinkedHashSet<>(units).size() != units.size()) {
            throw Refusal.invalid("units must be 1 to " + MAX_UNITS + " distinct names");
        }
        for (String u : units) {
            UnitPolicy.checkName(id, u);
        }
        if (!units.contains(primary)) {
            throw Refusal.invalid("primary unit \"" + printable(primary) + "\" is not among the units");
        }
        if (jobTimeout.isNegative() || jobTimeout.isZero() || jobTimeout.compareTo(MAX_JOB_TIMEOUT) > 0) {
            throw Refusal.invalid("job_timeout_ms must be between 1 and " + MAX_JOB_TIMEOUT.toMillis());
        }
        return locked(id, () -> {
            for (String u : units) {
                Optional<String> owner = ledger.owner(u);
                if (owner.isPresent() && !owner.get().equals(id.value())) {
                    throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": unit install refused: "
                            + u + " belongs to add-on " + owner.get());
                }
            }
            refuseRollback(a, "install_units");
            this.units.checkOverwrite(id, ledger.entry(id), units, "install_units");
            PrivilegedTree tree = new PrivilegedTree(config.privilegedRoot(), id.value());
            Path addonRoot = config.privilegedRoot().resolve(id.value());
            boolean rootExisted = Files.exists(addonRoot, LinkOption.NOFOLLOW_LINKS);
            Path versionDir = addonRoot.resolve("versions").resolve(a.sha256());
            boolean versionExisted = Files.exists(versionDir, LinkOption.NOFOLLOW_LINKS);
            Optional<Path> previous = VerifiedCopies.currentTarget(id, tree);
            Set<String> before = ledger.units(id);
            Path source;
            try {
                StagedArtifact copy = copies.verifiedCopy(a);
                ManifestBinding.units(id, copy.manifest(), units);
                source = copy.directory();
            } catch (SupervisionException e) {
                copies.undoCopy(id, tree, addonRoot, rootExisted, versionDir, versionExisted);
                throw e;
            }
            Set<String> intent = new TreeSet<>(before);
            intent.addAll(units);
            Ledger.Entry was = ledger.entry(id);
            // recorded before the first write, without the digests of the units about to be rewritten: an updater
            // killed mid-install finds its own half-done write trusted, not refused as changed by someone else
            record(id, was.withUnits(intent).withoutDigests(units));
            UnitInstallation done;
            try {
                done = installer.install(new UnitInstallRequest(id, source, units, primary, resources, restart,
                        jobTimeout));
            } catch (SupervisionException | RuntimeException e) {
                // the installer restored the units and current; the ledger and the tree say again what is there
                Set<String> after = new TreeSet<>(before);
                units.stream().filter(u -> Files.exists(config.unitDir().resolve(u), LinkOption.NOFOLLOW_LINKS))
                        .forEach(after::add);
                record(id, was.withUnits(after));       // the restored bytes are those recorded before
                copies.undoCopy(id, tree, addonRoot, rootExisted, versionDir, versionExisted);
                throw e;
            }
            copies.retain(id, tree, source, previous);
            // what the updater wrote, to recognise a later change by others; the version as the add-on's floor
            record(id, ledger.entry(id).withDigests(this.units.digests(id, units)).raised(a.version()));
            return done;
        });
    }

    /**
     * Stops, disables and deletes the named units, but only those this updater installed for the add-on (the
     * others are reported as skipped); a name outside the convention refuses the whole call. The root-owned copy
     * is deleted with {@code releaseTree} once no unit of the add-on is left.
     */
    Uninstalled uninstallUnits(AddonId id, List<String> units, boolean releaseTree) throws SupervisionException, Refusal {
        if (units.size() > MAX_UNITS) {
            throw Refusal.invalid("at most " + MAX_UNITS + " units");
        }
        for (String u : units) {
            UnitPolicy.checkName(id, u);     // one foreign name refuses the whole call
        }
        return locked(id, () -> {
            Set<String> installed = ledger.units(id);
            List<String> owned = units.stream().filter(installed::contains).distinct().toList();
            List<String> skipped = units.stream().filter(u -> !installed.contains(u)).distinct().toList();
            this.units.checkUnchanged(id, ledger.entry(id), owned, "uninstall_units");
            if (!owned.isEmpty()) {
                installer.uninstall(id, owned, false);
            }
            Set<String> left = new TreeSet<>(installed);
            owned.forEach(left::remove);
            record(id, left);
            boolean released = false;
            if (releaseTree && left.isEmpty()) {
                released = copies.deleteTree(id);
            }
            if (!skipped.isEmpty()) {
                LOG.warn("Add-on {}: not removing {}: this updater did not install them", id, skipped);
            }
            return new Uninstalled(owned, skipped, released);
        });
    }

    // ---- capabilities and release -------------------------------------------------------------------------------

    /**
     * Grants capabilities (the allowlist) to the program inside the verified, root-owned copy and points
     * {@code current} at that copy; returns the program's path. Refused for an add-on with installed units.
     */
    Path grantCapabilities(Artifact a, String binary, List<String> requested) throws SupervisionException {
        AddonId id = a.id();
        List<String> caps = CapabilityGrant.capabilities(id, requested);      // before anything is read
        if (binary == null || binary.isEmpty() || binary.length() > 4096) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": capabilities refused: no binary");
        }
        return locked(id, () -> {
            refuseWhileUnitsInstalled(id, "grant_capabilities");
            refuseRollback(a, "grant_capabilities");
            PrivilegedTree tree = new PrivilegedTree(config.privilegedRoot(), id.value());
            Path addonRoot = config.privilegedRoot().resolve(id.value());
            boolean rootExisted = Files.exists(addonRoot, LinkOption.NOFOLLOW_LINKS);
            Path versionDir = addonRoot.resolve("versions").resolve(a.sha256());
            boolean versionExisted = Files.exists(versionDir, LinkOption.NOFOLLOW_LINKS);
            Optional<Path> previous = VerifiedCopies.currentTarget(id, tree);
            try {
                StagedArtifact copy = copies.verifiedCopy(a);
                Path program = capabilities.grantCapabilities(id, copy, binary, caps);
                VerifiedCopies.point(id, tree, copy.directory());
                copies.retain(id, tree, copy.directory(), previous);
                raiseFloor(a);
                return program;
            } catch (SupervisionException | RuntimeException e) {
                copies.undoCopy(id, tree, addonRoot, rootExisted, versionDir, versionExisted);
                throw e;
            }
        });
    }

    /** Deletes the add-on's root-owned copy; refused while the ledger lists units of it. True when one existed. */
    boolean release(AddonId id) throws SupervisionException {
        return locked(id, () -> {
            refuseWhileUnitsInstalled(id, "release");
            return copies.deleteTree(id);
        });
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private interface Work<T> {
        T run() throws SupervisionException, Refusal;
    }

    private <T> T locked(AddonId id, Work<T> work) throws SupervisionException {
        // per claim key, not per id: the unit-ownership check and the ledger update of two add-ons that could
        // claim the same unit name never interleave, whatever the agent sends at once
        ReentrantLock lock = locks.computeIfAbsent(UnitPolicy.claimKey(id), k -> new ReentrantLock());
        lock.lock();
        try {
            return work.run();
        } catch (Refusal r) {
            throw new SupervisionException(r.permanent() ? Disposition.PERMANENT : Disposition.TRANSIENT,
                    "add-on " + id + ": " + r.getMessage());
        } finally {
            lock.unlock();
        }
    }

    private void refuseWhileUnitsInstalled(AddonId id, String op) throws SupervisionException {
        Set<String> units = ledger.units(id);
        if (!units.isEmpty()) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": " + op + " refused: the updater "
                    + "installed units " + new TreeSet<>(units) + " for it; uninstall_units first");
        }
    }

    private void record(AddonId id, Set<String> units) throws SupervisionException {
        record(id, ledger.entry(id).withUnits(units));
    }

    private void record(AddonId id, Ledger.Entry entry) throws SupervisionException {
        try {
            ledger.put(id, entry);
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot write the updater's "
                    + "ledger: " + e.getMessage(), e);
        }
    }

    /**
     * Anti-rollback: refuses (PERMANENT) a version older than the highest an operation for the add-on succeeded
     * with, unless the operator allows it ({@code --allow-rollback ID}).
     */
    private void refuseRollback(Artifact a, String op) throws SupervisionException {
        Optional<String> highest = ledger.highest(a.id());
        if (highest.isPresent() && VersionOrder.compare(a.version(), highest.get()) < 0) {
            if (config.allowRollback().contains(a.id().value())) {
                LOG.warn("Add-on {}: {} of version {}, older than {}: allowed by --allow-rollback", a.id(), op,
                        a.version(), highest.get());
                return;
            }
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + a.id() + ": " + op + " refused: version "
                    + a.version() + " is older than " + highest.get() + ", which the updater installed before; an "
                    + "operator allows a rollback with --allow-rollback " + a.id() + " [rule: no rollback]");
        }
    }

    /** After a successful operation: the version becomes the add-on's floor when it is the highest yet. */
    private void raiseFloor(Artifact a) throws SupervisionException {
        record(a.id(), ledger.entry(a.id()).raised(a.version()));
    }

    static String printable(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(100).forEach(c -> b.appendCodePoint(Character.isISOControl(c) ? '?' : c));
        return b.toString();
    }
}
