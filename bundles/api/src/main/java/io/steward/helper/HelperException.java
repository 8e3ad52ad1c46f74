package io.steward.helper;

import java.util.Objects;

/**
 * A helper run that could not take place or was cut short. The message is one sentence naming the
 * helper, the step and the cause; {@link #reason()} tells a caller what to do about it.
 *
 * @since 1.0.0
 */
public class HelperException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Why a run did not produce a {@link HelperResult}. */
    public enum Reason {
        /** The helper already has as many runs in flight as its limit allows; try again later. */
        BUSY,
        /** The helper is no longer assigned, or its kind bundle is stopping; look the service up again. */
        UNAVAILABLE,
        /** The program could not be started (missing, not executable, no resources). */
        START_FAILED,
        /** The run was killed because the helper was removed or its bundle stopped while it ran. */
        ABORTED,
        /** The calling thread was interrupted while it waited; the run was killed. */
        INTERRUPTED
    }

    private final Reason reason;

    /**
     * @param reason  why; not {@code null}
     * @param message one sentence naming the helper, the step and the cause
     */
    public HelperException(Reason reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /**
     * @param reason  why; not {@code null}
     * @param message one sentence naming the helper, the step and the cause
     * @param cause   the underlying failure
     */
    public HelperException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /** Why the run did not produce a result; never {@code null}. */
    public Reason reason() {
        return reason;
    }
}
