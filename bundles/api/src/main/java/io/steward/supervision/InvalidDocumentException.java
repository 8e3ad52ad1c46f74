package io.steward.supervision;

/**
 * An assignment document or override that fails parsing or validation. The message is one
 * sentence naming the JSON path and the rule, e.g. {@code addons[2].id: "../x" is not a valid add-on id}.
 */
public class InvalidDocumentException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidDocumentException(String message) {
        super(message);
    }

    public InvalidDocumentException(String message, Throwable cause) {
        super(message, cause);
    }
}
