package io.steward.supervision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Statuses, plan steps and reports: their wire names and the little logic they carry. */
class StatusAndReportTest {
    private static final Instant T = Instant.parse("2026-12-01T00:00:00Z");

    private static SupervisionStatus status(String id, SupervisionState state, Optional<String> desired) {
        return new SupervisionStatus(new AddonId(id), "sidecar", state, desired, Optional.of("1"), "d", T);
    }

    private static ReconcileReport report(SupervisionStatus... statuses) {
        return new ReconcileReport("r", List.of(), List.of(statuses), List.of(), T, Duration.ZERO);
    }

    @Test
    void stateWireNamesAreTheReadmeSpelling() {
        // README "--json formats": pending staging starting ready degraded backoff failed rejected detached removed held
        assertEquals("pending staging starting ready degraded backoff failed rejected detached removed held",
                Arrays.stream(SupervisionState.values()).map(SupervisionState::wireName)
                        .collect(Collectors.joining(" ")));
    }

    @Test
    void actionWireNamesAreTheReadmeSpellingAndOnlyThreeMutate() {
        assertEquals("install update adopt keep remove skip_rejected wait_retry detached reject",
                Arrays.stream(PlanStep.Action.values()).map(PlanStep.Action::wireName)
                        .collect(Collectors.joining(" ")));
        Set<PlanStep.Action> mutating = Arrays.stream(PlanStep.Action.values())
                .filter(a -> new PlanStep(new AddonId("x"), "sidecar", a, "why").mutates())
                .collect(Collectors.toSet());
        assertEquals(Set.of(PlanStep.Action.INSTALL, PlanStep.Action.UPDATE, PlanStep.Action.REMOVE), mutating);
    }

    @Test
    void aReportConvergesWhenEveryStillAssignedAddonIsReady() {
        assertTrue(report().converged(), "nothing assigned is converged");
        assertTrue(report(status("a", SupervisionState.READY, Optional.of("1")),
                status("gone", SupervisionState.FAILED, Optional.empty())).converged(),
                "an add-on no longer assigned does not count");
        assertFalse(report(status("a", SupervisionState.READY, Optional.of("1")),
                status("b", SupervisionState.DEGRADED, Optional.of("1"))).converged());
        assertFalse(report(status("h", SupervisionState.HELD, Optional.of("1"))).converged());
    }

    @Test
    void aStatusCarriesANonNegativeRestartCount() {
        SupervisionStatus s = status("a", SupervisionState.READY, Optional.of("1"));
        assertEquals(0, s.restarts(), "the 1.1 constructor counts none");
        SupervisionStatus r = s.withRestarts(3);
        assertEquals(3, r.restarts());
        assertEquals(s, r.withRestarts(0), "only the count changed");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.withRestarts(-1));
        assertEquals("restarts must not be negative: -1", e.getMessage());
    }

    @Test
    void whatADispatcherReportsHasNoDesiredVersionAndIsStampedNow() {
        Instant before = Instant.now();
        SupervisionStatus s = SupervisionStatus.of(new AddonId("a"), "config_toggle", SupervisionState.READY,
                Optional.of("2"), "on");
        assertEquals(Optional.empty(), s.desiredVersion(), "core fills it in");
        assertEquals(Optional.of("2"), s.activeVersion());
        assertFalse(s.since().isBefore(before));
        assertFalse(s.since().isAfter(Instant.now()));
    }

    @Test
    void aCommandResultBecomesTheServicePropertiesTheLauncherReads() {
        var p = new CommandResult(2, "out", "steward: bad").serviceProperties();
        assertEquals(3, p.size());
        assertEquals(2, p.get(CommandResult.EXIT));
        assertEquals("out", p.get(CommandResult.STDOUT));
        assertEquals("steward: bad", p.get(CommandResult.STDERR));
        assertEquals("steward.command.exit", CommandResult.EXIT, "the launcher reads this name");
    }
}
