package io.steward.privileged;

import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Puts an add-on's systemd units in place and takes them away (PRODUCT §4, §7.2, §7.7). The non-root agent
 * cannot write into systemd's unit directory, so this is privileged: provided in-process when the agent
 * runs as root, and by the root-owned updater's client otherwise. Both run the same unit policy
 * ({@code io.steward.systemd.unitfile}, docs/privilege-separation.md "Unit rules") on every argument, as if it came from an attacker,
 * before any host write, install its canonical re-serialisation of each unit (never the shipped bytes), and check
 * again what systemd loaded before anything starts. Thread-safe; calls for add-ons whose unit names could collide
 * are serialized.
 * <p>
 * Placeholders in unit files are substituted by the implementation, never by the caller:
 * {@code @ADDON_HOME@} is the immutable root-owned {@code <privileged-root>/<id>/versions/<…>} directory that the
 * implementation materialises from the request's source, {@code @ADDON_STATE@} the add-on's writable state
 * directory {@code <data>/addons/<id>/state} and {@code @ADDON_CONFIG@} its merged config file
 * {@code <data>/addons/<id>/config.json} (both written by the agent: only units that do not run as root may read
 * them).
 */
@ProviderType
public interface UnitInstaller {
    /**
     * Installs the request's units, transactionally: validate everything; materialise the root-owned copy;
     * snapshot the bytes of every unit file and drop-in about to be replaced and whether the primary is
     * enabled and active; copy the units (never link) with placeholders substituted; write or remove the
     * resources drop-in; reload once if systemd holds a stale copy; enable the primary; start it (restart
     * it when active and {@code request.restart()}); wait for the job and confirm the unit runs (a service
     * active, a timer waiting with a next elapse). Files that already hold the right bytes are not written,
     * and a host that already matches gets no mutating call at all.
     * <p>
     * On any failure after the first write, everything is restored: unit bytes and drop-ins (files that did
     * not exist are deleted), the root-owned {@code current}, one reload, the primary re-enabled and
     * restarted if it was enabled and active before.
     *
     * @throws SupervisionException PERMANENT when validation refuses the request (nothing was written),
     *                              TRANSIENT when systemd or the host failed (everything was restored)
     */
    UnitInstallation install(UnitInstallRequest request) throws SupervisionException;

    /**
     * Stops, disables and deletes the given units of the add-on and their drop-in directories, then reloads
     * systemd once. Every name is checked first (the naming convention); one foreign name refuses the whole
     * call, and units the installer did not install for the add-on are skipped. Missing units are fine (idempotent).
     *
     * @param releaseTree also delete the root-owned copy {@code <privileged-root>/<id>} (the add-on is gone)
     */
    void uninstall(AddonId id, List<String> units, boolean releaseTree) throws SupervisionException;
}
