package io.steward.helper;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What one helper run is given. Immutable: the collections and the stdin bytes are copied in and out.
 *
 * @param args    arguments appended to the assignment's {@code args}; no element may contain a NUL
 * @param env     environment variables added to the assignment's {@code env} (the request wins);
 *                names are non-empty without {@code '='} or NUL, values without NUL;
 *                {@link AddonHelper#ENV_ADDON_ID} is always set by Steward and cannot be overridden
 * @param stdin   bytes written to the program's standard input, which is then closed; empty for none
 * @param timeout how long the run may take before its process group is killed; positive
 * @since 1.0.0
 */
public record HelperRequest(List<String> args, Map<String, String> env, byte[] stdin, Duration timeout) {
    /** The timeout of the factory methods: 30 seconds. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    /**
     * @throws IllegalArgumentException for a NUL in an argument or the environment, a bad variable name,
     *                                  or a timeout that is not positive
     * @throws NullPointerException     for a {@code null} component or element
     */
    public HelperRequest {
        args = List.copyOf(args);
        env = Map.copyOf(env);
        stdin = stdin.clone();
        Objects.requireNonNull(timeout, "timeout");
        for (String a : args) {
            if (a.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("a helper argument contains a NUL character");
            }
        }
        for (Map.Entry<String, String> e : env.entrySet()) {
            String name = e.getKey();
            if (name.isEmpty() || name.indexOf('=') >= 0 || name.indexOf('\0') >= 0 || e.getValue().indexOf('\0') >= 0) {
                throw new IllegalArgumentException("\"" + name.replace('\0', '?')
                        + "\" is not a valid environment variable for a helper");
            }
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("a helper timeout must be positive, not " + timeout);
        }
    }

    /** A request with these arguments, no extra environment, empty stdin and {@link #DEFAULT_TIMEOUT}. */
    public static HelperRequest of(String... args) {
        return of(List.of(args));
    }

    /** A request with these arguments, no extra environment, empty stdin and {@link #DEFAULT_TIMEOUT}. */
    public static HelperRequest of(List<String> args) {
        return new HelperRequest(args, Map.of(), new byte[0], DEFAULT_TIMEOUT);
    }

    /** A copy with {@code bytes} as stdin. */
    public HelperRequest withStdin(byte[] bytes) {
        return new HelperRequest(args, env, bytes, timeout);
    }

    /** A copy with {@code text}, encoded in UTF-8, as stdin. */
    public HelperRequest withStdin(String text) {
        return withStdin(text.getBytes(StandardCharsets.UTF_8));
    }

    /** A copy with this extra environment. */
    public HelperRequest withEnv(Map<String, String> variables) {
        return new HelperRequest(args, variables, stdin, timeout);
    }

    /** A copy with this timeout. */
    public HelperRequest withTimeout(Duration value) {
        return new HelperRequest(args, env, stdin, value);
    }

    /** A copy of the stdin bytes; never {@code null}. */
    @Override
    public byte[] stdin() {
        return stdin.clone();
    }

    /** Compares every component, the stdin bytes by content. */
    @Override
    public boolean equals(Object o) {
        return o instanceof HelperRequest r && args.equals(r.args) && env.equals(r.env)
                && Arrays.equals(stdin, r.stdin) && timeout.equals(r.timeout);
    }

    @Override
    public int hashCode() {
        return Objects.hash(args, env, Arrays.hashCode(stdin), timeout);
    }

    /** Arguments, variable names, stdin size and timeout; never the variables' values. */
    @Override
    public String toString() {
        return "HelperRequest[args=" + args + ", env=" + env.keySet() + ", stdin=" + stdin.length + " bytes, timeout="
                + timeout + "]";
    }
}
