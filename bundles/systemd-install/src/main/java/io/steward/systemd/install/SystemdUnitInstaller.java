package io.steward.systemd.install;

import io.steward.privileged.UnitInstallRequest;
import io.steward.privileged.UnitInstallation;
import io.steward.privileged.UnitInstaller;
import io.steward.systemd.install.UnitDirectory.Change;
import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.ActiveState;
import io.steward.systemd.JobOutcome;
import io.steward.systemd.JobResult;
import io.steward.systemd.SystemdException;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.UnitState;
import io.steward.systemd.unitfile.LoadedUnitCheck;
import io.steward.systemd.unitfile.RootOwnedPaths;
import io.steward.systemd.unitfile.UnitPolicy;
import io.steward.systemd.unitfile.UnitPolicy.CheckedUnit;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A root agent's {@link UnitInstaller}: it writes into the unit directory and the privileged root of
 * {@link HostLayout} and drives systemd through {@link SystemdManager}; every request passes {@link UnitPolicy}
 * first. Calls for one add-on are serialized; different add-ons may proceed concurrently.
 * <p>
 * Not final: {@code io.steward.systemd.dbus}'s DS component {@code LocalUnitInstaller} is this class, registered
 * only when the agent runs as root; the root updater, tests and benchmarks use it as it is.
 */
public class SystemdUnitInstaller implements UnitInstaller {
    private static final Logger LOG = LoggerFactory.getLogger(SystemdUnitInstaller.class);

    private final SystemdManager systemd;
    private final HostLayout layout;
    private final StartConfirmation confirmation;
    private final UnitDirectory unitDirectory;
    /** Every link an install may have created: the allowlisted targets' {@code .wants} and {@code .requires}. */
    private static final List<UnitLinks.InstallLink> ALL_LINKS = UnitPolicy.installTargets().stream()
            .flatMap(t -> java.util.stream.Stream.of(new UnitLinks.InstallLink(t, "wants"),
                    new UnitLinks.InstallLink(t, "requires"))).toList();
    /** One lock per {@link UnitPolicy#claimKey}: add-ons that could claim one unit name never install at once. */
    private final Map<String, Object> locks = new ConcurrentHashMap<>();
    /** Who installed which unit; empty when the caller keeps that ledger itself (the root updater). */
    private final Optional<UnitOwners> owners;
    private final UnitClaims claims;
    /** The agent's user and group names and numbers, which no unit may run as (empty for a root agent). */
    private final Set<String> agentIdentities;
    /** Installs of different add-ons run at once; their links share the targets' .wants directories. */
    private final Object linkLock = new Object();
    private final InstallRollback rollback;
    /** Off only in the systemd benchmark, to measure what the read-back costs. */
    private boolean checkLoaded = true;

    /** For bench/systemd-bench.sh only: the same installer without the read-back of what systemd loaded. */
    static SystemdUnitInstaller withoutLoadedCheck(SystemdManager systemd, HostLayout layout, Duration confirm) {
        SystemdUnitInstaller installer = new SystemdUnitInstaller(systemd, layout, confirm);
        installer.checkLoaded = false;
        return installer;
    }

    private static Path ownersFile(HostLayout layout) {
        return layout.state().resolve("unit-owners");
    }

    /** A root agent's installer, with its own record of unit owners. */
    public SystemdUnitInstaller(SystemdManager systemd, HostLayout layout, Duration confirm) {
        this(systemd, layout, confirm, Optional.of(new UnitOwners(ownersFile(layout))), Set.of());
    }

    /**
     * For the root updater, which keeps its own ledger of unit owners and names the agent's identities, which no
     * unit may run as.
     */
    public SystemdUnitInstaller(SystemdManager systemd, HostLayout layout, Duration confirm,
                                Set<String> agentIdentities) {
        this(systemd, layout, confirm, Optional.empty(), agentIdentities);
    }

    private SystemdUnitInstaller(SystemdManager systemd, HostLayout layout, Duration confirm,
                                 Optional<UnitOwners> owners, Set<String> agentIdentities) {
        this.systemd = Objects.requireNonNull(systemd, "systemd");
        this.layout = Objects.requireNonNull(layout, "layout");
        this.owners = owners;
        this.claims = new UnitClaims(owners, this.layout.unitDir());
        this.agentIdentities = Set.copyOf(agentIdentities);
        if (confirm.isNegative()) {
            throw new IllegalArgumentException("confirm.millis must not be negative: " + confirm.toMillis());
        }
        this.confirmation = new StartConfirmation(systemd, confirm);
        this.unitDirectory = new UnitDirectory(this.layout.unitDir());
        this.rollback = new InstallRollback(systemd, unitDirectory, linkLock);
    }

    private Object lockFor(AddonId id) {
        return locks.computeIfAbsent(UnitPolicy.claimKey(id), k -> new Object());
    }

    // ---- install ----------------------------------------------------------------------------------

    @Override
    public UnitInstallation install(UnitInstallRequest request) throws SupervisionException {
        synchronized (lockFor(request.id())) {
            return installLocked(request);
        }
    }

    private UnitInstallation installLocked(UnitInstallRequest r) throws SupervisionException {
        AddonId id = r.id();
        // 1. read and check everything before any host write; what is written is the policy's canonical text
        PrivilegedTree tree = new PrivilegedTree(layout.privilegedRoot(), id.value());
        Optional<Path> previousTarget;
        String digest;
        Path version;
        Map<String, byte[]> shipped = new LinkedHashMap<>();
        for (String unit : r.units()) {
            UnitPolicy.checkName(id, unit);
        }
        try {
            previousTarget = tree.currentTarget();
            digest = PrivilegedTree.digest(r.source());
            version = tree.versionFor(r.source(), digest);
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read the host state for"
                    + " the unit install: " + e.getMessage(), e);
        }
        for (String unit : r.units()) {
            shipped.put(unit, UnitDirectory.readUnit(id, r.source(), unit));
        }
        UnitPolicy.Context context = new UnitPolicy.Context(id, layout, version, Set.copyOf(r.units()),
                agentIdentities, new RootOwnedPaths(List.of(layout.data())));
        Map<String, CheckedUnit> checked = UnitPolicy.check(context, shipped, r.primary());
        Set<String> ownedBefore = claims.claim(id, r.units());
        String service = checked.get(r.primary()).triggers().orElse(r.primary());
        Path dropInDir = layout.unitDir().resolve(service + ".d");
        Optional<String> dropIn = UnitPolicy.resourcesDropIn(r.resources());

        List<Change> changes = new ArrayList<>();
        UnitState before;
        try {
            for (CheckedUnit u : checked.values()) {
                Path file = layout.unitDir().resolve(u.name());
                changes.add(new Change(file, UnitDirectory.read(file), Optional.of(u.canonical().getBytes(StandardCharsets.UTF_8))));
            }
            Path dropInFile = dropInDir.resolve(UnitPolicy.RESOURCES_DROP_IN);
            changes.add(new Change(dropInFile, UnitDirectory.read(dropInFile), dropIn.map(s -> s.getBytes(StandardCharsets.UTF_8))));
        } catch (IOException e) {
            claims.release(id, ownedBefore, r.units());
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read the host state for"
                    + " the unit install: " + e.getMessage(), e);
        }
        List<String> touched = new ArrayList<>(r.units());
        if (!touched.contains(service)) {
            touched.add(service);
        }
        List<String> loadedBefore = new ArrayList<>();   // units whose files systemd may hold stale copies of
        try {
            Optional<UnitState> held = systemd.loadedUnit(r.primary());
            if (held.isPresent()) {
                loadedBefore.add(r.primary());
                before = held.get();
            } else if (Files.exists(layout.unitDir().resolve(r.primary()), LinkOption.NOFOLLOW_LINKS)) {
                before = systemd.unit(r.primary());      // a file systemd does not hold: is it enabled?
                loadedBefore.add(r.primary());
            } else {
                before = null;                           // a first install: nothing to read
            }
        } catch (SystemdException e) {
            claims.release(id, ownedBefore, r.units());
            throw transientFailure(id, "reading " + r.primary(), e);
        }
        boolean treeCurrent = previousTarget.isPresent() && previousTarget.get().equals(version)
                && uncheckedHolds(tree, version, digest);
        List<Change> toWrite = changes.stream().filter(Change::differs).toList();
        List<UnitLinks.InstallLink> links = checked.get(r.primary()).links().stream()
                .map(l -> new UnitLinks.InstallLink(l.target(), l.kind())).toList();
        boolean wasEnabled = before != null && (links.isEmpty() || before.enabled());
        boolean wasActive = before != null && before.active();
        if (toWrite.isEmpty() && treeCurrent && wasEnabled && StartConfirmation.healthy(before) && !r.restart()
                && !before.needDaemonReload()) {
            return new UnitInstallation(r.units(), List.of(), false, false, "none", before.describe());
        }
        try {
            for (String u : touched) {
                if (!u.equals(r.primary()) && systemd.loadedUnit(u).isPresent()) {
                    loadedBefore.add(u);
                }
            }
        } catch (SystemdException e) {
            claims.release(id, ownedBefore, r.units());
            throw transientFailure(id, "reading " + touched, e);
        }

        // 2. write, then make systemd see it; any failure restores the snapshot
        boolean reloaded = false;
        boolean enabled = false;
        String action = "none";
        boolean treeMoved = false;
        boolean versionCreated = !Files.exists(version, LinkOption.NOFOLLOW_LINKS);
        List<String> written = new ArrayList<>();
        UnitLinks.Created created = null;
        try {
            if (!treeCurrent) {
                tree.materialise(r.source(), version, digest);
                tree.point(Optional.of(version));
                treeMoved = true;
            }
            for (Change c : toWrite) {
                unitDirectory.apply(c);
                written.add(layout.unitDir().relativize(c.path()).toString());
            }
            // a unit systemd never loaded is read fresh on first use; only stale copies need the one reload
            for (UnitState s : systemd.units(loadedBefore)) {
                if (s.needDaemonReload()) {
                    systemd.reload();     // once: every file of the request is already written
                    reloaded = true;
                    break;
                }
            }
            // what systemd loaded must pass the same rules, before anything is linked or started
            for (String unit : checkLoaded ? r.units() : List.<String>of()) {
                LoadedUnitCheck.check(context, unit, systemd.loaded(unit));
            }
            synchronized (linkLock) {
                created = UnitLinks.create(layout.unitDir(), r.primary(), links);     // never EnableUnitFiles
            }
            enabled = !created.links().isEmpty();
            UnitState now = reloaded ? systemd.unit(r.primary()) : before;     // null on a first install
            boolean nowActive = now != null && now.active();
            JobResult job;
            boolean newBits = !toWrite.isEmpty() || !treeCurrent || r.restart();
            if (r.primary().endsWith(".timer") && newBits && !loadedBefore.isEmpty()) {
                systemd.resetFailed(service);     // the old version's failure is not the new one's
            }
            if (nowActive && newBits) {
                action = "restart";
                job = systemd.restart(r.primary(), r.jobTimeout());
            } else if (!nowActive || !StartConfirmation.healthy(now)) {
                action = "start";
                if (now != null && now.activeState() == ActiveState.FAILED) {
                    systemd.resetFailed(r.primary());
                }
                job = systemd.start(r.primary(), r.jobTimeout());
            } else {
                job = new JobResult(r.primary(), "", JobOutcome.NONE, now);
            }
            UnitState confirmed = confirmation.confirm(id, r.primary(), job);
            LOG.info("Add-on {}: {} installed ({} file(s) written{}{}), {} {}", id, r.units(), written.size(),
                    reloaded ? ", reloaded" : "", enabled ? ", enabled" : "", action, confirmed.describe());
            return new UnitInstallation(r.units(), written, reloaded, enabled, action, confirmed.describe());
        } catch (SystemdException | IOException | SupervisionException | RuntimeException e) {
            rollback.restore(r, changes, tree, treeMoved, previousTarget, versionCreated ? Optional.of(version)
                    : Optional.empty(), created, wasActive);
            claims.release(id, ownedBefore, r.units());
            if (e instanceof SupervisionException se) {
                throw se;
            }
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": installing " + r.primary()
                    + " failed and the previous units were restored: " + e.getMessage(), e);
        }
    }

    private static boolean uncheckedHolds(PrivilegedTree tree, Path version, String digest) {
        try {
            return tree.holds(version, digest);
        } catch (IOException e) {
            return false;
        }
    }

    // ---- uninstall --------------------------------------------------------------------------------

    @Override
    public void uninstall(AddonId id, List<String> units, boolean releaseTree) throws SupervisionException {
        for (String unit : units) {
            UnitPolicy.checkName(id, unit);     // one foreign name refuses the whole call
        }
        synchronized (lockFor(id)) {
            List<String> mine = claims.owned(id, units);
            List<String> ordered = new ArrayList<>(mine.stream().filter(u -> u.endsWith(".timer")).toList());
            mine.stream().filter(u -> !u.endsWith(".timer")).forEach(ordered::add);   // timers first
            Duration timeout = Duration.ofSeconds(90);
            try {
                boolean anyLoaded = false;
                for (String unit : ordered) {
                    UnitState s = systemd.unit(unit);
                    if (s.loaded() || s.activeState() != ActiveState.INACTIVE) {
                        anyLoaded = true;
                    }
                    if (s.activeState() != ActiveState.INACTIVE && s.activeState() != ActiveState.FAILED) {
                        systemd.stop(unit, timeout);
                    }
                }
                boolean deleted = false;
                for (String unit : ordered) {     // exactly Steward's own links: never DisableUnitFiles (Also=, Alias=)
                    synchronized (linkLock) {
                        deleted |= !UnitLinks.remove(layout.unitDir(), unit, ALL_LINKS).links().isEmpty();
                    }
                }
                for (String unit : ordered) {
                    deleted |= Files.deleteIfExists(layout.unitDir().resolve(unit));
                    Path dropIns = layout.unitDir().resolve(unit + ".d");
                    if (Files.exists(dropIns, LinkOption.NOFOLLOW_LINKS)) {
                        PrivilegedTree.deleteTree(dropIns);
                        deleted = true;
                    }
                }
                if (deleted || anyLoaded) {
                    systemd.reload();
                    for (String unit : ordered) {
                        systemd.resetFailed(unit);
                    }
                }
                if (owners.isPresent()) {
                    Set<String> left = new TreeSet<>(owners.get().units(id));
                    left.removeAll(ordered);
                    owners.get().put(id, left);
                }
                if (releaseTree) {
                    new PrivilegedTree(layout.privilegedRoot(), id.value()).deleteAll();
                }
                LOG.info("Add-on {}: units {} removed", id, ordered);
            } catch (SystemdException e) {
                throw transientFailure(id, "removing " + ordered, e);
            } catch (IOException e) {
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": removing " + ordered
                        + " failed: " + e.getMessage(), e);
            }
        }
    }

    // ---- files --------------------------------------------------------------------------------------

    private static SupervisionException transientFailure(AddonId id, String step, SystemdException e) {
        return new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + step + " failed: "
                + e.getMessage(), e);
    }
}
