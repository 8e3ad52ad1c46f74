package io.steward.systemd;

import java.util.Objects;
import java.util.Optional;

/**
 * A systemd call failed: the bus is unreachable, systemd refused (with a D-Bus error name such as
 * {@code org.freedesktop.systemd1.NoSuchUnit}), a job did not finish within its deadline, or it ended
 * with another result than {@code done}.
 */
public class SystemdException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String unit;
    private final String errorName;
    private final boolean timeout;

    /**
     * @param unit      the unit concerned, {@code ""} for manager-wide calls
     * @param errorName the D-Bus error name, {@code ""} when there is none
     * @param timeout   whether a deadline passed
     */
    public SystemdException(String unit, String errorName, boolean timeout, String message, Throwable cause) {
        super(message, cause);
        this.unit = Objects.requireNonNull(unit, "unit");
        this.errorName = Objects.requireNonNull(errorName, "errorName");
        this.timeout = timeout;
    }

    public SystemdException(String unit, String errorName, String message) {
        this(unit, errorName, false, message, null);
    }

    /** The unit concerned, if the call was about one. */
    public Optional<String> unit() {
        return unit.isEmpty() ? Optional.empty() : Optional.of(unit);
    }

    /** The D-Bus error name systemd answered with, if any. */
    public Optional<String> errorName() {
        return errorName.isEmpty() ? Optional.empty() : Optional.of(errorName);
    }

    /** True when the failure is a missed deadline (call or job). */
    public boolean timeout() {
        return timeout;
    }
}
