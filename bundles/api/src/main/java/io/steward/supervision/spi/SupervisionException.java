package io.steward.supervision.spi;

import java.util.Objects;

/**
 * Operational failure inside a dispatcher. The message is one sentence naming the add-on, the
 * step and the cause; {@link #disposition()} tells {@code core} whether to retry.
 */
public class SupervisionException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Whether a failure may go away by itself. */
    public enum Disposition {
        /** Retried with capped exponential backoff (network, a busy bus, a timeout). */
        TRANSIENT,
        /** Not retried until the assignment changes (bad signature, unsafe artifact). */
        PERMANENT
    }

    private final Disposition disposition;

    public SupervisionException(Disposition disposition, String message) {
        super(message);
        this.disposition = Objects.requireNonNull(disposition, "disposition");
    }

    public SupervisionException(Disposition disposition, String message, Throwable cause) {
        super(message, cause);
        this.disposition = Objects.requireNonNull(disposition, "disposition");
    }

    public Disposition disposition() {
        return disposition;
    }
}
