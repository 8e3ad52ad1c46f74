package io.steward.systemd.units;

import static io.steward.systemd.units.testing.Conditions.await;
import static io.steward.systemd.units.testing.Fixture.EXITS_1;
import static io.steward.systemd.units.testing.Fixture.RUNS;
import static io.steward.systemd.units.testing.Fixture.service;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.Resources;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.ActiveState;
import io.steward.systemd.CallStatistics;
import io.steward.systemd.UnitState;
import io.steward.systemd.bus.DbusSystemdManager;
import io.steward.systemd.testing.SystemdSandbox;
import io.steward.systemd.units.testing.Fixture;
import io.steward.systemd.units.testing.KindTestbed;
import io.steward.systemd.units.testing.RepoStager;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The systemd_service and systemd_timer kinds against a real systemd (tools/systemd-sandbox.sh). */
class SystemdKindsTest {
    private static KindTestbed testbed;
    private static SystemdSandbox sandbox;
    private static DbusSystemdManager systemd;
    private Fixture f;

    @BeforeAll
    static void connect() throws Exception {
        testbed = KindTestbed.open();
        sandbox = testbed.sandbox();
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

    private static String newId() {
        return KindTestbed.newId("k");
    }

    private Path unit(String name) {
        return sandbox.unitDir().resolve(name);
    }

    private Set<String> ownedFiles(String id) throws Exception {
        Set<String> names = new TreeSet<>();
        try (Stream<Path> s = Files.walk(sandbox.unitDir())) {
            s.map(p -> sandbox.unitDir().relativize(p).toString()).filter(n -> n.contains("steward-" + id))
                    .forEach(names::add);
        }
        return names;
    }

    private static SupervisionStatus statusOf(UnitSupervisor s, String id) {
        try {
            return s.status(new AddonId(id));
        } catch (SupervisionException e) {
            throw new AssertionError(e);
        }
    }

    // ---- service ----------------------------------------------------------------------------------

    @Test
    void serviceInstallUpgradeBrokenRollbackAndRemove() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        UnitSupervisor kind = f.supervisor("systemd_service");
        RepoStager.publish(f.repo, id, "1.0", Map.of(name, service("v1"), "run.sh", RUNS));
        RepoStager.publish(f.repo, id, "2.0", Map.of(name, service("v2"), "run.sh", RUNS, "extra", "2"));
        RepoStager.publish(f.repo, id, "3.0", Map.of(name, service("v3"), "run.sh", EXITS_1));

        SupervisionStatus s1 = kind.apply(f.record(id, "systemd_service", "1.0",
                new Resources(OptionalDouble.of(50), OptionalLong.of(268435456), OptionalLong.of(64))));
        assertEquals(SupervisionState.READY, s1.state(), s1.detail());
        assertEquals("1.0", s1.activeVersion().orElseThrow());
        String text = Files.readString(unit(name));
        assertTrue(text.contains("ExecStart=" + f.layout.privilegedRoot().resolve(id).resolve("versions/1.0/run.sh")),
                "copied with @ADDON_HOME@ substituted by the immutable verified copy: " + text);
        assertFalse(Files.isSymbolicLink(unit(name)), "copied, never linked");
        String dropIn = Files.readString(unit(name + ".d/50-steward-resources.conf"));
        assertTrue(dropIn.contains("CPUQuota=50%") && dropIn.contains("MemoryMax=268435456")
                && dropIn.contains("TasksMax=64"), dropIn);
        UnitState v1 = systemd.unit(name);
        assertEquals(ActiveState.ACTIVE, v1.activeState());
        assertTrue(v1.enabled());

        // already converged: no mutating call, no restart
        CallStatistics before = systemd.statistics();
        assertEquals(SupervisionState.READY, kind.apply(f.record(id, "systemd_service", "1.0",
                new Resources(OptionalDouble.of(50), OptionalLong.of(268435456), OptionalLong.of(64)))).state());
        assertEquals(SupervisionState.READY, kind.status(new AddonId(id)).state());
        assertEquals(0, systemd.statistics().minus(before).mutatingCalls());
        assertEquals(v1.activeEnterTimestamp(), systemd.unit(name).activeEnterTimestamp());

        // upgrade: restarted on the new version, drop-in gone with the limits
        SupervisionStatus s2 = kind.apply(f.record(id, "systemd_service", "2.0"));
        assertEquals(SupervisionState.READY, s2.state(), s2.detail());
        assertEquals("2.0", s2.activeVersion().orElseThrow());
        UnitState v2 = systemd.unit(name);
        assertNotEquals(v1.mainPid(), v2.mainPid());
        assertFalse(Files.exists(unit(name + ".d")));
        Path privCurrent = f.layout.privilegedRoot().resolve(id).resolve("current");
        assertEquals("2", Files.readString(privCurrent.resolve("extra")));

        // a broken version: its ExecStart exits 1 → rolled back to 2.0, active again
        SupervisionException broken = assertThrows(SupervisionException.class,
                () -> kind.apply(f.record(id, "systemd_service", "3.0")));
        assertEquals(Disposition.TRANSIENT, broken.disposition());
        UnitState back = systemd.unit(name);
        assertEquals(ActiveState.ACTIVE, back.activeState(), back.describe());
        assertEquals("2", Files.readString(privCurrent.resolve("extra")), "root-owned current rolled back");
        assertTrue(Files.readString(f.layout.addonHome(new AddonId(id)).resolve("current/extra")).equals("2"),
                "current rolled back");
        assertTrue(Files.readString(unit(name)).contains("Description=v2"), "unit bytes restored");
        SupervisionStatus after = kind.status(new AddonId(id));
        assertEquals(SupervisionState.READY, after.state(), after.detail());
        assertEquals("2.0", after.activeVersion().orElseThrow());

        // removal: every unit and drop-in gone, systemd forgot it
        kind.remove(new AddonId(id));
        assertEquals(Set.of(), ownedFiles(id));
        assertEquals("not-found", systemd.unit(name).loadState());
        assertFalse(Files.exists(f.layout.privilegedRoot().resolve(id)));
        assertFalse(Files.exists(kind.recordFile(new AddonId(id))));
        assertEquals(SupervisionState.PENDING, kind.status(new AddonId(id)).state());
    }

    @Test
    void aFailedFirstInstallLeavesNoUnitBehind() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        UnitSupervisor kind = f.supervisor("systemd_service");
        RepoStager.publish(f.repo, id, "1.0", Map.of(name, service("broken"), "run.sh", EXITS_1));
        assertThrows(SupervisionException.class, () -> kind.apply(f.record(id, "systemd_service", "1.0")));
        assertEquals(Set.of(), ownedFiles(id));
        assertFalse(Files.exists(f.layout.addonHome(new AddonId(id)).resolve("current")));
        assertFalse(Files.exists(f.layout.privilegedRoot().resolve(id).resolve("current")));
        assertFalse(Files.exists(kind.recordFile(new AddonId(id))));
    }

    @Test
    void aUnitRenamedByAnUpdateIsRemovedOnceTheNewOneRuns() throws Exception {
        String id = newId();
        String a = "steward-" + id + "-a.service";
        String b = "steward-" + id + "-b.service";
        UnitSupervisor kind = f.supervisor("systemd_service");
        RepoStager.publish(f.repo, id, "1", Map.of(a, service("a"), "run.sh", RUNS));
        RepoStager.publish(f.repo, id, "2", Map.of(b, service("b"), "run.sh", RUNS));
        assertEquals(SupervisionState.READY, kind.apply(f.record(id, "systemd_service", "1")).state());
        assertEquals(SupervisionState.READY, kind.apply(f.record(id, "systemd_service", "2")).state());
        assertEquals(Set.of(b, "multi-user.target.wants/" + b), ownedFiles(id));
        assertEquals(ActiveState.INACTIVE, systemd.unit(a).activeState());
        assertEquals("not-found", systemd.unit(a).loadState());
        assertEquals(ActiveState.ACTIVE, systemd.unit(b).activeState());
        kind.remove(new AddonId(id));
        assertEquals(Set.of(), ownedFiles(id));
    }

    @Test
    void unitsStoppedDisabledOrDeletedByHandAreReportedAndHealed() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        UnitSupervisor kind = f.supervisor("systemd_service");
        RepoStager.publish(f.repo, id, "1", Map.of(name, service("heal"), "run.sh", RUNS));
        assertEquals(SupervisionState.READY, kind.apply(f.record(id, "systemd_service", "1")).state());

        sandbox.systemctl("stop", name);
        SupervisionStatus stopped = kind.status(new AddonId(id));
        assertEquals(SupervisionState.FAILED, stopped.state(), stopped.detail());   // core re-applies on FAILED
        assertEquals(SupervisionState.READY, kind.apply(f.record(id, "systemd_service", "1")).state());
        assertEquals(ActiveState.ACTIVE, systemd.unit(name).activeState());

        sandbox.systemctl("disable", name);
        assertEquals(SupervisionState.PENDING, kind.status(new AddonId(id)).state());
        assertEquals(SupervisionState.READY, kind.apply(f.record(id, "systemd_service", "1")).state());
        assertTrue(systemd.unit(name).enabled());

        Files.delete(unit(name));
        assertEquals(SupervisionState.PENDING, kind.status(new AddonId(id)).state());
        assertEquals(SupervisionState.READY, kind.apply(f.record(id, "systemd_service", "1")).state());
        assertTrue(Files.isRegularFile(unit(name)));
        kind.remove(new AddonId(id));
    }

    @Test
    void adoptReattachesWithoutRestartOrMutation() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        RepoStager.publish(f.repo, id, "1", Map.of(name, service("adopt"), "run.sh", RUNS));
        assertEquals(SupervisionState.READY, f.supervisor("systemd_service")
                .apply(f.record(id, "systemd_service", "1")).state());
        UnitState before = systemd.unit(name);
        CallStatistics calls = systemd.statistics();
        UnitSupervisor next = f.supervisor("systemd_service");     // the bundle came back
        assertEquals(SupervisionState.READY, next.adopt(f.record(id, "systemd_service", "1")).state());
        assertEquals(SupervisionState.READY, next.apply(f.record(id, "systemd_service", "1")).state());
        assertEquals(0, systemd.statistics().minus(calls).mutatingCalls());
        UnitState after = systemd.unit(name);
        assertEquals(before.activeEnterTimestamp(), after.activeEnterTimestamp());
        assertEquals(before.mainPid(), after.mainPid());
        next.remove(new AddonId(id));
    }

    // ---- refusals ----------------------------------------------------------------------------------

    private void assertRefusedWithNothingWritten(String id, String kindName, Map<String, String> files)
            throws Exception {
        UnitSupervisor kind = f.supervisor(kindName);
        RepoStager.publish(f.repo, id, "1", files);
        Set<String> unitsBefore = new TreeSet<>();
        try (Stream<Path> s = Files.walk(sandbox.unitDir())) {
            s.forEach(p -> unitsBefore.add(p.toString()));
        }
        SupervisionException e = assertThrows(SupervisionException.class,
                () -> kind.apply(f.record(id, kindName, "1")));
        assertEquals(Disposition.PERMANENT, e.disposition(), e.getMessage());
        Set<String> unitsAfter = new TreeSet<>();
        try (Stream<Path> s = Files.walk(sandbox.unitDir())) {
            s.forEach(p -> unitsAfter.add(p.toString()));
        }
        assertEquals(unitsBefore, unitsAfter, "nothing written into the unit directory");
        try (Stream<Path> s = Files.list(f.layout.privilegedRoot())) {
            assertEquals(0, s.count(), "nothing written into the privileged root");
        }
        assertFalse(Files.exists(f.layout.addonHome(new AddonId(id)).resolve("current")), "current not switched");
    }

    @Test
    void anUnconventionalUnitNameIsRefusedForInstallAndUninstall() throws Exception {
        String id = newId();
        assertRefusedWithNothingWritten(id, "systemd_service", Map.of("ssh.service", service("x"), "run.sh", RUNS));
        SupervisionException e = assertThrows(SupervisionException.class,
                () -> f.installer.uninstall(new AddonId(id), List.of("steward-" + id + ".service", "ssh.service"),
                        false));
        assertEquals(Disposition.PERMANENT, e.disposition());
        assertTrue(e.getMessage().contains("ssh.service"), e.getMessage());
    }

    /**
     * Core applies systemd add-ons concurrently: two add-ons that both ship steward-X-b-x.service (X with
     * suffix b-x, X-b with suffix x), applied at the same moment, must still end with one owner, the other
     * refused, and the unit file the owner's.
     */
    @Test
    void twoAddonsClaimingOneUnitAtOnceEndWithOneOwner() throws Exception {
        String a = newId();
        String b = a + "-b";
        String shared = "steward-" + a + "-b-x.service";
        UnitSupervisor service = f.supervisor("systemd_service");
        RepoStager.publish(f.repo, a, "1", Map.of(shared, service("from-" + a), "run.sh", RUNS));
        RepoStager.publish(f.repo, b, "1", Map.of(shared, service("from-" + b), "run.sh", RUNS));
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            Map<String, java.util.concurrent.Future<SupervisionStatus>> results = new java.util.TreeMap<>();
            for (String id : List.of(a, b)) {
                results.put(id, pool.submit(() -> {
                    go.await();
                    return service.apply(f.record(id, "systemd_service", "1"));
                }));
            }
            go.countDown();
            List<String> owners = new ArrayList<>();
            List<String> refusals = new ArrayList<>();
            for (Map.Entry<String, java.util.concurrent.Future<SupervisionStatus>> e : results.entrySet()) {
                try {
                    assertEquals(SupervisionState.READY, e.getValue().get(60, java.util.concurrent.TimeUnit.SECONDS)
                            .state());
                    owners.add(e.getKey());
                } catch (java.util.concurrent.ExecutionException x) {
                    SupervisionException refusal = (SupervisionException) x.getCause();
                    assertEquals(Disposition.PERMANENT, refusal.disposition(), refusal.getMessage());
                    assertTrue(refusal.getMessage().contains("belongs to add-on"), refusal.getMessage());
                    refusals.add(e.getKey());
                }
            }
            assertEquals(1, owners.size(), "one owner: " + owners + ", refused: " + refusals);
            assertTrue(Files.readString(unit(shared)).contains("from-" + owners.get(0)),
                    "the unit file is the owner's");
            service.remove(new AddonId(owners.get(0)));
            assertFalse(Files.exists(unit(shared)));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void anExecPathIntoTheDataDirectoryIsRefused() throws Exception {
        String id = newId();
        assertRefusedWithNothingWritten(id, "systemd_service", Map.of("steward-" + id + ".service",
                "[Service]\nExecStartPre=/bin/true\nExecStart=-" + f.layout.data().resolve("addons/" + id
                        + "/current/run.sh") + " --x\n", "run.sh", RUNS));
        String id2 = newId();
        assertRefusedWithNothingWritten(id2, "systemd_service", Map.of("steward-" + id2 + ".service",
                "[Service]\nExecStart=/bin/sh -c true\nExecStartPost=\"@ADDON_STATE@/hook\" \\\n  arg\n",
                "run.sh", RUNS));
    }

    @Test
    void aTimerWhoseUnitIsNotShippedIsRefused() throws Exception {
        String id = newId();
        assertRefusedWithNothingWritten(id, "systemd_timer", Map.of(
                "steward-" + id + ".timer", "[Timer]\nOnActiveSec=1\nUnit=ssh.service\n",
                "steward-" + id + ".service", "[Service]\nType=oneshot\nExecStart=/bin/true\n", "run.sh", RUNS));
    }

    // ---- timer ---------------------------------------------------------------------------------------

    @Test
    void timerIsScheduledFiresAndAFailingRunSurfacesAsFailed() throws Exception {
        String id = newId();
        String timer = "steward-" + id + ".timer";
        String svc = "steward-" + id + ".service";
        String timerText = "[Timer]\nOnActiveSec=1\nOnUnitActiveSec=1\nAccuracySec=1ms\n[Install]\n"
                + "WantedBy=timers.target\n";
        UnitSupervisor kind = f.supervisor("systemd_timer");
        RepoStager.publish(f.repo, id, "1", Map.of(timer, timerText, svc,
                "[Service]\nType=oneshot\nExecStart=@ADDON_HOME@/run.sh\n", "run.sh", "#!/bin/sh\nexit 0\n"));
        RepoStager.publish(f.repo, id, "2", Map.of(timer, timerText, svc,
                "[Service]\nType=oneshot\nExecStart=@ADDON_HOME@/run.sh\n", "run.sh", EXITS_1));

        SupervisionStatus s = kind.apply(f.record(id, "systemd_timer", "1"));
        assertEquals(SupervisionState.READY, s.state(), s.detail());
        UnitState t = systemd.unit(timer);
        assertEquals("waiting", t.subState());
        assertTrue(t.nextElapse().isPresent() || t.lastTrigger().isPresent(), t.toString());
        assertTrue(t.enabled());
        // the timer fires every second: while its service runs, the next elapse may be unset for a moment
        await("the status names the next run", () -> statusOf(kind, id).detail().contains("next run at"));

        await("the timer fired", () -> {
            try {
                return systemd.unit(timer).lastTrigger().isPresent();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        // every status is read once and kept: the timer fires every second, so the next call may see another run
        await("a good run leaves the add-on ready", () -> statusOf(kind, id).state() == SupervisionState.READY);

        SupervisionStatus s2 = kind.apply(f.record(id, "systemd_timer", "2"));
        assertEquals("2", s2.activeVersion().orElseThrow());
        java.util.concurrent.atomic.AtomicReference<SupervisionStatus> failed = new java.util.concurrent.atomic.AtomicReference<>();
        await("a failing run surfaces as failed", () -> {
            failed.set(statusOf(kind, id));
            return failed.get().state() == SupervisionState.FAILED;
        });
        assertTrue(failed.get().detail().contains("failed"), failed.get().detail());
        assertTrue(systemd.unit(timer).active(), "the timer keeps waiting while the add-on is failed");

        kind.remove(new AddonId(id));
        assertEquals(Set.of(), ownedFiles(id));
        assertEquals("not-found", systemd.unit(timer).loadState());
    }

    @Test
    void aTimerRunAsItsOwnUserWritesResultsIntoItsSpool() throws Exception {
        String id = newId();
        String timer = "steward-" + id + ".timer";
        String svc = "steward-" + id + ".service";
        // nobody must reach its program and its spool: the sandbox's temporary directories are 0700
        for (Path p : List.of(f.layout.privilegedRoot(), f.layout.data())) {
            for (Path q = p; q.getParent() != null && !q.equals(Path.of("/tmp")); q = q.getParent()) {
                Set<java.nio.file.attribute.PosixFilePermission> perms = new java.util.HashSet<>(
                        Files.getPosixFilePermissions(q));
                perms.add(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE);
                Files.setPosixFilePermissions(q, perms);
            }
        }
        RepoStager.publish(f.repo, id, "1", Map.of(timer, "[Timer]\nOnActiveSec=1\nOnUnitActiveSec=1\n"
                + "AccuracySec=1ms\n[Install]\nWantedBy=timers.target\n", svc, "[Service]\nType=oneshot\nUser=nobody\n"
                + "ExecStart=@ADDON_HOME@/run.sh @ADDON_SPOOL@\n", "run.sh", "#!/bin/sh\nset -e\n"
                + "printf '{\"uid\":%s}\\n' \"$(id -u)\" > \"$1/run-$$.tmp\"\nmv \"$1/run-$$.tmp\" \"$1/run-$$.jsonl\"\n"));
        UnitSupervisor kind = f.supervisor("systemd_timer");
        SupervisionStatus s = kind.apply(f.record(id, "systemd_timer", "1"));
        assertEquals(SupervisionState.READY, s.state(), s.detail());
        Path spool = f.layout.addonSpool(new AddonId(id));
        assertEquals(01733, (int) Files.getAttribute(spool, "unix:mode") & 07777, "anyone may drop a file, nobody lists");
        await("a run left a complete result file", () -> {
            try (Stream<Path> files = Files.list(spool)) {
                return files.anyMatch(p -> p.toString().endsWith(".jsonl"));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        try (Stream<Path> files = Files.list(spool)) {
            Path first = files.filter(p -> p.toString().endsWith(".jsonl")).findFirst().orElseThrow();
            assertEquals("{\"uid\":65534}\n", Files.readString(first), "written by the unit's own user");
        }
        kind.remove(new AddonId(id));
    }

    // ---- crash ---------------------------------------------------------------------------------------

    @Test
    void killedMidInstallTheRestartedAgentConvergesWithoutOrphans() throws Exception {
        String id = newId();
        String a = "steward-" + id + "-a.service";
        String b = "steward-" + id + "-b.service";
        RepoStager.publish(f.repo, id, "1", Map.of(a, service("a"), "run.sh", RUNS));
        RepoStager.publish(f.repo, id, "2", Map.of(b, service("b"), "run.sh", RUNS));
        assertEquals(SupervisionState.READY, f.supervisor("systemd_service")
                .apply(f.record(id, "systemd_service", "1")).state());

        killChildAtCrashPoint(id, "2");
        assertTrue(Files.exists(unit(b)), "the child had written the new unit");

        UnitSupervisor restarted = f.supervisor("systemd_service");
        SupervisionStatus interrupted = restarted.status(new AddonId(id));
        assertEquals(SupervisionState.FAILED, interrupted.state(), interrupted.detail());
        SupervisionStatus s = restarted.apply(f.record(id, "systemd_service", "2"));
        assertEquals(SupervisionState.READY, s.state(), s.detail());
        assertEquals(Set.of(b, "multi-user.target.wants/" + b), ownedFiles(id), "no orphan unit");
        assertEquals(ActiveState.ACTIVE, systemd.unit(b).activeState());
        assertEquals("not-found", systemd.unit(a).loadState());
        restarted.remove(new AddonId(id));
        assertEquals(Set.of(), ownedFiles(id));
    }

    @Test
    void killedMidFirstInstallARemovalByTheRestartedAgentLeavesNoUnit() throws Exception {
        String id = newId();
        String a = "steward-" + id + ".service";
        RepoStager.publish(f.repo, id, "1", Map.of(a, service("a"), "run.sh", RUNS));
        killChildAtCrashPoint(id, "1");
        assertTrue(Files.exists(unit(a)), "the child had written the unit");

        // the assignment is gone when the agent comes back: what the durable record names is removed
        UnitSupervisor restarted = f.supervisor("systemd_service");
        restarted.remove(new AddonId(id));
        assertEquals(Set.of(), ownedFiles(id), "no orphan unit");
        assertEquals("not-found", systemd.unit(a).loadState());
    }

    private void killChildAtCrashPoint(String id, String version) throws Exception {
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), CrashChild.class.getName(), sandbox.address(),
                f.repo.toString(), f.layout.data().toString(), f.layout.privilegedRoot().toString(),
                sandbox.unitDir().toString(), id, "systemd_service", version).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                StandardCharsets.UTF_8))) {
            StringBuilder seen = new StringBuilder();
            String line;
            while ((line = out.readLine()) != null && !line.equals(CrashChild.MARKER)) {
                seen.append(line).append('\n');
            }
            assertEquals(CrashChild.MARKER, line, "the child reached the crash point; it printed:\n" + seen);
            child.destroyForcibly();    // SIGKILL: no shutdown hook, no cleanup
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        }
    }
}
