package io.steward.systemd;

import java.util.Locale;

/**
 * The {@code result} of systemd's {@code JobRemoved} signal. {@link #DONE} means the job finished, not that
 * the unit runs: callers confirm with {@link UnitState#activeState()}.
 */
public enum JobOutcome {
    DONE, CANCELED, TIMEOUT, FAILED, DEPENDENCY, SKIPPED,
    /** systemd had nothing to do: the call returned without queueing a job (e.g. reset-failed). */
    NONE,
    /** A result this version does not know. */
    UNKNOWN;

    /** The outcome for systemd's spelling; {@link #UNKNOWN} for anything else. */
    public static JobOutcome of(String value) {
        if (value == null) {
            return UNKNOWN;
        }
        try {
            return valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return UNKNOWN;
        }
    }

    /** systemd's spelling, e.g. {@code done}. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
