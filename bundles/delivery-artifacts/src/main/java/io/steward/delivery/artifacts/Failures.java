package io.steward.delivery.artifacts;

import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.nio.file.FileSystemException;

/**
 * Builds the one-sentence failures of one add-on: {@code add-on <id>: <step>: <cause>}. Every failure
 * of delivery goes through here, so the classification of each error type is explicit at the call
 * site (upstream gap 22).
 */
public record Failures(String addon) {
    public SupervisionException permanent(String step, String cause) {
        return new SupervisionException(Disposition.PERMANENT, message(step, cause));
    }

    public SupervisionException permanent(String step, String cause, Throwable e) {
        return new SupervisionException(Disposition.PERMANENT, message(step, cause), e);
    }

    public SupervisionException temporary(String step, String cause) {
        return new SupervisionException(Disposition.TRANSIENT, message(step, cause));
    }

    public SupervisionException temporary(String step, String cause, Throwable e) {
        return new SupervisionException(Disposition.TRANSIENT, message(step, cause), e);
    }

    public String message(String step, String cause) {
        // one line, whatever a library put in its message
        return "add-on " + addon + ": " + step + ": " + cause.strip().replaceAll("\\s*\\R\\s*", " ");
    }

    /** The step of a message this class built ({@code add-on <id>: <step>: <cause>}), or {@code unknown}. */
    public static String step(String message) {
        String[] parts = String.valueOf(message).split(": ", 3);
        return parts.length == 3 && parts[1].matches("[a-z][a-z_ -]{0,30}") ? parts[1] : "unknown";
    }

    /** The short description of an I/O error: its message, or its type when it has none. */
    public static String describe(Throwable e) {
        String m = e.getMessage();
        String type = e.getClass().getSimpleName();
        if (m == null || m.isBlank()) {
            return type;
        }
        // NoSuchFileException and friends carry only the path
        return e instanceof FileSystemException ? type + " " + m : m;
    }
}
