package io.steward.systemd;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * What systemd says about one unit at one moment. Properties that do not apply to the unit's type are
 * empty (or {@code ""}): {@code mainPid} and {@code execMainStatus} for services, {@code nextElapse},
 * {@code lastTrigger} and {@code triggers} for timers.
 *
 * @param name                 unit name, e.g. {@code steward-netprobe.service}
 * @param loadState            {@code loaded}, {@code not-found}, {@code masked}, {@code error}, …
 * @param activeState          {@code ActiveState}
 * @param subState             {@code SubState}: {@code running}, {@code exited}, {@code dead}, {@code waiting},
 *                             {@code auto-restart}, …
 * @param result               {@code Result} of a service or timer ({@code success}, {@code exit-code}, …);
 *                             {@code ""} for other types
 * @param unitFileState        {@code UnitFileState}: {@code enabled}, {@code disabled}, {@code static},
 *                             {@code linked}, … ; {@code ""} when there is no unit file
 * @param needDaemonReload     {@code NeedDaemonReload}: the file on disk differs from what systemd loaded
 * @param fragmentPath         {@code FragmentPath} as systemd sees it; {@code ""} when none
 * @param activeEnterTimestamp {@code ActiveEnterTimestamp}: when the unit last became active
 * @param serviceType          a service's {@code Type} ({@code simple}, {@code oneshot}, …); {@code ""} otherwise
 * @param mainPid              a service's {@code MainPID} (a PID of systemd's namespace), when running
 * @param execMainStatus       a service's {@code ExecMainStatus} after its main process exited
 * @param nextElapse           a timer's {@code NextElapseUSecRealtime}, when it is scheduled
 * @param lastTrigger          a timer's {@code LastTriggerUSec}, when it has fired
 * @param triggers             a timer's {@code Unit}-property target (the unit it starts); {@code ""} otherwise
 * @param restarts             a service's {@code NRestarts}: how often systemd restarted it by its
 *                             {@code Restart=} setting since it was last started on request; 0 otherwise
 *                             (since 2.1)
 */
public record UnitState(String name, String loadState, ActiveState activeState, String subState, String result,
                        String unitFileState, boolean needDaemonReload, String fragmentPath,
                        Optional<Instant> activeEnterTimestamp, String serviceType, OptionalLong mainPid,
                        OptionalInt execMainStatus, Optional<Instant> nextElapse, Optional<Instant> lastTrigger,
                        String triggers, long restarts) {
    public UnitState {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(loadState, "loadState");
        Objects.requireNonNull(activeState, "activeState");
        Objects.requireNonNull(subState, "subState");
        Objects.requireNonNull(result, "result");
        Objects.requireNonNull(unitFileState, "unitFileState");
        Objects.requireNonNull(fragmentPath, "fragmentPath");
        Objects.requireNonNull(activeEnterTimestamp, "activeEnterTimestamp");
        Objects.requireNonNull(serviceType, "serviceType");
        Objects.requireNonNull(mainPid, "mainPid");
        Objects.requireNonNull(execMainStatus, "execMainStatus");
        Objects.requireNonNull(nextElapse, "nextElapse");
        Objects.requireNonNull(lastTrigger, "lastTrigger");
        Objects.requireNonNull(triggers, "triggers");
        if (restarts < 0) {
            throw new IllegalArgumentException("restarts must not be negative: " + restarts);
        }
    }

    /** A unit state with no restart count (0): the constructor of 2.0, for unit types that have none. */
    public UnitState(String name, String loadState, ActiveState activeState, String subState, String result,
                     String unitFileState, boolean needDaemonReload, String fragmentPath,
                     Optional<Instant> activeEnterTimestamp, String serviceType, OptionalLong mainPid,
                     OptionalInt execMainStatus, Optional<Instant> nextElapse, Optional<Instant> lastTrigger,
                     String triggers) {
        this(name, loadState, activeState, subState, result, unitFileState, needDaemonReload, fragmentPath,
                activeEnterTimestamp, serviceType, mainPid, execMainStatus, nextElapse, lastTrigger, triggers, 0);
    }

    /** True when systemd has a unit file for it ({@code LoadState=loaded}). */
    public boolean loaded() {
        return "loaded".equals(loadState);
    }

    /** True when the unit file is enabled ({@code enabled} or {@code enabled-runtime}). */
    public boolean enabled() {
        return unitFileState.startsWith("enabled");
    }

    /** True for {@code ActiveState} active or reloading. */
    public boolean active() {
        return activeState == ActiveState.ACTIVE || activeState == ActiveState.RELOADING;
    }

    /** One line for logs and status details, e.g. {@code active/running, enabled}. */
    public String describe() {
        StringBuilder b = new StringBuilder(activeState.wireName()).append('/').append(subState);
        if (!result.isEmpty() && !"success".equals(result)) {
            b.append(", result ").append(result);
        }
        execMainStatus.ifPresent(s -> {
            if (s != 0) {
                b.append(", status ").append(s);
            }
        });
        if (!unitFileState.isEmpty()) {
            b.append(", ").append(unitFileState);
        }
        if (!loaded()) {
            b.append(", load state ").append(loadState);
        }
        return b.toString();
    }
}
