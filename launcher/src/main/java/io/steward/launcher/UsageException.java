package io.steward.launcher;

/** An invalid invocation; the message is one sentence without the {@code steward: } prefix. Exit 2. */
final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
        super(message, null, false, false);
    }
}
