package io.steward.helper;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;

/**
 * How one helper run ended. Immutable: the output bytes are copied in and out.
 *
 * @param exitCode        the program's exit status; {@code 128 + n} when signal {@code n} ended it
 *                        (137 after the kill that follows a timeout)
 * @param stdout          what it wrote to stdout, up to the configured cap
 * @param stderr          what it wrote to stderr, up to the configured cap
 * @param duration        from start to the end of the run (the group killed and the output drained)
 * @param timedOut        whether the run exceeded {@link HelperRequest#timeout()} and was killed
 * @param stdoutTruncated whether stdout went beyond the cap (the rest was read and discarded)
 * @param stderrTruncated whether stderr went beyond the cap
 * @since 1.0.0
 */
public record HelperResult(int exitCode, byte[] stdout, byte[] stderr, Duration duration, boolean timedOut,
                           boolean stdoutTruncated, boolean stderrTruncated) {
    /** @throws NullPointerException for a {@code null} component */
    public HelperResult {
        stdout = stdout.clone();
        stderr = stderr.clone();
        Objects.requireNonNull(duration, "duration");
    }

    /** A copy of the captured stdout; never {@code null}. */
    @Override
    public byte[] stdout() {
        return stdout.clone();
    }

    /** A copy of the captured stderr; never {@code null}. */
    @Override
    public byte[] stderr() {
        return stderr.clone();
    }

    /** The captured stdout decoded as UTF-8 (malformed input replaced). */
    public String stdoutText() {
        return new String(stdout, StandardCharsets.UTF_8);
    }

    /** The captured stderr decoded as UTF-8 (malformed input replaced). */
    public String stderrText() {
        return new String(stderr, StandardCharsets.UTF_8);
    }

    /** True when the run ended by itself with exit status 0. */
    public boolean succeeded() {
        return !timedOut && exitCode == 0;
    }

    /** True when either stream went beyond the cap. */
    public boolean truncated() {
        return stdoutTruncated || stderrTruncated;
    }

    /** Compares every component, the output bytes by content. */
    @Override
    public boolean equals(Object o) {
        return o instanceof HelperResult r && exitCode == r.exitCode && Arrays.equals(stdout, r.stdout)
                && Arrays.equals(stderr, r.stderr) && duration.equals(r.duration) && timedOut == r.timedOut
                && stdoutTruncated == r.stdoutTruncated && stderrTruncated == r.stderrTruncated;
    }

    @Override
    public int hashCode() {
        return Objects.hash(exitCode, Arrays.hashCode(stdout), Arrays.hashCode(stderr), duration, timedOut,
                stdoutTruncated, stderrTruncated);
    }

    /** Exit code, flags, duration and output sizes; never the output itself. */
    @Override
    public String toString() {
        return "HelperResult[exitCode=" + exitCode + ", timedOut=" + timedOut + ", duration=" + duration + ", stdout="
                + stdout.length + " bytes" + (stdoutTruncated ? " (truncated)" : "") + ", stderr=" + stderr.length
                + " bytes" + (stderrTruncated ? " (truncated)" : "") + "]";
    }
}
