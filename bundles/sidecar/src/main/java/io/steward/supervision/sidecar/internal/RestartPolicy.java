package io.steward.supervision.sidecar.internal;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;

/**
 * The restart arithmetic of a sidecar, as a pure function of what happened (s6 / Nomad style):
 * <ul>
 * <li>an exit code the manifest declares permanent (s6's 125) rejects the assignment: no restart;</li>
 * <li>otherwise the n-th consecutive exit waits {@code base * 2^(n-1)}, capped at {@code max}, less up
 * to {@code jitter} of it (so the wait never exceeds the cap and is never zero);</li>
 * <li>a run that stayed up for {@code stableUptime} resets the count (the next wait is {@code base} again);</li>
 * <li>a crash loop, more than {@code maxRestarts} exits within the sliding {@code window}, waits
 * {@code crashLoopDelay} (at least the exponential wait) and is reported as such.</li>
 * </ul>
 * Immutable; {@link History} carries the state between exits.
 *
 * @param base           the first wait
 * @param max            the cap of the exponential wait
 * @param jitter         fraction in [0, 1) by which a wait may be shortened at random
 * @param stableUptime   uptime after which an exit counts as the first again
 * @param maxRestarts    exits tolerated within {@code window} before a crash loop is declared
 * @param window         the sliding window of the death tally
 * @param crashLoopDelay the wait after a crash loop was declared
 */
record RestartPolicy(Duration base, Duration max, double jitter, Duration stableUptime, int maxRestarts,
                     Duration window, Duration crashLoopDelay) {

    RestartPolicy {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(max, "max");
        Objects.requireNonNull(stableUptime, "stableUptime");
        Objects.requireNonNull(window, "window");
        Objects.requireNonNull(crashLoopDelay, "crashLoopDelay");
        if (base.isNegative() || base.isZero()) {
            throw new IllegalArgumentException("restart base must be positive: " + base);
        }
        if (max.compareTo(base) < 0) {
            throw new IllegalArgumentException("restart max " + max + " is below the base " + base);
        }
        if (!(jitter >= 0 && jitter < 1)) {
            throw new IllegalArgumentException("restart jitter must be in [0, 1): " + jitter);
        }
        if (maxRestarts < 1) {
            throw new IllegalArgumentException("crash loop restarts must be at least 1: " + maxRestarts);
        }
        if (window.isNegative() || window.isZero() || stableUptime.isNegative()) {
            throw new IllegalArgumentException("crash loop window and stable uptime must be positive");
        }
        if (crashLoopDelay.compareTo(base) < 0) {
            throw new IllegalArgumentException("crash loop delay " + crashLoopDelay + " is below the base " + base);
        }
    }

    /**
     * What the policy remembers about earlier exits.
     *
     * @param consecutive exits since the last stable run
     * @param exits       times of the exits still inside the window, oldest first
     */
    record History(int consecutive, List<Instant> exits) {
        static final History NONE = new History(0, List.of());

        History {
            if (consecutive < 0) {
                throw new IllegalArgumentException("consecutive exits must not be negative");
            }
            exits = List.copyOf(exits);
        }
    }

    /** What happens after an exit. */
    enum Action {
        /** Start again after {@link Decision#delay()}. */
        RESTART,
        /** Too many exits within the window: start again after the longer crash-loop delay. */
        CRASH_LOOP,
        /** The exit code is permanent: do not start again until the assignment changes. */
        REJECT
    }

    /**
     * The outcome of one exit.
     *
     * @param action  what to do
     * @param delay   how long to wait before starting again ({@link Duration#ZERO} for {@link Action#REJECT})
     * @param history the history to keep for the next exit
     * @param attempt the consecutive exit count this decision was made for (1 for the first)
     */
    record Decision(Action action, Duration delay, History history, int attempt) {
    }

    /**
     * Decides what follows an exit.
     *
     * @param history   the history before this exit
     * @param exitCode  the exit code when known (unknown for an adopted process, which is not our child)
     * @param permanent exit codes that mean "do not restart"
     * @param uptime    how long the run that just ended was up
     * @param now       when it ended
     * @param random    a value in [0, 1) for the jitter
     */
    Decision onExit(History history, OptionalInt exitCode, Set<Integer> permanent, Duration uptime, Instant now,
                    double random) {
        Objects.requireNonNull(history, "history");
        if (exitCode.isPresent() && permanent.contains(exitCode.getAsInt())) {
            return new Decision(Action.REJECT, Duration.ZERO, history, history.consecutive());
        }
        int consecutive = uptime.compareTo(stableUptime) >= 0 ? 1 : saturatedIncrement(history.consecutive());
        List<Instant> exits = new ArrayList<>();
        Instant horizon = now.minus(window);
        for (Instant t : history.exits()) {
            if (t.isAfter(horizon) && !t.isAfter(now)) {
                exits.add(t);
            }
        }
        exits.add(now);
        // the tally never needs more than maxRestarts + 1 entries to decide
        while (exits.size() > maxRestarts + 1) {
            exits.remove(0);
        }
        History next = new History(consecutive, exits);
        Duration delay = delay(consecutive, random);
        if (exits.size() > maxRestarts) {
            Duration loop = jittered(crashLoopDelay, random);
            return new Decision(Action.CRASH_LOOP, loop.compareTo(delay) > 0 ? loop : delay, next, consecutive);
        }
        return new Decision(Action.RESTART, delay, next, consecutive);
    }

    /** The wait after the {@code attempt}-th consecutive exit (1-based), jitter included. */
    Duration delay(int attempt, double random) {
        int exponent = Math.min(Math.max(attempt, 1) - 1, 40);
        double nominal = Math.min((double) base.toMillis() * Math.pow(2, exponent), (double) max.toMillis());
        return jittered(Duration.ofMillis((long) nominal), random);
    }

    private Duration jittered(Duration nominal, double random) {
        if (!(random >= 0 && random < 1)) {
            throw new IllegalArgumentException("random must be in [0, 1): " + random);
        }
        long millis = Math.round(nominal.toMillis() * (1 - jitter * random));
        return Duration.ofMillis(Math.max(millis, 1));
    }

    private static int saturatedIncrement(int n) {
        return n == Integer.MAX_VALUE ? n : n + 1;
    }
}
