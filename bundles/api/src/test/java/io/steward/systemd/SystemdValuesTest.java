package io.steward.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** How systemd's answers are read: its spellings, a unit's state in one line, the call counters. */
class SystemdValuesTest {
    private static UnitState unit(ActiveState active, String sub, String result, String fileState, String load,
                                  OptionalInt status) {
        return new UnitState("steward-x.service", load, active, sub, result, fileState, false, "", Optional.empty(),
                "simple", OptionalLong.empty(), status, Optional.empty(), Optional.empty(), "");
    }

    @Test
    void systemdSpellingsMapToTheEnumsAndUnknownValuesDoNotFail() {
        assertEquals(ActiveState.ACTIVE, ActiveState.of("active"));
        assertEquals(ActiveState.DEACTIVATING, ActiveState.of("deactivating"));
        assertEquals(ActiveState.UNKNOWN, ActiveState.of("refreshing"), "a state a newer systemd added");
        assertEquals(ActiveState.UNKNOWN, ActiveState.of(null));
        assertEquals(ActiveState.UNKNOWN, ActiveState.of(""));
        for (ActiveState s : ActiveState.values()) {
            assertEquals(s, ActiveState.of(s.wireName()));
        }
        assertEquals(JobOutcome.DONE, JobOutcome.of("done"));
        assertEquals(JobOutcome.DEPENDENCY, JobOutcome.of("dependency"));
        assertEquals(JobOutcome.UNKNOWN, JobOutcome.of("invalid"));
        assertEquals(JobOutcome.UNKNOWN, JobOutcome.of(null));
        for (JobOutcome o : JobOutcome.values()) {
            assertEquals(o, JobOutcome.of(o.wireName()));
        }
    }

    @Test
    void aUnitStateDescribesItselfInOneLine() {
        assertEquals("active/running, enabled",
                unit(ActiveState.ACTIVE, "running", "success", "enabled", "loaded", OptionalInt.empty()).describe());
        assertEquals("failed/failed, result exit-code, status 3, enabled",
                unit(ActiveState.FAILED, "failed", "exit-code", "enabled", "loaded", OptionalInt.of(3)).describe());
        assertEquals("inactive/dead", unit(ActiveState.INACTIVE, "dead", "", "", "loaded", OptionalInt.of(0)).describe(),
                "a clean exit, an empty result and no unit file add nothing");
        assertEquals("inactive/dead, load state not-found",
                unit(ActiveState.INACTIVE, "dead", "", "", "not-found", OptionalInt.empty()).describe());
    }

    @Test
    void enabledActiveAndLoadedReadTheRightFields() {
        UnitState runtime = unit(ActiveState.RELOADING, "reload", "", "enabled-runtime", "loaded", OptionalInt.empty());
        assertTrue(runtime.enabled());
        assertTrue(runtime.active(), "reloading is still active");
        assertTrue(runtime.loaded());
        UnitState off = unit(ActiveState.ACTIVATING, "start", "", "disabled", "masked", OptionalInt.empty());
        assertFalse(off.enabled());
        assertFalse(off.active(), "activating is not yet active");
        assertFalse(off.loaded());
        assertEquals(0, off.restarts(), "the 2.0 constructor counts none");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new UnitState("u", "loaded",
                ActiveState.ACTIVE, "running", "", "", false, "", Optional.of(Instant.EPOCH), "", OptionalLong.of(1),
                OptionalInt.empty(), Optional.empty(), Optional.empty(), "", -2));
        assertEquals("restarts must not be negative: -2", e.getMessage());
    }

    @Test
    void callStatisticsSubtractPerCounter() {
        assertEquals(new CallStatistics(7, 2, 1), new CallStatistics(10, 5, 1).minus(new CallStatistics(3, 3, 0)));
    }

    @Test
    void aSystemdFailureSaysWhatItConcernsOnlyWhenItDoes() {
        SystemdException manager = new SystemdException("", "", "bus gone");
        assertEquals(Optional.empty(), manager.unit());
        assertEquals(Optional.empty(), manager.errorName());
        assertFalse(manager.timeout());
        SystemdException unit = new SystemdException("steward-x.service", "org.freedesktop.systemd1.NoSuchUnit",
                true, "no such unit", null);
        assertEquals(Optional.of("steward-x.service"), unit.unit());
        assertEquals(Optional.of("org.freedesktop.systemd1.NoSuchUnit"), unit.errorName());
        assertTrue(unit.timeout());
    }

    private static LoadedUnit loaded(Map<String, List<LoadedUnit.ExecCommand>> exec, Map<String, List<String>> deps) {
        return new LoadedUnit("steward-x.timer", List.of("steward-x.timer"), "loaded", "/u/steward-x.timer", List.of(),
                false, exec, List.of(), List.of(), List.of(), "", "", "", List.of(), List.of(), List.of(), List.of(),
                List.of(), List.of(), List.of(), List.of(), List.of(), "", "", List.of(), false, "", "", deps);
    }

    @Test
    void aLoadedUnitHasEveryExecAndDependencyKeyInTheirOrder() {
        LoadedUnit.ExecCommand start = new LoadedUnit.ExecCommand("/bin/run", List.of("run", "-x"),
                List.of("privileged"));
        LoadedUnit u = loaded(Map.of("ExecStart", List.of(start)), Map.of("Triggers", List.of("steward-x.service")));
        assertEquals(LoadedUnit.EXEC_PROPERTIES, List.copyOf(u.exec().keySet()));
        assertEquals(LoadedUnit.DEPENDENCY_PROPERTIES, List.copyOf(u.dependencies().keySet()));
        assertEquals(List.of(), u.exec("ExecStop"), "missing means empty, never absent");
        assertEquals(List.of(start), u.allCommands());
        assertTrue(start.privileged());
        assertFalse(new LoadedUnit.ExecCommand("/bin/run", List.of("run")).privileged());
        assertEquals(List.of("steward-x.service"), u.triggers());
        assertEquals(List.of(), u.dependency("Requires"));
        assertTrue(u.loaded());
        assertThrows(UnsupportedOperationException.class, () -> u.exec().put("ExecStop", List.of()));
    }

    @Test
    void aLoadedUnitRefusesKeysItDoesNotKnowWithOneSentence() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> loaded(Map.of("ExecBogus", List.of()), Map.of()));
        assertEquals("exec has an unknown key ExecBogus", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> loaded(Map.of(), Map.of("After", List.of())));
        assertEquals("dependencies has an unknown key After", e.getMessage());
        LoadedUnit u = loaded(Map.of(), Map.of());
        e = assertThrows(IllegalArgumentException.class, () -> u.exec("ExecBogus"));
        assertEquals("ExecBogus is not one of " + LoadedUnit.EXEC_PROPERTIES, e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> u.dependency("After"));
        assertEquals("After is not one of " + LoadedUnit.DEPENDENCY_PROPERTIES, e.getMessage());
    }
}
