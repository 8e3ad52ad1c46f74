package io.steward.supervision;

import java.util.Hashtable;
import java.util.Objects;

/**
 * The outcome of a one-shot command of the {@code steward} launcher ({@code apply}, {@code pack}, …).
 * The bundle that serves the command registers a service (any object) with {@link #serviceProperties()};
 * the launcher, which sees only JDK types, reads the exit code and the text from them and prints them.
 *
 * @param exit   0 success, 1 failure, 2 invalid input or invocation (nothing changed)
 * @param stdout what to print on standard output
 * @param stderr what to print on standard error
 */
public record CommandResult(int exit, String stdout, String stderr) {
    /** Service property (Integer): the exit code. */
    public static final String EXIT = "steward.command.exit";
    /** Service property (String): standard output. */
    public static final String STDOUT = "steward.command.stdout";
    /** Service property (String): standard error. */
    public static final String STDERR = "steward.command.stderr";

    public CommandResult {
        Objects.requireNonNull(stdout, "stdout");
        Objects.requireNonNull(stderr, "stderr");
    }

    /** The service properties the launcher waits for. */
    public Hashtable<String, Object> serviceProperties() {
        Hashtable<String, Object> properties = new Hashtable<>();
        properties.put(EXIT, exit);
        properties.put(STDOUT, stdout);
        properties.put(STDERR, stderr);
        return properties;
    }
}
