package io.steward.supervision.systemd.timer.internal;

import static io.steward.systemd.units.testing.Conditions.await;
import static io.steward.systemd.units.testing.Fixture.RUNS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.CallStatistics;
import io.steward.systemd.UnitState;
import io.steward.systemd.bus.DbusSystemdManager;
import io.steward.systemd.units.testing.Fixture;
import io.steward.systemd.units.testing.KindTestbed;
import io.steward.systemd.units.testing.RepoStager;
import java.nio.file.Files;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The systemd_timer kind's component against a real systemd (tools/systemd-sandbox.sh), as core calls it. */
class SystemdTimerDispatcherTest {
    /** Far enough away that it never fires during a test: the schedule, not a run, makes the add-on ready. */
    private static final String DAILY = "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n";
    private static final String ONESHOT = "[Service]\nType=oneshot\nExecStart=@ADDON_HOME@/run.sh\n";

    private static KindTestbed testbed;
    private static DbusSystemdManager systemd;
    private Fixture f;

    @BeforeAll
    static void connect() throws Exception {
        testbed = KindTestbed.open();
        systemd = testbed.systemd();
    }

    @AfterAll
    static void close() {
        testbed.close();
    }

    @BeforeEach
    void fixture() throws Exception {
        f = testbed.newFixture();
    }

    private SystemdTimerDispatcher dispatcher() {
        return new SystemdTimerDispatcher(systemd, f.installer, f.stager, f.layout, 30);
    }

    private static String newId() {
        return KindTestbed.newId("t");
    }

    private SupervisionStatus statusOf(SystemdTimerDispatcher kind, String id) {
        try {
            return kind.status(new AddonId(id));
        } catch (SupervisionException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void installsReachesReadyOnItsScheduleUpdatesAndRemoves() throws Exception {
        String id = newId();
        String timer = "steward-" + id + ".timer";
        String svc = "steward-" + id + ".service";
        RepoStager.publish(f.repo, id, "1", Map.of(timer, DAILY, svc, ONESHOT, "run.sh", "#!/bin/sh\nexit 0\n"));
        RepoStager.publish(f.repo, id, "2", Map.of(timer, DAILY.replace("daily", "weekly"), svc, ONESHOT,
                "run.sh", "#!/bin/sh\nexit 0\n"));
        SystemdTimerDispatcher kind = dispatcher();

        SupervisionStatus installed = kind.apply(f.record(id, "systemd_timer", "1"));
        assertEquals(SupervisionState.READY, installed.state(), installed.detail());
        assertEquals("systemd_timer", installed.kind());
        assertTrue(installed.detail().contains("next run at"), installed.detail());
        UnitState t = systemd.unit(timer);
        assertEquals("waiting", t.subState(), t.describe());
        assertTrue(t.enabled());
        assertTrue(t.nextElapse().isPresent());
        assertFalse(systemd.unit(svc).active(), "only the timer is started, not its service");

        CallStatistics before = systemd.statistics();
        assertEquals(SupervisionState.READY, kind.apply(f.record(id, "systemd_timer", "1")).state());
        assertEquals(0, systemd.statistics().minus(before).mutatingCalls(), "applied again: systemd left alone");

        SupervisionStatus updated = kind.apply(f.record(id, "systemd_timer", "2"));
        assertEquals(SupervisionState.READY, updated.state(), updated.detail());
        assertEquals("2", updated.activeVersion().orElseThrow());
        assertTrue(Files.readString(f.layout.unitDir().resolve(timer)).contains("OnCalendar=weekly"));

        kind.remove(new AddonId(id));
        assertEquals("not-found", systemd.unit(timer).loadState());
        assertEquals("not-found", systemd.unit(svc).loadState());
        assertFalse(testbed.unitDirEntries().stream().anyMatch(e -> e.contains("steward-" + id)), "no unit file left");
        assertEquals(SupervisionState.PENDING, kind.status(new AddonId(id)).state());
    }

    @Test
    void aRunThatFailsMakesTheAddonFailedWhileTheTimerWaits() throws Exception {
        String id = newId();
        String timer = "steward-" + id + ".timer";
        RepoStager.publish(f.repo, id, "1", Map.of(timer, "[Timer]\nOnActiveSec=1\nAccuracySec=1ms\n[Install]\n"
                + "WantedBy=timers.target\n", "steward-" + id + ".service", ONESHOT, "run.sh", "#!/bin/sh\nexit 1\n"));
        SystemdTimerDispatcher kind = dispatcher();
        kind.apply(f.record(id, "systemd_timer", "1"));
        await("the run's failure surfaces", () -> statusOf(kind, id).state() == SupervisionState.FAILED);
        assertTrue(statusOf(kind, id).detail().contains("failed"), statusOf(kind, id).detail());
        kind.remove(new AddonId(id));
        assertEquals("not-found", systemd.unit(timer).loadState());
    }

    @Test
    void anArtifactWithoutATimerIsRefusedAndNothingIsInstalled() throws Exception {
        String id = newId();
        RepoStager.publish(f.repo, id, "1", Map.of("steward-" + id + ".service", ONESHOT, "run.sh", RUNS));
        Set<String> before = testbed.unitDirEntries();
        SupervisionException e = assertThrows(SupervisionException.class,
                () -> dispatcher().apply(f.record(id, "systemd_timer", "1")));
        assertEquals(Disposition.PERMANENT, e.disposition(), e.getMessage());
        assertEquals("add-on " + id + ": kind systemd_timer needs exactly one .timer unit in the artifact, found 0",
                e.getMessage());
        assertEquals(before, testbed.unitDirEntries(), "nothing written into the unit directory");
        assertFalse(Files.exists(f.layout.addonHome(new AddonId(id)).resolve("current")), "current not switched");
    }
}
