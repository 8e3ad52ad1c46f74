package io.steward.supervision.systemd.service.internal;

import static io.steward.systemd.units.testing.Fixture.RUNS;
import static io.steward.systemd.units.testing.Fixture.service;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.ActiveState;
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

/** The systemd_service kind's component against a real systemd (tools/systemd-sandbox.sh), as core calls it. */
class SystemdServiceDispatcherTest {
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

    private SystemdServiceDispatcher dispatcher() {
        return new SystemdServiceDispatcher(systemd, f.installer, f.stager, f.layout, 30);
    }

    private static String newId() {
        return KindTestbed.newId("s");
    }

    @Test
    void installsReachesReadyUpdatesAndRemoves() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        RepoStager.publish(f.repo, id, "1.0", Map.of(name, service("v1"), "run.sh", RUNS));
        RepoStager.publish(f.repo, id, "2.0", Map.of(name, service("v2"), "run.sh", RUNS));
        SystemdServiceDispatcher kind = dispatcher();

        SupervisionStatus installed = kind.apply(f.record(id, "systemd_service", "1.0"));
        assertEquals(SupervisionState.READY, installed.state(), installed.detail());
        assertEquals("systemd_service", installed.kind());
        assertEquals("1.0", installed.activeVersion().orElseThrow());
        UnitState v1 = systemd.unit(name);
        assertEquals(ActiveState.ACTIVE, v1.activeState(), v1.describe());
        assertTrue(v1.enabled());

        CallStatistics before = systemd.statistics();
        assertEquals(SupervisionState.READY, kind.apply(f.record(id, "systemd_service", "1.0")).state());
        assertEquals(0, systemd.statistics().minus(before).mutatingCalls(), "applied again: systemd left alone");

        SupervisionStatus updated = kind.apply(f.record(id, "systemd_service", "2.0"));
        assertEquals(SupervisionState.READY, updated.state(), updated.detail());
        assertEquals("2.0", updated.activeVersion().orElseThrow());
        UnitState v2 = systemd.unit(name);
        assertNotEquals(v1.mainPid(), v2.mainPid(), "restarted on the new version");
        assertTrue(Files.readString(f.layout.unitDir().resolve(name)).contains("Description=v2"));
        assertEquals(SupervisionState.READY, kind.status(new AddonId(id)).state());

        kind.remove(new AddonId(id));
        assertEquals("not-found", systemd.unit(name).loadState());
        assertFalse(testbed.unitDirEntries().stream().anyMatch(e -> e.contains("steward-" + id)), "no unit file left");
        assertEquals(SupervisionState.PENDING, kind.status(new AddonId(id)).state());
        kind.remove(new AddonId(id));   // idempotent
    }

    @Test
    void theNextInstanceAdoptsTheRunningUnitWithoutRestartingIt() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        RepoStager.publish(f.repo, id, "1", Map.of(name, service("adopt"), "run.sh", RUNS));
        SystemdServiceDispatcher first = dispatcher();
        assertEquals(SupervisionState.READY, first.apply(f.record(id, "systemd_service", "1")).state());
        UnitState before = systemd.unit(name);
        first.deactivate();                     // the bundle is updated: detach, never stop

        CallStatistics calls = systemd.statistics();
        SystemdServiceDispatcher next = dispatcher();
        SupervisionStatus adopted = next.adopt(f.record(id, "systemd_service", "1"));
        assertEquals(SupervisionState.READY, adopted.state(), adopted.detail());
        assertEquals(0, systemd.statistics().minus(calls).mutatingCalls());
        assertEquals(before.mainPid(), systemd.unit(name).mainPid(), "the same process runs on");
        next.remove(new AddonId(id));
    }

    @Test
    void anArtifactWithoutExactlyOneServiceIsRefusedAndNothingIsInstalled() throws Exception {
        String id = newId();
        RepoStager.publish(f.repo, id, "1", Map.of("steward-" + id + "-a.service", service("a"),
                "steward-" + id + "-b.service", service("b"), "run.sh", RUNS));
        Set<String> before = testbed.unitDirEntries();
        SupervisionException e = assertThrows(SupervisionException.class,
                () -> dispatcher().apply(f.record(id, "systemd_service", "1")));
        assertEquals(Disposition.PERMANENT, e.disposition(), e.getMessage());
        assertEquals("add-on " + id + ": kind systemd_service needs exactly one .service unit in the artifact, found 2 "
                + "[steward-" + id + "-a.service, steward-" + id + "-b.service]", e.getMessage());
        assertEquals(before, testbed.unitDirEntries(), "nothing written into the unit directory");
        assertFalse(Files.exists(f.layout.addonHome(new AddonId(id)).resolve("current")), "current not switched");
    }

    @Test
    void aJobTimeoutBelowOneSecondIsAConfigurationError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new SystemdServiceDispatcher(systemd, f.installer, f.stager, f.layout, 0));
        assertEquals("job.timeout.seconds must be at least 1: 0", e.getMessage());
    }
}
