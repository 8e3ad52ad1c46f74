package io.steward.source.nats.internal;

/** Rate limit of status writes: {@code burst} at once, then {@code perSecond}. Not thread-safe (one writer thread). */
final class TokenBucket {
    private final double perSecond;
    private final double burst;
    private double tokens;
    private long lastNanos;

    TokenBucket(double perSecond, int burst, long nowNanos) {
        if (perSecond <= 0 || burst < 1) {
            throw new IllegalArgumentException("status.per.second must be positive and status.burst at least 1");
        }
        this.perSecond = perSecond;
        this.burst = burst;
        this.tokens = burst;
        this.lastNanos = nowNanos;
    }

    /** Takes a token and returns 0, or returns the nanoseconds until one is there (taking nothing). */
    long take(long nowNanos) {
        tokens = Math.min(burst, tokens + (nowNanos - lastNanos) / 1e9 * perSecond);
        lastNanos = nowNanos;
        if (tokens >= 1) {
            tokens -= 1;
            return 0;
        }
        return (long) Math.ceil((1 - tokens) / perSecond * 1e9);
    }
}
