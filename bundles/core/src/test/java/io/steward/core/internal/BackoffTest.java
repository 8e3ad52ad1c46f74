package io.steward.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {
    private final Backoff backoff = new Backoff(Duration.ofSeconds(5), Duration.ofSeconds(300), 0.2);

    @Test
    void doublesFromTheBaseWithoutJitter() {
        assertEquals(Duration.ofSeconds(5), backoff.delay(1, () -> 0.5));
        assertEquals(Duration.ofSeconds(10), backoff.delay(2, () -> 0.5));
        assertEquals(Duration.ofSeconds(20), backoff.delay(3, () -> 0.5));
        assertEquals(Duration.ofSeconds(160), backoff.delay(6, () -> 0.5));
    }

    @Test
    void isCappedEvenWithJitterAndHugeAttemptCounts() {
        assertEquals(Duration.ofSeconds(300), backoff.delay(7, () -> 0.5));
        assertEquals(Duration.ofSeconds(300), backoff.delay(7, () -> 0.999));
        assertEquals(Duration.ofSeconds(300), backoff.delay(Integer.MAX_VALUE, () -> 0.999));
    }

    @Test
    void jitterSpreadsWithinTwentyPercent() {
        assertEquals(Duration.ofSeconds(4), backoff.delay(1, () -> 0.0));
        assertTrue(backoff.delay(1, () -> 0.9999).compareTo(Duration.ofMillis(6000)) <= 0);
        assertEquals(Duration.ofSeconds(240), backoff.delay(10, () -> 0.0), "the lower edge below the cap");
    }

    @Test
    void treatsZeroOrNegativeAttemptsAsTheFirst() {
        assertEquals(Duration.ofSeconds(5), backoff.delay(0, () -> 0.5));
        assertEquals(Duration.ofSeconds(5), backoff.delay(-3, () -> 0.5));
    }

    @Test
    void refusesNonsense() {
        assertThrows(IllegalArgumentException.class, () -> new Backoff(Duration.ZERO, Duration.ofSeconds(1), 0.1));
        assertThrows(IllegalArgumentException.class, () -> new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(1), 0.1));
        assertThrows(IllegalArgumentException.class, () -> new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(2), 1.0));
    }
}
