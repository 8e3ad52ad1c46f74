package io.steward.core.internal;

import java.time.Duration;
import java.util.function.DoubleSupplier;

/**
 * Capped exponential backoff with jitter for transient failures: the n-th consecutive failure waits
 * {@code base * 2^(n-1)}, at most {@code max}, spread by ±{@code jitter} so that many hosts do not
 * retry in step.
 */
record Backoff(Duration base, Duration max, double jitter) {
    Backoff {
        if (base.isNegative() || base.isZero() || max.compareTo(base) < 0 || jitter < 0 || jitter >= 1) {
            throw new IllegalArgumentException("invalid backoff: base " + base + ", max " + max + ", jitter " + jitter);
        }
    }

    /**
     * The wait after the {@code attempts}-th consecutive failure.
     *
     * @param random a value in [0, 1)
     */
    Duration delay(int attempts, DoubleSupplier random) {
        int exponent = Math.min(Math.max(attempts, 1) - 1, 30);      // 2^30 × base overflows nothing we use
        double nominal = Math.min((double) base.toMillis() * (1L << exponent), (double) max.toMillis());
        double spread = 1 + jitter * (2 * random.getAsDouble() - 1);
        long millis = Math.round(Math.min(nominal * spread, (double) max.toMillis()));
        return Duration.ofMillis(Math.max(millis, 1));
    }
}
