package io.steward.source.signed;

/** A value that may not take effect; the message is one sentence saying why. */
public final class RefusedValueException extends Exception {
    private static final long serialVersionUID = 1L;

    public RefusedValueException(String message) {
        super(message);
    }
}
