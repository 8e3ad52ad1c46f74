package io.steward.systemd.units;

import io.steward.delivery.Activation;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.privileged.UnitInstallRequest;
import io.steward.privileged.UnitInstaller;
import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.SystemdException;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.UnitState;
import io.steward.systemd.unitfile.RootOwnedPaths;
import io.steward.systemd.unitfile.UnitPolicy;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the {@code systemd_service} and {@code systemd_timer} kinds share (each embeds a private copy of this
 * package). Host changes go through {@link UnitInstaller}; systemd is only read through
 * {@link SystemdManager}; the durable {@link UnitRecord} is rewritten before and after every host change.
 * Not thread-safe by itself: core calls a dispatcher from one thread, and the dispatchers synchronize.
 */
public final class UnitSupervisor {
    private static final Logger LOG = LoggerFactory.getLogger(UnitSupervisor.class);

    private final String kind;
    private final boolean timer;
    private final SystemdManager systemd;
    private final UnitInstaller installer;
    private final ArtifactStager stager;
    private final HostLayout layout;
    private final Duration jobTimeout;
    private final RecordStore records;
    private final AddonConfigFile configFile;
    private final UnitStatuses statuses;

    /**
     * @param kind {@code systemd_service} or {@code systemd_timer}
     */
    public UnitSupervisor(String kind, SystemdManager systemd, UnitInstaller installer, ArtifactStager stager,
                          HostLayout layout, Duration jobTimeout) {
        if (!kind.equals("systemd_service") && !kind.equals("systemd_timer")) {
            throw new IllegalArgumentException("not a systemd kind: " + kind);
        }
        this.kind = kind;
        this.timer = kind.equals("systemd_timer");
        this.systemd = systemd;
        this.installer = installer;
        this.stager = stager;
        this.layout = layout;
        this.jobTimeout = jobTimeout;
        this.records = new RecordStore(layout.state());
        this.configFile = new AddonConfigFile(layout, timer);
        this.statuses = new UnitStatuses(kind);
    }

    // ---- apply ------------------------------------------------------------------------------------

    /**
     * Core calls this for different add-ons at once. Two add-ons that could claim one unit name may both get past
     * {@link #checkOwnership}; the installer decides (it checks and records owners under one lock per claim key),
     * and the one it refuses rolls its record back.
     */
    public SupervisionStatus apply(AddonRecord addon) throws SupervisionException {
        Assignment a = addon.assignment();
        AddonId id = a.id();
        Optional<UnitRecord> record = load(id);
        String fp = fingerprint(a);
        if (record.isPresent() && record.get().pending().isEmpty() && record.get().stale().isEmpty()
                && record.get().fingerprint().equals(fp)
                && stager.current(id).map(s -> s.sha256().equals(record.get().sha256())).orElse(false)) {
            SupervisionStatus s = status(id);
            if (s.state() == SupervisionState.READY) {
                return s;     // converged: no host change, no mutating call
            }
        }

        StagedArtifact staged = stager.stage(addon);
        List<String> units = discover(id, staged);
        String primary = primary(id, units);
        checkOwnership(id, units);
        prevalidate(id, staged, units, primary);

        Path config = UnitPolicy.configFile(layout, id);
        Optional<byte[]> previousConfig = AddonConfigFile.readOptional(config);
        configFile.write(id, staged, a, config);
        Activation activation = stager.activate(addon, staged);
        UnitRecord before = record.orElse(null);
        List<String> known = before == null ? List.of() : before.all();
        LinkedHashSet<String> pending = new LinkedHashSet<>(units);
        save(id, new UnitRecord(kind, before == null ? a.version() : before.version(),
                before == null ? staged.sha256() : before.sha256(), before == null ? "" : before.fingerprint(),
                before == null ? primary : before.primary(), before == null ? List.of() : before.units(),
                List.copyOf(pending), before == null ? List.of() : before.stale(),
                before == null ? Map.of() : before.files()));
        boolean restart = before != null && !before.fingerprint().equals(fp);
        try {
            installer.install(new UnitInstallRequest(id, staged.directory(), units, primary, a.resources(), restart,
                    jobTimeout));
        } catch (SupervisionException e) {
            rollback(id, activation, config, previousConfig, before);
            throw e;
        } catch (RuntimeException e) {
            rollback(id, activation, config, previousConfig, before);
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": install failed: " + e, e);
        }

        List<String> stale = known.stream().filter(u -> !units.contains(u)).toList();
        save(id, new UnitRecord(kind, a.version(), staged.sha256(), fp, primary, units, List.of(), stale,
                hashes(units)));
        if (!stale.isEmpty()) {
            removeStale(id, stale);
        }
        try {
            activation.commit();
        } catch (SupervisionException | RuntimeException e) {
            LOG.warn("Add-on {}: version {} is up but keeping it failed: {}", id, a.version(), e.getMessage());
        }
        return status(id);
    }

    private void removeStale(AddonId id, List<String> stale) throws SupervisionException {
        try {
            installer.uninstall(id, stale, false);
            UnitRecord r = load(id).orElseThrow();
            save(id, new UnitRecord(r.kind(), r.version(), r.sha256(), r.fingerprint(), r.primary(), r.units(),
                    r.pending(), List.of(), r.files()));
            LOG.info("Add-on {}: units {} dropped by the update were removed", id, stale);
        } catch (SupervisionException e) {
            LOG.warn("Add-on {}: removing units {} dropped by the update failed (retried later): {}", id, stale,
                    e.getMessage());
        }
    }

    private void rollback(AddonId id, Activation activation, Path config, Optional<byte[]> previousConfig,
                          UnitRecord before) throws SupervisionException {
        try {
            activation.rollback();
        } catch (SupervisionException | RuntimeException e) {
            LOG.error("Add-on {}: rolling current back failed: {}", id, e.getMessage());
        }
        try {
            if (previousConfig.isPresent()) {
                AddonConfigFile.writeAtomically(config, previousConfig.get());
            } else {
                Files.deleteIfExists(config);
            }
        } catch (IOException e) {
            LOG.error("Add-on {}: restoring {} failed: {}", id, config, e.getMessage());
        }
        // the installer restored the host; the record says again what is there
        if (before == null) {
            delete(id);
        } else {
            save(id, before);
        }
    }

    // ---- adopt, remove --------------------------------------------------------------------------------

    /** Re-attaches: reads the record and systemd, changes nothing (a running unit keeps running). */
    public SupervisionStatus adopt(AddonRecord addon) throws SupervisionException {
        return status(addon.id());
    }

    public void remove(AddonId id) throws SupervisionException {
        Optional<UnitRecord> record = load(id);
        if (record.isPresent()) {
            UnitRecord r = record.get();
            save(id, new UnitRecord(r.kind(), r.version(), r.sha256(), r.fingerprint(), r.primary(), List.of(),
                    List.of(), r.all(), r.files()));     // everything is stale from here on
            installer.uninstall(id, r.all(), true);
        }
        stager.remove(id);
        try {
            Files.deleteIfExists(UnitPolicy.configFile(layout, id));
        } catch (IOException e) {
            LOG.warn("Add-on {}: cannot delete its config file: {}", id, e.getMessage());
        }
        delete(id);
    }

    // ---- status --------------------------------------------------------------------------------------

    public SupervisionStatus status(AddonId id) throws SupervisionException {
        Optional<UnitRecord> record = load(id);
        if (record.isEmpty()) {
            return SupervisionStatus.of(id, kind, SupervisionState.PENDING, Optional.empty(),
                    "no units installed by Steward");
        }
        UnitRecord r = record.get();
        Optional<String> version = Optional.of(r.version());
        if (!r.pending().isEmpty()) {
            return statuses.of(id, SupervisionState.FAILED, version, "an install of " + r.pending()
                    + " did not finish (the agent stopped); it is applied again");
        }
        for (String unit : r.units()) {
            Path file = layout.unitDir().resolve(unit);
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                return statuses.of(id, SupervisionState.PENDING, version, unit + " was deleted outside Steward");
            }
            String expected = r.files().get(unit);
            if (expected != null && !expected.equals(sha256(file))) {
                return statuses.of(id, SupervisionState.PENDING, version, unit + " was changed outside Steward");
            }
        }
        try {
            UnitState p = systemd.unit(r.primary());
            if (!p.loaded()) {
                return statuses.of(id, SupervisionState.PENDING, version, p.name() + " is not loaded (" + p.loadState() + ")");
            }
            if (!p.enabled() && !"static".equals(p.unitFileState())) {     // static: no [Install], nothing to link
                return statuses.of(id, SupervisionState.PENDING, version, p.name() + " is " + (p.unitFileState().isEmpty()
                        ? "not enabled" : p.unitFileState()) + " (changed outside Steward)");
            }
            return timer ? timerStatus(id, version, p) : statuses.service(id, version, p).withRestarts(p.restarts());
        } catch (SystemdException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": reading " + r.primary()
                    + " from systemd failed: " + e.getMessage(), e);
        }
    }

    private SupervisionStatus timerStatus(AddonId id, Optional<String> version, UnitState t) throws SystemdException {
        String target = t.triggers().isEmpty()
                ? t.name().substring(0, t.name().length() - ".timer".length()) + ".service" : t.triggers();
        UnitState svc = systemd.unit(target);
        return statuses.timer(id, version, t, svc).withRestarts(svc.restarts());
    }

    // ---- discovery and checks -------------------------------------------------------------------------

    /** The units of a staged artifact: exactly the signed manifest's {@code units} (other files are data). */
    List<String> discover(AddonId id, StagedArtifact staged) throws SupervisionException {
        Set<String> names = new TreeSet<>(staged.manifest().units());
        if (names.isEmpty()) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": the manifest lists no "
                    + "systemd unit (kind " + kind + " installs only the units addon.json names in \"units\")");
        }
        for (String n : names) {
            UnitPolicy.checkName(id, n);
            if (!Files.isRegularFile(staged.directory().resolve(n), LinkOption.NOFOLLOW_LINKS)) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": the manifest lists unit "
                        + n + ", which is not a file at the root of the artifact");
            }
        }
        return List.copyOf(names);
    }

    String primary(AddonId id, List<String> units) throws SupervisionException {
        String suffix = timer ? ".timer" : ".service";
        List<String> candidates = units.stream().filter(u -> u.endsWith(suffix)).toList();
        if (candidates.size() != 1) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": kind " + kind
                    + " needs exactly one " + suffix + " unit in the artifact, found " + candidates.size()
                    + (candidates.isEmpty() ? "" : " " + candidates));
        }
        return candidates.get(0);
    }

    private void checkOwnership(AddonId id, List<String> units) throws SupervisionException {
        try {
            for (Map.Entry<AddonId, UnitRecord> e : records.all()) {
                if (!e.getKey().equals(id)) {
                    for (String u : units) {
                        if (e.getValue().all().contains(u)) {
                            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": unit " + u
                                    + " belongs to add-on " + e.getKey());
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read the unit records: "
                    + e.getMessage(), e);
        }
    }

    /** The installer's own checks, run early so that a refused artifact changes nothing at all. */
    private void prevalidate(AddonId id, StagedArtifact staged, List<String> units, String primary)
            throws SupervisionException {
        Map<String, byte[]> shipped = new LinkedHashMap<>();
        for (String u : units) {
            try {
                shipped.put(u, Files.readAllBytes(staged.directory().resolve(u)));
            } catch (IOException e) {
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read unit " + u
                        + ": " + e.getMessage(), e);
            }
        }
        // the installer renders @ADDON_HOME@ as its verified copy; any path there judges the same
        Path home = layout.privilegedRoot().resolve(id.value()).resolve("versions").resolve(staged.sha256());
        UnitPolicy.check(new UnitPolicy.Context(id, layout, home, Set.copyOf(units), Set.of(), new RootOwnedPaths(List.of(layout.data()))),
                shipped, primary);
    }

    // ---- config, records, hashes ---------------------------------------------------------------------------

    static String fingerprint(Assignment a) {
        String text = String.join("\n", a.kind(), a.version(), a.artifact().map(ArtifactRef::sha256).orElse(""),
                a.configJson(), a.resources().toString(), a.binary().orElse(""), String.join("\u0000", a.args()),
                new java.util.TreeMap<>(a.env()).toString());
        return sha256(text.getBytes(StandardCharsets.UTF_8));
    }

    private Map<String, String> hashes(List<String> units) throws SupervisionException {
        Map<String, String> out = new LinkedHashMap<>();
        for (String u : units) {
            out.put(u, sha256(layout.unitDir().resolve(u)));
        }
        return out;
    }

    private static String sha256(Path file) {
        try {
            return sha256(Files.readAllBytes(file));
        } catch (IOException e) {
            return "";
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private Optional<UnitRecord> load(AddonId id) throws SupervisionException {
        try {
            return records.load(id);
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + e.getMessage(), e);
        }
    }

    private void save(AddonId id, UnitRecord r) throws SupervisionException {
        try {
            records.save(id, r);
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot write its unit record: "
                    + e.getMessage(), e);
        }
    }

    private void delete(AddonId id) throws SupervisionException {
        try {
            records.delete(id);
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot delete its unit record: "
                    + e.getMessage(), e);
        }
    }

    /** For tests and the benchmark: the record file of an add-on. */
    public Path recordFile(AddonId id) {
        return records.file(id);
    }

    /** Ids with a record, for diagnostics. */
    public List<AddonId> recorded() throws IOException {
        List<AddonId> ids = new ArrayList<>();
        records.all().forEach(e -> ids.add(e.getKey()));
        return ids;
    }
}
