package io.steward.privileged;

import java.util.List;
import java.util.Objects;

/**
 * What {@link UnitInstaller#install} did. Everything empty or false means the host already matched.
 *
 * @param units    the add-on's units now installed
 * @param written  unit files and drop-ins whose bytes were (re)written
 * @param reloaded whether systemd was told to reload
 * @param enabled  whether the primary had to be enabled
 * @param action   what was done to the primary: {@code none}, {@code start} or {@code restart}
 * @param detail   the primary's state afterwards, one line
 */
public record UnitInstallation(List<String> units, List<String> written, boolean reloaded, boolean enabled,
                               String action, String detail) {
    public UnitInstallation {
        units = List.copyOf(units);
        written = List.copyOf(written);
        Objects.requireNonNull(action, "action");
        Objects.requireNonNull(detail, "detail");
    }

    /** True when nothing on the host had to change. */
    public boolean unchanged() {
        return written.isEmpty() && !reloaded && !enabled && "none".equals(action);
    }
}
