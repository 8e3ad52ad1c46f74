package io.steward.delivery.internal;



/** An invocation error of a delivery command: exit 2, its message printed with the command's usage. */
final class Usage extends Exception {
    private static final long serialVersionUID = 1L;

    Usage(String message) {
        super(message);
    }
}
