package io.steward.systemd.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.systemd.LoadedUnit;
import io.steward.systemd.LoadedUnit.BindPath;
import io.steward.systemd.LoadedUnit.ExecCommand;
import io.steward.systemd.testing.SystemdSandbox;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link DbusSystemdManager#loaded} against the real systemd of the sandbox: what systemd 252 reports after
 * parsing, which is what a checker has to validate.
 */
class LoadedUnitTest {
    private static final Duration JOB = Duration.ofSeconds(30);
    private static SystemdSandbox sandbox;
    private static DbusSystemdManager systemd;
    private final List<Path> written = new ArrayList<>();

    @BeforeAll
    static void connect() throws Exception {
        sandbox = SystemdSandbox.shared();
        systemd = new DbusSystemdManager(sandbox.address(), Duration.ofSeconds(10));
    }

    @AfterAll
    static void close() {
        systemd.close();
    }

    @AfterEach
    void removeUnits() throws Exception {
        for (Path p : written) {
            Files.deleteIfExists(p);
        }
        systemd.reload();
    }

    private static String name(String suffix) {
        return "steward-lu" + UUID.randomUUID().toString().substring(0, 6) + suffix;
    }

    private void write(String unit, String text) throws Exception {
        Path p = sandbox.unitDir().resolve(unit);
        Files.writeString(p, text);
        written.add(p);
    }

    @Test
    void aServiceAsSystemdParsedIt() throws Exception {
        String unit = name(".service");
        String base = unit.substring(0, unit.length() - ".service".length());
        write(unit, """
                [Unit]
                Wants=%1$s-w.service
                Conflicts=%1$s-c.service
                OnFailure=%1$s-f.service
                [Service]
                ExecCondition=/bin/true
                ExecStartPre=-/bin/echo "a b" 'c d' e\\x41f
                ExecStartPre=+/bin/true x
                ExecStartPre=!!/bin/true
                ExecStart=@/bin/sleep sleeper 600
                ExecStartPost=/bin/true ; /bin/echo two
                ExecReload=/bin/kill -HUP $MAINPID
                ExecStop=:/bin/echo ${FOO}
                ExecStopPost=/bin/echo %%n
                Environment="A=1 2" B=x A=3
                Environment=B=y
                Environment=LD_PRELOAD=/lib/x.so LD_PRELOAD=/tmp/y.so C=\\x50
                EnvironmentFile=-/etc/steward-none
                EnvironmentFile=/etc/steward-env
                PassEnvironment=TERM LANG
                WorkingDirectory=-/srv
                BindPaths=/var/lib/x:/mnt/x
                BindReadOnlyPaths=/usr:/mnt/usr -/opt
                RootDirectory=/
                ExecSearchPath=/usr/bin:/bin
                TemporaryFileSystem=/var:ro
                LoadCredential=tok:/etc/tok
                SetCredential=pw:secret
                User=nobody
                Group=nogroup
                SupplementaryGroups=adm users
                PIDFile=/run/x.pid
                """.formatted(base));
        LoadedUnit u = systemd.loaded(unit);

        assertEquals(unit, u.name());
        assertEquals(List.of(unit), u.names());
        assertEquals("loaded", u.loadState());
        assertTrue(u.loaded());
        assertEquals("/etc/systemd/system/" + unit, u.fragmentPath());
        assertEquals(List.of(), u.dropInPaths());
        assertFalse(u.needDaemonReload());
        assertEquals("simple", u.type());

        assertEquals(List.of(new ExecCommand("/bin/true", List.of("/bin/true"))), u.exec("ExecCondition"));
        assertEquals(List.of(
                new ExecCommand("/bin/echo", List.of("/bin/echo", "a b", "c d", "eAf"), List.of("ignore-failure")),
                new ExecCommand("/bin/true", List.of("/bin/true", "x"), List.of("privileged")),
                new ExecCommand("/bin/true", List.of("/bin/true"), List.of("ambient"))), u.exec("ExecStartPre"));
        assertTrue(u.exec("ExecStartPre").get(1).privileged());
        assertEquals(List.of(new ExecCommand("/bin/sleep", List.of("sleeper", "600"))), u.exec("ExecStart"),
                "@ changes argv[0] only");
        assertEquals(List.of(new ExecCommand("/bin/true", List.of("/bin/true")),
                new ExecCommand("/bin/echo", List.of("/bin/echo", "two"))), u.exec("ExecStartPost"),
                "; separates two commands");
        assertEquals(List.of(new ExecCommand("/bin/kill", List.of("/bin/kill", "-HUP", "$MAINPID"))),
                u.exec("ExecReload"), "variables are expanded when the command runs, not at load");
        assertEquals(List.of(new ExecCommand("/bin/echo", List.of("/bin/echo", "${FOO}"), List.of("no-env-expand"))),
                u.exec("ExecStop"));
        assertEquals(List.of(new ExecCommand("/bin/echo", List.of("/bin/echo", unit))), u.exec("ExecStopPost"),
                "specifiers are expanded at load");
        assertEquals(10, u.allCommands().size());

        assertEquals(List.of("A=3", "B=y", "LD_PRELOAD=/tmp/y.so", "C=P"), u.environment(),
                "one entry per variable, the last assignment wins, escapes resolved");
        assertEquals(List.of("/etc/steward-none", "/etc/steward-env"), u.environmentFiles());
        assertEquals(List.of("TERM", "LANG"), u.passEnvironment());
        assertEquals("!/srv", u.workingDirectory());
        assertEquals("/", u.rootDirectory());
        assertEquals("", u.rootImage());
        assertEquals(List.of(new BindPath("/var/lib/x", "/mnt/x")), u.bindPaths());
        assertEquals(List.of(new BindPath("/usr", "/mnt/usr"), new BindPath("/opt", "/opt")), u.bindReadOnlyPaths());
        assertEquals(List.of("/usr/bin", "/bin"), u.execSearchPath());
        assertEquals(List.of("/var"), u.temporaryFileSystem());
        assertEquals(List.of("tok"), u.loadCredentials());
        assertEquals(List.of("pw"), u.setCredentials());
        assertEquals("nobody", u.user());
        assertEquals("nogroup", u.group());
        assertEquals(List.of("adm", "users"), u.supplementaryGroups());
        assertFalse(u.dynamicUser());
        assertEquals("/run/x.pid", u.pidFile());

        assertEquals(List.of(base + "-w.service"), u.dependency("Wants"));
        assertEquals(sorted("sysinit.target", "system.slice"), sorted(u.dependency("Requires")),
                "implicit: the default dependencies and the slice");
        assertEquals(sorted("shutdown.target", base + "-c.service"), sorted(u.dependency("Conflicts")));
        assertEquals(List.of(base + "-f.service"), u.dependency("OnFailure"));
        for (String d : List.of("Requisite", "BindsTo", "PartOf", "Upholds", "OnSuccess", "PropagatesReloadTo",
                "ReloadPropagatedFrom", "PropagatesStopTo", "StopPropagatedFrom", "Triggers", "TriggeredBy")) {
            assertEquals(List.of(), u.dependency(d), d);
        }
    }

    private static List<String> sorted(String... names) {
        return java.util.Arrays.stream(names).sorted().toList();
    }

    private static List<String> sorted(List<String> names) {
        return names.stream().sorted().toList();
    }

    @Test
    void implicitDependenciesOfCommonSettings() throws Exception {
        String dbus = name(".service");
        write(dbus, "[Service]\nType=dbus\nBusName=io.steward.x\nExecStart=/bin/sleep 600\n");
        LoadedUnit d = systemd.loaded(dbus);
        assertEquals("dbus", d.type());
        assertEquals(sorted("sysinit.target", "system.slice", "dbus.socket"), sorted(d.dependency("Requires")));
        assertEquals(List.of("shutdown.target"), d.dependency("Conflicts"));

        String privateTmp = name(".service");
        write(privateTmp, "[Service]\nPrivateTmp=yes\nExecStart=/bin/sleep 600\n");
        LoadedUnit p = systemd.loaded(privateTmp);
        assertEquals(List.of("tmp.mount"), p.dependency("Wants"), "PrivateTmp= wants tmp.mount");
        assertEquals(sorted("sysinit.target", "system.slice"), sorted(p.dependency("Requires")));

        String dynamic = name(".service");
        write(dynamic, "[Service]\nDynamicUser=yes\nExecStart=/bin/sleep 600\n");
        LoadedUnit du = systemd.loaded(dynamic);
        assertTrue(du.dynamicUser());
        assertEquals(List.of("tmp.mount"), du.dependency("Wants"), "DynamicUser= implies PrivateTmp=");

        String noDefaults = name(".service");
        write(noDefaults, "[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/bin/sleep 600\n");
        LoadedUnit nd = systemd.loaded(noDefaults);
        assertEquals(List.of("system.slice"), nd.dependency("Requires"));
        assertEquals(List.of(), nd.dependency("Conflicts"));
    }

    @Test
    void aBareNameStaysBareAndABadSettingStillReportsProperties() throws Exception {
        String bare = name(".service");
        write(bare, "[Service]\nExecSearchPath=/nonexistent\nExecStart=sleep 600\n");
        LoadedUnit b = systemd.loaded(bare);
        assertEquals("loaded", b.loadState());
        assertEquals(List.of(new ExecCommand("sleep", List.of("sleep", "600"))), b.exec("ExecStart"),
                "systemd looks a bare name up when it runs the command, not at load");
        assertEquals(List.of("/nonexistent"), b.execSearchPath());

        String bad = name(".service");
        write(bad, "[Service]\nExecStart=/bin/true ; /bin/echo x\n");   // two ExecStart for Type=simple
        LoadedUnit x = systemd.loaded(bad);
        assertEquals("bad-setting", x.loadState());
        assertFalse(x.loaded());
        assertEquals(2, x.exec("ExecStart").size(), "a unit systemd refused still shows what it parsed");
    }

    @Test
    void aTimerTriggersTheFirstUnit() throws Exception {
        String service = name(".service");
        String other = name(".service");
        String timer = service.replace(".service", ".timer");
        write(service, "[Service]\nType=oneshot\nExecStart=/bin/true\n");
        write(other, "[Service]\nType=oneshot\nExecStart=/bin/true\n");
        write(timer, "[Timer]\nOnActiveSec=1h\nUnit=" + other + "\nUnit=" + service + "\n");
        LoadedUnit t = systemd.loaded(timer);
        assertEquals("loaded", t.loadState());
        assertEquals(List.of(other), t.triggers(), "systemd keeps the first Unit=");
        assertEquals(List.of("sysinit.target"), t.dependency("Requires"));
        assertEquals(List.of("shutdown.target"), t.dependency("Conflicts"));
        assertEquals("", t.type());
        assertEquals("", t.user());
        assertTrue(t.allCommands().isEmpty());
        assertEquals(LoadedUnit.EXEC_PROPERTIES, List.copyOf(t.exec().keySet()));
        assertEquals(LoadedUnit.DEPENDENCY_PROPERTIES, List.copyOf(t.dependencies().keySet()));
        assertEquals(List.of(), t.environment());
        assertEquals(List.of(), t.execSearchPath());
        // TriggeredBy exists only while the timer is held (an inactive timer nothing refers to is unloaded)
        assertEquals(io.steward.systemd.JobOutcome.DONE, systemd.start(timer, JOB).outcome());
        try {
            LoadedUnit target = systemd.loaded(other);
            assertEquals(List.of(timer), target.dependency("TriggeredBy"));
            assertEquals(List.of(), systemd.loaded(service).dependency("TriggeredBy"));
        } finally {
            systemd.stop(timer, JOB);
        }
    }

    @Test
    void anAliasSymlinkShowsInNames() throws Exception {
        String unit = name(".service");
        String alias = name(".service");
        write(unit, "[Service]\nExecStart=/bin/sleep 600\n");
        Path link = sandbox.unitDir().resolve(alias);
        Files.createSymbolicLink(link, Path.of(unit));      // relative, inside the unit directory
        written.add(link);
        LoadedUnit u = systemd.loaded(unit);
        assertEquals(unit, u.name());
        assertEquals(sorted(unit, alias), sorted(u.names()));
        LoadedUnit viaAlias = systemd.loaded(alias);
        assertEquals(unit, viaAlias.name(), "loading the alias gives the unit it points at");
        assertEquals(sorted(unit, alias), sorted(viaAlias.names()));
    }

    @Test
    void anAliasCreatedWhileTheUnitIsHeldIsAUnitInError() throws Exception {
        String unit = name(".service");
        String alias = name(".service");
        write(unit, "[Service]\nExecStart=/bin/sleep 600\n");
        systemd.start(unit, JOB);     // held: systemd does not unload it
        try {
            assertEquals(List.of(unit), systemd.loaded(unit).names());
            Path link = sandbox.unitDir().resolve(alias);
            Files.createSymbolicLink(link, Path.of(unit));
            written.add(link);
            assertEquals(List.of(unit), systemd.loaded(unit).names(), "systemd has not looked at the directory again");
            LoadedUnit viaAlias = systemd.loaded(alias);
            assertEquals(alias, viaAlias.name(), "a unit of its own, not merged into the running one");
            assertEquals("error", viaAlias.loadState());
            assertEquals("/etc/systemd/system/" + unit, viaAlias.fragmentPath());
            assertEquals(List.of(unit), systemd.loaded(unit).names());
        } finally {
            systemd.stop(unit, JOB);
        }
        // stopped and unreferenced, systemd unloads it; the next load finds the alias
        waitFor(() -> systemd.loaded(unit).names().size() == 2);
        assertEquals(sorted(unit, alias), sorted(systemd.loaded(unit).names()));
    }

    @Test
    void aSymlinkOutOfTheSearchPathIsALinkedUnitNotAnAlias() throws Exception {
        // the sandbox's unit dir is /etc/systemd/system inside, another path outside: an absolute link to the
        // host path leaves systemd's search path, so systemd loads it as a unit of its own ("linked")
        String unit = name(".service");
        String other = name(".service");
        write(unit, "[Service]\nExecStart=/bin/sleep 600\n");
        Path link = sandbox.unitDir().resolve(other);
        Files.createSymbolicLink(link, sandbox.unitDir().resolve(unit));
        written.add(link);
        LoadedUnit u = systemd.loaded(other);
        assertEquals(other, u.name());
        assertEquals(List.of(other), u.names());
        assertEquals("/etc/systemd/system/" + other, u.fragmentPath());
        assertEquals(List.of(unit), systemd.loaded(unit).names());
    }

    @Test
    void aUnitNeverLoadedIsReadWithoutAReload() throws Exception {
        String unit = name(".service");
        LoadedUnit missing = systemd.loaded(unit);
        assertEquals("not-found", missing.loadState());
        assertEquals("", missing.fragmentPath());
        assertTrue(missing.allCommands().isEmpty());
        write(unit, "[Service]\nExecStart=/bin/sleep 601\n");
        long reloadsBefore = systemd.statistics().mutatingCalls();
        LoadedUnit u = systemd.loaded(unit);
        assertEquals("loaded", u.loadState(), "LoadUnit retries a not-found unit once the directory changed");
        assertEquals(List.of(new ExecCommand("/bin/sleep", List.of("/bin/sleep", "601"))), u.exec("ExecStart"));
        assertEquals(reloadsBefore, systemd.statistics().mutatingCalls());
    }

    @Test
    void aChangeOnDiskAfterTheLoadNeedsAReload() throws Exception {
        String unit = name(".service");
        write(unit, "[Service]\nExecStart=/bin/sleep 601\nEnvironment=A=1\n");
        systemd.start(unit, JOB);
        try {
            assertEquals("/bin/sleep", systemd.loaded(unit).exec("ExecStart").get(0).path());
            write(unit, "[Service]\nExecStart=/bin/sleep 602\nEnvironment=A=2\n");
            LoadedUnit stale = systemd.loaded(unit);
            assertTrue(stale.needDaemonReload());
            assertEquals(List.of("/bin/sleep", "601"), stale.exec("ExecStart").get(0).argv(), "still what was loaded");
            assertEquals(List.of("A=1"), stale.environment());
            systemd.reload();
            LoadedUnit fresh = systemd.loaded(unit);
            assertFalse(fresh.needDaemonReload());
            assertEquals(List.of("/bin/sleep", "602"), fresh.exec("ExecStart").get(0).argv());
            assertEquals(List.of("A=2"), fresh.environment());
        } finally {
            systemd.stop(unit, JOB);
        }
    }

    @Test
    void anInactiveUnitNothingRefersToIsReadAgainWithoutAReload() throws Exception {
        String unit = name(".service");
        write(unit, "[Service]\nExecStart=/bin/sleep 601\n");
        assertEquals(List.of("/bin/sleep", "601"), systemd.loaded(unit).exec("ExecStart").get(0).argv());
        write(unit, "[Service]\nExecStart=/bin/sleep 602\n");
        // systemd garbage-collects the unit after the call; the next access loads the file again
        waitFor(() -> {
            LoadedUnit u = systemd.loaded(unit);
            return !u.needDaemonReload() && u.exec("ExecStart").get(0).argv().equals(List.of("/bin/sleep", "602"));
        });
    }

    interface Condition {
        boolean holds() throws Exception;
    }

    private static void waitFor(Condition c) throws Exception {
        try {
            Awaitility.await().atMost(Duration.ofSeconds(10)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(20))
                    .pollInSameThread().until(c::holds);
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("condition not reached within 10 s", e);
        }
    }

    @Test
    void dropInsAreMergedAndListed() throws Exception {
        String unit = name(".service");
        write(unit, "[Service]\nExecStart=/bin/sleep 600\nEnvironment=A=1\n");
        Path dir = sandbox.unitDir().resolve(unit + ".d");
        Files.createDirectories(dir);
        write(unit + ".d/x.conf", "[Service]\nEnvironment=A=2\nExecStart=\nExecStart=/bin/true\n");
        written.add(dir);
        LoadedUnit u = systemd.loaded(unit);
        assertEquals(List.of("/etc/systemd/system/" + unit + ".d/x.conf"), u.dropInPaths());
        assertEquals(List.of("A=2"), u.environment());
        assertEquals(List.of(new ExecCommand("/bin/true", List.of("/bin/true"))), u.exec("ExecStart"),
                "an empty ExecStart= resets the list");
    }
}
