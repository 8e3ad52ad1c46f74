package io.steward.systemd;

import java.util.Locale;

/** systemd's {@code ActiveState} of a unit. */
public enum ActiveState {
    ACTIVE, RELOADING, INACTIVE, FAILED, ACTIVATING, DEACTIVATING, MAINTENANCE,
    /** A value this version does not know (systemd added one). */
    UNKNOWN;

    /** The state for systemd's spelling ({@code active}, {@code failed}, …); {@link #UNKNOWN} for anything else. */
    public static ActiveState of(String value) {
        if (value == null) {
            return UNKNOWN;
        }
        try {
            return valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return UNKNOWN;
        }
    }

    /** systemd's spelling, e.g. {@code active}. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
