package io.steward.source.nats.fleet;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Waits that spread a fleet out: after a broker restart a thousand agents must not reconnect, re-watch
 * and write status in the same millisecond.
 */
public final class Jitter {
    private Jitter() {
    }

    /** Capped exponential backoff with full jitter: random in [0, min(cap, base·2^attempt)]. */
    public static Duration backoff(long attempt, Duration base, Duration cap) {
        long bound = cap.toMillis();
        if (attempt < 30) {
            bound = Math.min(bound, base.toMillis() << Math.max(0, attempt));
        }
        return Duration.ofMillis(ThreadLocalRandom.current().nextLong(Math.max(1, bound) + 1));
    }

    /** {@code period} ±20 %. */
    public static Duration around(Duration period) {
        long ms = period.toMillis();
        long spread = ms / 5;
        return Duration.ofMillis(ms - spread + ThreadLocalRandom.current().nextLong(2 * spread + 1));
    }
}
