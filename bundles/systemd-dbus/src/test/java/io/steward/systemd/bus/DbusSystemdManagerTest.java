package io.steward.systemd.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.systemd.ActiveState;
import io.steward.systemd.CallStatistics;
import io.steward.systemd.JobOutcome;
import io.steward.systemd.JobResult;
import io.steward.systemd.SystemdException;
import io.steward.systemd.UnitState;
import io.steward.systemd.install.UnitLinks;
import io.steward.systemd.testing.SystemdSandbox;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link DbusSystemdManager} against a real systemd (the sandbox). */
class SystemdDbusManagerTest {
    private static final Duration JOB = Duration.ofSeconds(30);
    private static SystemdSandbox sandbox;
    private static DbusSystemdManager systemd;

    @BeforeAll
    static void connect() throws Exception {
        sandbox = SystemdSandbox.shared();
        systemd = new DbusSystemdManager(sandbox.address(), Duration.ofSeconds(10));
    }

    @AfterAll
    static void close() {
        systemd.close();
    }

    private static String name(String suffix) {
        return "steward-dbt" + UUID.randomUUID().toString().substring(0, 6) + suffix;
    }

    @Test
    void readsNeedNoMutation() throws Exception {
        CallStatistics before = systemd.statistics();
        assertTrue(List.of("running", "degraded").contains(systemd.systemState()));
        UnitState missing = systemd.unit(name(".service"));
        assertEquals("not-found", missing.loadState());
        assertEquals(ActiveState.INACTIVE, missing.activeState());
        CallStatistics used = systemd.statistics().minus(before);
        assertTrue(used.calls() >= 3, used.toString());
        assertEquals(0, used.mutatingCalls());
    }

    @Test
    void startWaitsForTheJobAndReportsTheRunningUnit() throws Exception {
        String unit = name(".service");
        Files.writeString(sandbox.unitDir().resolve(unit), "[Service]\nExecStart=/bin/sleep 600\n[Install]\n"
                + "WantedBy=multi-user.target\n");
        try {
            UnitLinks.create(sandbox.unitDir(), unit, List.of(new UnitLinks.InstallLink("multi-user.target", "wants")));
            JobResult started = systemd.start(unit, JOB);
            assertEquals(JobOutcome.DONE, started.outcome());
            assertTrue(started.job().startsWith("/org/freedesktop/systemd1/job/"), started.job());
            assertEquals(ActiveState.ACTIVE, started.after().activeState());
            assertEquals("running", started.after().subState());
            assertTrue(started.after().mainPid().isPresent());
            assertTrue(started.after().activeEnterTimestamp().isPresent());
            assertTrue(started.after().enabled());
            assertEquals("simple", started.after().serviceType());

            Files.writeString(sandbox.unitDir().resolve(unit), "[Service]\nExecStart=/bin/sleep 700\n");
            assertTrue(systemd.unit(unit).needDaemonReload());
            systemd.reload();
            assertFalse(systemd.unit(unit).needDaemonReload());

            JobResult stopped = systemd.stop(unit, JOB);
            assertEquals(JobOutcome.DONE, stopped.outcome());
            assertEquals(ActiveState.INACTIVE, stopped.after().activeState());
        } finally {
            UnitLinks.remove(sandbox.unitDir(), unit, List.of(new UnitLinks.InstallLink("multi-user.target", "wants")));
            Files.deleteIfExists(sandbox.unitDir().resolve(unit));
            systemd.reload();
        }
    }

    @Test
    void aFailingJobIsReportedWithItsResult() throws Exception {
        String unit = name(".service");
        Files.writeString(sandbox.unitDir().resolve(unit), "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'exit 3'\n");
        try {
            JobResult r = systemd.start(unit, JOB);
            assertEquals(JobOutcome.FAILED, r.outcome());
            assertEquals(ActiveState.FAILED, r.after().activeState());
            assertEquals("exit-code", r.after().result());
            assertEquals(3, r.after().execMainStatus().orElse(-1));
            systemd.resetFailed(unit);
            assertEquals(ActiveState.INACTIVE, systemd.unit(unit).activeState());
        } finally {
            Files.deleteIfExists(sandbox.unitDir().resolve(unit));
            systemd.reload();
        }
    }

    @Test
    void dbusErrorsCarryTheUnitAndTheErrorName() {
        String unit = name(".service");
        SystemdException e = assertThrows(SystemdException.class, () -> systemd.start(unit, JOB));
        assertEquals(unit, e.unit().orElseThrow());
        assertEquals("org.freedesktop.systemd1.NoSuchUnit", e.errorName().orElseThrow());
        assertEquals(JobOutcome.NONE, assertDoesNotThrowStop(unit).outcome());
    }

    private static JobResult assertDoesNotThrowStop(String unit) {
        try {
            return systemd.stop(unit, JOB);
        } catch (SystemdException e) {
            throw new AssertionError("stopping a unit systemd does not know must succeed", e);
        }
    }

    @Test
    void reconnectsAfterTheBusWentAway() throws Exception {
        try (SystemdSandbox own = SystemdSandbox.startPrivate()) {
            DbusSystemdManager m = new DbusSystemdManager(own.address(), Duration.ofSeconds(5));
            try {
                assertEquals("not-found", m.unit("steward-x.service").loadState());
                own.stop();
                assertThrows(SystemdException.class, () -> m.unit("steward-x.service"));
                own.start();
                assertEquals("not-found", m.unit("steward-x.service").loadState());
                assertEquals(1, m.statistics().reconnects());
                String unit = "steward-x.service";
                Files.writeString(own.unitDir().resolve(unit), "[Service]\nExecStart=/bin/sleep 600\n");
                assertEquals(JobOutcome.DONE, m.start(unit, JOB).outcome(),
                        "JobRemoved arrives on the new connection");
            } finally {
                m.close();
            }
        }
    }
}
