package io.steward.systemd.install;

import io.steward.privileged.UnitInstallRequest;
import io.steward.supervision.AddonId;
import io.steward.systemd.JobOutcome;
import io.steward.systemd.JobResult;
import io.steward.systemd.SystemdException;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.install.UnitDirectory.Change;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts back what a failed {@link SystemdUnitInstaller} install changed: stops the new unit, undoes its links, unit
 * files and privileged tree, reloads systemd and restarts the previous unit if it was active. Collects every problem
 * and logs one line rather than throwing, so the caller's original failure is the one reported.
 * <p>
 * Called by the installer under that add-on's lock; link changes take the installer's shared link lock.
 */
record InstallRollback(SystemdManager systemd, UnitDirectory unitDirectory, Object linkLock) {

    // the installer's logger: the restore lines have always been logged under its name
    private static final Logger LOG = LoggerFactory.getLogger(SystemdUnitInstaller.class);

    void restore(UnitInstallRequest r, List<Change> changes, PrivilegedTree tree, boolean treeMoved,
                 Optional<Path> previousTarget, Optional<Path> createdVersion, UnitLinks.Created links,
                 boolean wasActive) {
        AddonId id = r.id();
        List<String> problems = new ArrayList<>();
        try {
            systemd.stop(r.primary(), r.jobTimeout());
        } catch (SystemdException e) {
            problems.add("stop: " + e.getMessage());
        }
        if (links != null) {
            try {
                synchronized (linkLock) {
                    UnitLinks.undo(links);     // exactly the links this install created
                }
            } catch (IOException e) {
                problems.add("links: " + e.getMessage());
            }
        }
        for (Change c : changes) {
            try {
                unitDirectory.restore(c);
            } catch (IOException e) {
                problems.add("restore " + c.path() + ": " + e.getMessage());
            }
        }
        try {
            if (treeMoved) {
                tree.point(previousTarget);
            }
            if (createdVersion.isPresent()) {
                tree.deleteVersion(createdVersion.get());
            }
            if (previousTarget.isEmpty()) {
                tree.deleteEmpty();     // a failed first install leaves nothing behind
            }
        } catch (IOException e) {
            problems.add("privileged current: " + e.getMessage());
        }
        try {
            systemd.reload();
            for (String unit : r.units()) {
                systemd.resetFailed(unit);
            }
            if (wasActive) {
                JobResult j = systemd.restart(r.primary(), r.jobTimeout());
                if (j.outcome() != JobOutcome.DONE) {
                    problems.add("restart of the previous " + r.primary() + " ended " + j.outcome().wireName());
                }
            }
        } catch (SystemdException e) {
            problems.add("systemd: " + e.getMessage());
        }
        if (problems.isEmpty()) {
            LOG.warn("Add-on {}: install of {} failed; previous units restored", id, r.primary());
        } else {
            LOG.error("Add-on {}: install of {} failed and restoring the previous units was incomplete: {}", id,
                    r.primary(), problems);
        }
    }
}
