package io.steward.systemd;

import java.time.Duration;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * systemd's manager, typed. Provided by {@code io.steward.systemd.dbus} over its own D-Bus connection to the
 * bus named by the framework property {@link #BUS_PROPERTY} (else {@code DBUS_SYSTEM_BUS_ADDRESS}, else the
 * system bus); the connection is re-opened when the bus goes away. Thread-safe. Every call has a deadline;
 * a missed one is a {@link SystemdException} with {@link SystemdException#timeout()} set.
 * <p>
 * There is deliberately no {@code EnableUnitFiles}/{@code DisableUnitFiles}: they follow a unit's
 * {@code [Install] Also=}/{@code Alias=} into units Steward does not own; the installer writes exactly its own
 * {@code .wants}/{@code .requires} links instead.
 * <p>
 * Reads ({@link #unit}, {@link #units}, {@link #systemState}) need no privilege. The other methods change
 * systemd's state; the supervision kinds do not call them directly but go through
 * {@link io.steward.privileged.UnitInstaller}, which validates first. Unit names are plain names
 * ({@code steward-x.service}); unit files are looked up in systemd's own unit directories.
 */
@ProviderType
public interface SystemdManager {
    /** Framework property: the D-Bus address of systemd's bus, e.g. {@code unix:path=/run/dbus/system_bus_socket}. */
    String BUS_PROPERTY = "steward.systemd.bus";

    /** systemd's {@code SystemState} ({@code running}, {@code degraded}, …). */
    String systemState() throws SystemdException;

    /** The unit's state; loads the unit if systemd does not hold it (a missing file gives {@code not-found}). */
    UnitState unit(String name) throws SystemdException;

    /**
     * The unit's state only if systemd holds it in memory now, without loading it: empty for a unit systemd
     * has not loaded (so a unit file written since needs no reload to be seen).
     */
    java.util.Optional<UnitState> loadedUnit(String name) throws SystemdException;

    /**
     * What systemd actually loaded for the unit, read back over D-Bus: {@code LoadUnit} (so a unit file that
     * systemd never loaded, or only found missing, is read now without a daemon-reload), then one
     * {@code GetAll} over every interface of the unit's object. A unit systemd already holds is reported as
     * it was loaded: when its file changed since, {@link LoadedUnit#needDaemonReload()} is true and only a
     * {@link #reload()} makes systemd read it. A missing file gives {@code loadState} {@code not-found}.
     *
     * @since 2.0
     */
    LoadedUnit loaded(String name) throws SystemdException;

    /** {@link #unit} for several units, in order. */
    List<UnitState> units(List<String> names) throws SystemdException;

    /** {@code daemon-reload}: re-reads every unit file. Returns when systemd has finished. */
    void reload() throws SystemdException;

    /**
     * Starts a unit (mode {@code replace}) and waits for its job. The signal subscription is in place
     * before the job is queued, and the job is matched by its path.
     */
    JobResult start(String name, Duration timeout) throws SystemdException;

    /** Stops a unit and waits for its job. Stopping a unit that is not loaded succeeds with {@link JobOutcome#NONE}. */
    JobResult stop(String name, Duration timeout) throws SystemdException;

    /** Restarts a unit (starts it when stopped) and waits for its job. */
    JobResult restart(String name, Duration timeout) throws SystemdException;

    /** {@code reset-failed} for one unit; a unit that is not failed is left alone. */
    void resetFailed(String name) throws SystemdException;

    /** How much this manager asked of systemd so far. */
    CallStatistics statistics();
}
