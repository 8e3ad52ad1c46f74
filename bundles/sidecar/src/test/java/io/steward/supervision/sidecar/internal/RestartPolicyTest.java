package io.steward.supervision.sidecar.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.sidecar.internal.RestartPolicy.Action;
import io.steward.supervision.sidecar.internal.RestartPolicy.Decision;
import io.steward.supervision.sidecar.internal.RestartPolicy.History;
import java.time.Duration;
import java.time.Instant;
import java.util.OptionalInt;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The restart arithmetic; the Nomad restart bugs #15198, #4909 and #5737 are the template. */
class RestartPolicyTest {
    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
    private static final Set<Integer> PERMANENT = Set.of(125);
    private static final Duration SHORT = Duration.ofMillis(100);

    /** base 1s, cap 60s, 25% jitter, stable after 60s, 5 exits per 60s, 120s after a crash loop. */
    private final RestartPolicy policy = new RestartPolicy(Duration.ofSeconds(1), Duration.ofSeconds(60), 0.25,
            Duration.ofSeconds(60), 5, Duration.ofSeconds(60), Duration.ofSeconds(120));

    private final RestartPolicy noJitter = new RestartPolicy(Duration.ofSeconds(1), Duration.ofSeconds(60), 0,
            Duration.ofSeconds(60), 5, Duration.ofSeconds(60), Duration.ofSeconds(120));

    @Test
    void delaysDoubleFromTheBaseUpToTheCap() {
        long[] expected = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
        for (int attempt = 1; attempt <= expected.length; attempt++) {
            assertEquals(expected[attempt - 1], noJitter.delay(attempt, 0.7).toMillis(), "attempt " + attempt);
        }
    }

    @Test
    void theFirstRestartWaitsTheBaseDelayNotZero() {   // Nomad #15198: the delay was ignored
        Decision d = noJitter.onExit(History.NONE, OptionalInt.of(1), PERMANENT, SHORT, T0, 0.5);
        assertEquals(Action.RESTART, d.action());
        assertEquals(Duration.ofSeconds(1), d.delay());
        assertEquals(1, d.attempt());
    }

    @Test
    void noDelayIsEverZeroOrAboveTheCapWhateverTheRandomValue() {   // Nomad #4909: a delay of 0
        double[] randoms = {0, 1e-12, 0.25, 0.5, 0.999999, Math.nextDown(1.0)};
        for (int attempt = 1; attempt <= 64; attempt++) {
            for (double r : randoms) {
                Duration d = policy.delay(attempt, r);
                assertTrue(d.toMillis() >= 750 && d.toMillis() <= 60_000, "attempt " + attempt + " random " + r + ": " + d);
            }
        }
        // even a 1 ms base with the largest jitter stays positive
        RestartPolicy tiny = new RestartPolicy(Duration.ofMillis(1), Duration.ofMillis(1), 0.99, Duration.ofSeconds(1), 1,
                Duration.ofSeconds(1), Duration.ofMillis(1));
        assertTrue(tiny.delay(1, Math.nextDown(1.0)).toMillis() >= 1);
    }

    @Test
    void jitterOnlyShortensTheWaitWithinItsFraction() {
        assertEquals(8000, policy.delay(4, 0).toMillis());
        assertEquals(6000, policy.delay(4, Math.nextDown(1.0)).toMillis());
        assertEquals(7000, policy.delay(4, 0.5).toMillis());
    }

    @Test
    void hugeAttemptCountsDoNotOverflow() {
        assertEquals(60_000, noJitter.delay(Integer.MAX_VALUE, 0).toMillis());
        History h = new History(Integer.MAX_VALUE, java.util.List.of());
        Decision d = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, SHORT, T0, 0);
        assertEquals(Integer.MAX_VALUE, d.attempt());
    }

    @Test
    void exactlyMaxRestartsExitsWithinTheWindowAreRestartedAndTheNextIsACrashLoop() {   // Nomad #5737
        History h = History.NONE;
        Instant t = T0;
        for (int exit = 1; exit <= 5; exit++) {
            Decision d = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, SHORT, t, 0);
            assertEquals(Action.RESTART, d.action(), "exit " + exit);
            h = d.history();
            t = t.plus(d.delay()).plus(SHORT);
        }
        Decision sixth = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, SHORT, t, 0);
        assertEquals(Action.CRASH_LOOP, sixth.action());
        assertEquals(Duration.ofSeconds(120), sixth.delay());
        assertEquals(6, sixth.history().exits().size());
    }

    @Test
    void theCrashLoopWindowSlides() {
        History h = History.NONE;
        // five quick exits 10 s apart...
        for (int i = 0; i < 5; i++) {
            h = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, SHORT, T0.plusSeconds(10L * i), 0).history();
        }
        // ...the sixth 61 s after the first: the first has left the window
        Decision d = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, SHORT, T0.plusSeconds(61), 0);
        assertEquals(Action.RESTART, d.action());
        assertEquals(5, d.history().exits().size());
        // one more at 62 s: six within 60 s again
        assertEquals(Action.CRASH_LOOP,
                noJitter.onExit(d.history(), OptionalInt.of(1), PERMANENT, SHORT, T0.plusSeconds(62), 0).action());
    }

    @Test
    void aStableRunResetsTheDelayToTheBase() {
        History h = History.NONE;
        for (int i = 0; i < 4; i++) {
            h = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, SHORT, T0.plusSeconds(100L * i), 0).history();
        }
        assertEquals(4, h.consecutive());
        Decision afterStable = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, Duration.ofSeconds(60),
                T0.plusSeconds(1000), 0);
        assertEquals(Action.RESTART, afterStable.action());
        assertEquals(Duration.ofSeconds(1), afterStable.delay());
        assertEquals(1, afterStable.history().consecutive());
        // just below the stable uptime the count keeps growing
        Decision unstable = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, Duration.ofMillis(59_999),
                T0.plusSeconds(1000), 0);
        assertEquals(Duration.ofSeconds(16), unstable.delay());
    }

    @Test
    void aCrashLoopWaitsAtLeastTheExponentialDelay() {
        RestartPolicy shortLoop = new RestartPolicy(Duration.ofSeconds(1), Duration.ofSeconds(60), 0,
                Duration.ofSeconds(600), 2, Duration.ofSeconds(600), Duration.ofSeconds(5));
        History h = History.NONE;
        Decision d = null;
        for (int i = 0; i < 8; i++) {
            d = shortLoop.onExit(h, OptionalInt.of(1), PERMANENT, SHORT, T0.plusSeconds(i), 0);
            h = d.history();
        }
        assertEquals(Action.CRASH_LOOP, d.action());
        assertEquals(Duration.ofSeconds(60), d.delay());   // 2^7 s capped at 60, above the 5 s loop delay
    }

    @Test
    void aPermanentExitCodeRejectsWithoutADelay() {
        Decision d = policy.onExit(History.NONE, OptionalInt.of(125), PERMANENT, Duration.ofHours(1), T0, 0.3);
        assertEquals(Action.REJECT, d.action());
        assertEquals(Duration.ZERO, d.delay());
        assertEquals(Action.RESTART,
                policy.onExit(History.NONE, OptionalInt.of(124), PERMANENT, SHORT, T0, 0.3).action());
        assertEquals(Action.REJECT,
                policy.onExit(History.NONE, OptionalInt.of(0), Set.of(0, 3), SHORT, T0, 0.3).action());
    }

    @Test
    void anUnknownExitCodeIsNeverPermanent() {
        Decision d = policy.onExit(History.NONE, OptionalInt.empty(), Set.of(125), SHORT, T0, 0);
        assertEquals(Action.RESTART, d.action());
    }

    @Test
    void invalidPoliciesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new RestartPolicy(Duration.ZERO, Duration.ofSeconds(1), 0,
                Duration.ofSeconds(1), 1, Duration.ofSeconds(1), Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new RestartPolicy(Duration.ofSeconds(2), Duration.ofSeconds(1),
                0, Duration.ofSeconds(1), 1, Duration.ofSeconds(1), Duration.ofSeconds(2)));
        assertThrows(IllegalArgumentException.class, () -> new RestartPolicy(Duration.ofSeconds(1), Duration.ofSeconds(1),
                1.0, Duration.ofSeconds(1), 1, Duration.ofSeconds(1), Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new RestartPolicy(Duration.ofSeconds(1), Duration.ofSeconds(1),
                0, Duration.ofSeconds(1), 0, Duration.ofSeconds(1), Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> policy.delay(1, 1.0));
        assertThrows(IllegalArgumentException.class, () -> policy.delay(1, -0.1));
    }

    /**
     * Fault campaign (docs/testing.md "Faults"): the wall clock jumps between exits. The delay is a duration the supervisor
     * waits on the monotonic clock, so no jump stretches it; exits stamped "in the future" after a jump backwards,
     * or beyond the window after a jump forwards, leave the crash-loop tally, which only makes a loop slower to
     * call, never a restart later.
     */
    @Test
    void clockJumpsNeitherStretchTheDelayNorInventACrashLoop() {
        History h = History.NONE;
        for (int i = 0; i < 5; i++) {
            h = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, SHORT, T0.plusSeconds(i), 0.5).history();
        }
        Decision back = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, SHORT, T0.minus(Duration.ofDays(1)), 0.5);
        assertEquals(Action.RESTART, back.action(), "the 5 later exits no longer count");
        assertEquals(Duration.ofSeconds(32), back.delay(), "the 6th consecutive exit: the delay does not depend on the clock");
        Decision forward = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, SHORT, T0.plus(Duration.ofDays(1)), 0.5);
        assertEquals(Action.RESTART, forward.action());
        assertEquals(Duration.ofSeconds(32), forward.delay());
        Decision inStep = noJitter.onExit(h, OptionalInt.of(1), PERMANENT, SHORT, T0.plusSeconds(5), 0.5);
        assertEquals(Action.CRASH_LOOP, inStep.action(), "without a jump the same 6 exits in a minute are a crash loop");
    }
}
