package io.steward.source.http.internal;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import java.util.function.LongUnaryOperator;

/**
 * When to poll next. A fleet polling one server must not arrive in step: the interval is jittered
 * ±20 %, failures back off exponentially with full jitter, and a server that says {@code Retry-After}
 * (seconds or an HTTP-date) is given that time, capped so a hostile or broken answer cannot park the
 * host for ever.
 */
final class PollTiming {
    private static final Duration MIN_WAIT = Duration.ofSeconds(1);
    private final Duration interval;
    private final Duration cap;
    private final Clock clock;
    private final LongUnaryOperator random;   // a value in [0, bound]
    private int failures;

    /** @param random returns a uniform value in [0, its argument] */
    PollTiming(Duration interval, Duration cap, Clock clock, LongUnaryOperator random) {
        this.interval = interval;
        this.cap = cap;
        this.clock = clock;
        this.random = random;
    }

    /** After a poll that got an answer: the interval ±20 %. */
    Duration ok() {
        failures = 0;
        long ms = interval.toMillis();
        long spread = ms / 5;
        return Duration.ofMillis(ms - spread + random.applyAsLong(2 * spread));
    }

    /** After a failure: random in [0, min(cap, interval·2^n)] (full jitter), at least one second. */
    Duration failed() {
        long bound = interval.toMillis();
        for (int i = 0; i < failures && bound < cap.toMillis(); i++) {
            bound *= 2;
        }
        failures++;
        bound = Math.min(bound, cap.toMillis());
        return Duration.ofMillis(Math.max(MIN_WAIT.toMillis(), random.applyAsLong(bound)));
    }

    /** After 429/503: what Retry-After asks (capped), else like a failure. */
    Duration busy(Optional<String> retryAfter) {
        Optional<Duration> asked = retryAfter.flatMap(this::parseRetryAfter);
        if (asked.isEmpty()) {
            return failed();
        }
        failures++;
        Duration d = asked.get();
        if (d.compareTo(MIN_WAIT) < 0) {
            return MIN_WAIT;    // "Retry-After: 0" or a past date must not make a hot loop
        }
        return d.compareTo(cap) > 0 ? cap : d;
    }

    /** {@code Retry-After}: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); anything else is ignored. */
    Optional<Duration> parseRetryAfter(String value) {
        String v = value.strip();
        if (v.matches("[0-9]{1,12}")) {
            return Optional.of(Duration.ofSeconds(Long.parseLong(v)));
        }
        try {
            Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            Duration d = Duration.between(clock.instant(), at);
            return Optional.of(d.isNegative() ? Duration.ZERO : d);
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }
}
