package io.steward.health.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.apache.felix.hc.api.FormattingResultLog;
import org.apache.felix.hc.api.Result;
import org.junit.jupiter.api.Test;

/** Each health rule, on recorded facts: what makes the agent's or a kind's check OK, WARN or CRITICAL. */
class JudgeTest {
    private static final Instant T0 = Instant.parse("2026-12-07T01:00:00Z");
    private static final Duration MAX = Duration.ofSeconds(120);
    private final PassRecord started = PassRecord.started(4242, T0);

    private static String text(FormattingResultLog log) {
        StringBuilder b = new StringBuilder();
        log.forEach(e -> b.append(e.getStatus()).append(' ').append(e.getMessage()).append('\n'));
        return b.toString();
    }

    @Test
    void aRecentPassWithoutWarningsIsOk() {
        FormattingResultLog log = Judge.agent(started.passed(T0.plusSeconds(5), List.of()), true, T0.plusSeconds(30), MAX);
        assertEquals(Result.Status.OK, log.getAggregateStatus(), text(log));
    }

    @Test
    void noRecordOrADeadAgentIsCritical() {
        assertEquals(Result.Status.CRITICAL, Judge.agent(null, false, T0, MAX).getAggregateStatus());
        FormattingResultLog dead = Judge.agent(started.passed(T0, List.of()), false, T0, MAX);
        assertEquals(Result.Status.CRITICAL, dead.getAggregateStatus());
        assertTrue(text(dead).contains("pid 4242"), text(dead));
    }

    @Test
    void beforeTheFirstPassItIsTemporarilyUnavailableThenCritical() {
        assertEquals(Result.Status.TEMPORARILY_UNAVAILABLE, Judge.agent(started, true, T0.plusSeconds(10), MAX)
                .getAggregateStatus());
        assertEquals(Result.Status.CRITICAL, Judge.agent(started, true, T0.plusSeconds(121), MAX).getAggregateStatus());
    }

    @Test
    void aStalePassAFailedPassAndAnUnreachableUpdaterAreCritical() {
        PassRecord passed = started.passed(T0, List.of());
        FormattingResultLog stale = Judge.agent(passed, true, T0.plusSeconds(121), MAX);
        assertEquals(Result.Status.CRITICAL, stale.getAggregateStatus());
        assertTrue(text(stale).contains("may be stuck"), text(stale));
        FormattingResultLog failed = Judge.agent(passed.failed(T0.plusSeconds(30), "the ledger is locked"), true,
                T0.plusSeconds(40), MAX);
        assertTrue(text(failed).contains("CRITICAL the last reconcile pass could not run: the ledger is locked"), text(failed));
        PassRecord unreachable = passed.updater(T0.plusSeconds(1), "install_units", "unreachable");
        assertEquals(Result.Status.CRITICAL, Judge.agent(unreachable, true, T0.plusSeconds(2), MAX).getAggregateStatus());
        PassRecord answeredSince = unreachable.updater(T0.plusSeconds(3), "install_units", "");
        assertEquals(Result.Status.OK, Judge.agent(answeredSince, true, T0.plusSeconds(4), MAX).getAggregateStatus());
    }

    @Test
    void aSourceInErrorWarns() {
        FormattingResultLog log = Judge.agent(started.passed(T0, List.of("source file: assignments.json: bad")), true,
                T0.plusSeconds(1), MAX);
        assertEquals(Result.Status.WARN, log.getAggregateStatus(), text(log));
    }

    @Test
    void aKindIsJudgedByItsAssignedAddons() {
        List<SupervisionStatus> s = List.of(status("a", SupervisionState.READY), status("b", SupervisionState.STARTING));
        assertEquals(Result.Status.OK, Judge.kind("sidecar", s, true).getAggregateStatus());
        assertEquals(Result.Status.WARN, Judge.kind("sidecar", s, false).getAggregateStatus());
        assertEquals(Result.Status.WARN, Judge.kind("sidecar", List.of(status("c", SupervisionState.DEGRADED)), true)
                .getAggregateStatus());
        FormattingResultLog failed = Judge.kind("sidecar", List.of(status("d", SupervisionState.FAILED)), true);
        assertEquals(Result.Status.CRITICAL, failed.getAggregateStatus());
        assertTrue(text(failed).contains("add-on d is failed"), text(failed));
        assertEquals(Result.Status.OK, Judge.kind("config_toggle", List.of(status("e", SupervisionState.FAILED)), true)
                .getAggregateStatus(), "another kind's add-on does not count");
    }

    private static SupervisionStatus status(String id, SupervisionState state) {
        return new SupervisionStatus(new AddonId(id), "sidecar", state, Optional.of("1.0.0"), Optional.of("1.0.0"),
                state.wireName(), T0);
    }
}
