package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.sidecar.internal.Preparer.Prepared;
import io.steward.supervision.sidecar.internal.Supervised.Phase;
import io.steward.supervision.sidecar.internal.Supervised.Running;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a supervised add-on to an assignment: nothing, a config reload and new limits (same pid), or a
 * replacement (stage, stop the old process, start the new, wait for readiness, commit) that is undone when it fails.
 * <p>
 * Threading: the calling operation's thread, which holds the add-on ({@link AddonTable#acquire}).
 */
final class Convergence {
    // the dispatcher's logger: log categories stay what they were before the dispatcher was split
    private static final Logger LOG = LoggerFactory.getLogger(SidecarDispatcher.class);

    /** The add-on as it was at one moment (before a replacement: what to return to when it fails). */
    private record Snapshot(Spec spec, Running run, Phase phase, String detail, long restartAt) {
        static Snapshot of(Supervised s) {
            synchronized (s) {
                return new Snapshot(s.spec, s.run, s.phase, s.detail, s.restartAtNanos);
            }
        }
    }

    private final Params defaults;
    private final AddonTable table;
    private final AddonFiles files;
    private final Preparer preparer;
    private final Launcher launcher;
    private final Readiness readiness;
    private final Recorder recorder;
    private final NotifySockets sockets;
    private final Cgroups cgroups;

    Convergence(Params defaults, AddonTable table, AddonFiles files, Preparer preparer, Launcher launcher,
                Readiness readiness, Recorder recorder, NotifySockets sockets, Cgroups cgroups) {
        this.defaults = defaults;
        this.table = table;
        this.files = files;
        this.preparer = preparer;
        this.launcher = launcher;
        this.readiness = readiness;
        this.recorder = recorder;
        this.sockets = sockets;
        this.cgroups = cgroups;
    }

    /** Brings the add-on to the record: nothing, a config reload, or a restart of the process. */
    void converge(Supervised s, AddonRecord record, boolean awaitStarting) throws SupervisionException {
        Assignment a = record.assignment();
        String fingerprint = Spec.fingerprint(a);
        Snapshot now = Snapshot.of(s);
        Spec spec = now.spec();
        Running run = now.run();
        Phase phase = now.phase();
        if (spec != null && run != null && spec.fingerprint().equals(fingerprint) && run.alive()
                && (phase == Phase.READY || phase == Phase.STARTING) && reconfigure(s, a, spec, run)) {
            if (phase == Phase.STARTING && awaitStarting) {
                readiness.awaitReady(s, run, spec);
            }
            return;
        }
        replace(s, record);
    }

    /**
     * Same command line: rewrites the config and sends the reload signal (same pid), adjusts the limits.
     *
     * @return false when the config changed and the manifest asks for a restart instead of a signal
     */
    private boolean reconfigure(Supervised s, Assignment a, Spec spec, Running run) throws SupervisionException {
        AddonId id = a.id();
        byte[] config = files.mergedConfig(id, spec.defaultConfig(), a);
        String hash = Files2.sha256(config);
        String action = null;
        if (!hash.equals(spec.configHash())) {
            String signal = spec.params().reloadSignal();
            if (signal.isEmpty()) {
                return false;
            }
            files.writeConfig(id, config);
            if (!Processes.signal(run.pid, signal)) {
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot send SIG" + signal
                        + " to pid " + run.pid + " to reload its config");
            }
            action = "config reloaded with SIG" + signal;
            LOG.info("Add-on {}: config changed, sent SIG{} to pid {}", id, signal, run.pid);
        }
        Optional<String> limits = Optional.empty();
        boolean limitsChanged = !a.resources().equals(spec.resources());
        if (limitsChanged) {
            limits = cgroups.apply(id, run.pid, a.resources());
        }
        synchronized (s) {
            s.reconfigured(spec.reconfigured(a.resources(), hash), action, limitsChanged, limits.orElse(null));
            recorder.persistQuietly(s);
        }
        return true;
    }

    /** The restart path: stage, activate, grant, stop the old process, start the new, wait, commit — or undo. */
    private void replace(Supervised s, AddonRecord record) throws SupervisionException {
        AddonId id = record.id();
        Snapshot before = Snapshot.of(s);
        Spec oldSpec = before.spec();
        Running oldRun = before.run();
        boolean oldWasRunning = oldRun != null && oldRun.alive();
        Prepared p = preparer.prepare(record);
        byte[] oldConfig = files.currentConfig(id);
        try {
            files.writeConfig(id, p.config());
            if (oldRun != null) {
                ProcessStopper.stop(s, oldRun, oldSpec == null ? defaults.stopGrace() : oldSpec.params().stopGrace());
            }
            synchronized (s) {
                s.newVersion(p.spec());
            }
            Running run = launcher.start(s, p.spec());
            readiness.awaitReady(s, run, p.spec());
            if (p.activation() != null) {
                p.activation().commit();
            }
            LOG.info("Add-on {}: version {} is up as pid {}", id, p.spec().version(), run.pid);
        } catch (SupervisionException | IOException | RuntimeException e) {
            SupervisionException failure = e instanceof SupervisionException se ? se
                    : new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot start version "
                    + p.spec().version() + ": " + e.getMessage(), e);
            if (table.closed()) {
                // detaching: whatever runs now keeps running, recorded in the durable state, for the next
                // dispatcher to adopt (undoing would stop the new process and could not restart the old one)
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": the sidecar dispatcher"
                        + " stopped during the update to " + p.spec().version() + "; left as it is for the next one", e);
            }
            undo(s, p, before, oldWasRunning, oldConfig);
            throw failure;
        }
    }

    /** After a failed replacement: stop the new process, restore {@code current}, the config and the old process. */
    private void undo(Supervised s, Prepared p, Snapshot before, boolean oldWasRunning, byte[] oldConfig) {
        AddonId id = s.id;
        Running started;
        synchronized (s) {
            started = s.run;
        }
        if (started != null && started != before.run()) {
            try {
                ProcessStopper.stop(s, started, p.spec().params().stopGrace());
            } catch (SupervisionException e) {
                LOG.warn("Add-on {}: the failed new version could not be stopped: {}", id, e.getMessage());
            }
        }
        if (p.activation() != null) {
            try {
                p.activation().rollback();
            } catch (SupervisionException | RuntimeException e) {
                LOG.warn("Add-on {}: rolling back current failed: {}", id, e.getMessage());
            }
        }
        try {
            if (oldConfig != null) {
                Files2.writeAtomically(files.configFile(id), oldConfig);
            } else {
                Files.deleteIfExists(files.configFile(id));
            }
        } catch (IOException e) {
            LOG.warn("Add-on {}: restoring its config file failed: {}", id, e.getMessage());
        }
        Spec oldSpec = before.spec();
        if (oldSpec == null) {
            // a first install that failed leaves nothing behind but its logs
            synchronized (s) {
                s.forget();
            }
            sockets.unbind(id);
            try {
                Files.deleteIfExists(recorder.stateFile(id));
            } catch (IOException e) {
                LOG.warn("Add-on {}: cannot delete {}: {}", id, recorder.stateFile(id), e.getMessage());
            }
            table.remove(id, s);
            return;
        }
        synchronized (s) {
            s.spec = oldSpec;
            Running oldRun = before.run();
            if (oldRun != null && oldRun.alive()) {
                s.run = oldRun;             // it could not be stopped: keep supervising it
                recorder.persistQuietly(s);
                return;
            }
            if (oldWasRunning) {
                try {
                    launcher.start(s, oldSpec);
                    LOG.info("Add-on {}: rolled back to version {} (pid {})", id, oldSpec.version(), s.run.pid);
                } catch (IOException e) {
                    s.down(Phase.FAILED, "cannot restart version " + oldSpec.version() + " after a failed update: "
                            + e.getMessage());
                    recorder.persistQuietly(s);
                }
            } else {
                s.restore(before.phase(), before.detail(), before.restartAt());
                recorder.persistQuietly(s);
            }
        }
    }
}
