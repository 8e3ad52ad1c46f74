package io.steward.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.PlanStep.Action;
import io.steward.supervision.SupervisionState;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Fault campaign (docs/testing.md "Faults"): the wall clock jumps across a backoff. The planner takes the time of the pass as
 * an input ({@code Inputs.now}), so the jumps are exact here; the retry time is kept in the ledger as a wall-clock
 * instant (it must survive a restart), which is why a jump matters at all.
 */
class PlannerClockTest {
    private static final GsonAssignmentCodec CODEC = new GsonAssignmentCodec();
    private static final Instant FAILED_AT = Instant.parse("2026-12-07T10:00:00Z");
    private static final Duration BACKOFF = Duration.ofMinutes(5);

    private static Action decide(Instant now) throws Exception {
        Assignment a = CODEC.parse(GsonAssignmentCodecTest.doc(GsonAssignmentCodecTest.toggle("a", "2.0")), true)
                .document().addons().get(0);
        Ledger.Entry failed = Ledger.Entry.fresh(a.kind(), FAILED_AT.minus(Duration.ofHours(1)))
                .withState(SupervisionState.FAILED, "add-on a: network down", FAILED_AT)
                .withFailure(Optional.of(new Ledger.Failure(CODEC.fingerprint(a), false, 3, "add-on a: network down",
                        FAILED_AT.plus(BACKOFF))));
        Planner.Inputs in = new Planner.Inputs(Map.of(a.id(), a), Map.of(), true, Map.of(new AddonId("a"), failed),
                kind -> true, id -> true, CODEC::fingerprint, now);
        return Planner.decide(in).get(0).step().action();
    }

    @Test
    void withinTheBackoffTheRetryWaits() throws Exception {
        assertEquals(Action.WAIT_RETRY, decide(FAILED_AT.plus(Duration.ofMinutes(1))));
    }

    @Test
    void aClockJumpForwardsMakesTheRetryDueAtOnce() throws Exception {
        assertEquals(Action.INSTALL, decide(FAILED_AT.plus(Duration.ofDays(1))));
    }

    @Test
    void aClockJumpBackwardsDoesNotStretchTheBackoffToTheSizeOfTheJump() throws Exception {
        // without the rule the add-on would wait a day and five minutes
        assertEquals(Action.INSTALL, decide(FAILED_AT.minus(Duration.ofDays(1))));
    }
}
