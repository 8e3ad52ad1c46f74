package io.steward.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SettingsTest {
    private static final Path HOME = Path.of("/opt/steward");

    private static Settings resolve(Map<String, String> env, String... args) throws UsageException {
        return Settings.resolve(Options.parse(List.of(args)), HOME, env);
    }

    @Test
    void defaultsAreTheDistributionsEmbeddedLayout() throws UsageException {
        Settings s = resolve(Map.of(), "status");
        assertEquals(Path.of("/opt/steward/data"), s.data());
        assertEquals(Path.of("/opt/steward/etc"), s.etc());
        assertEquals(Path.of("/opt/steward/etc/trust"), s.trust());
        assertEquals(Path.of("/opt/steward/etc/assignments.json"), s.assignments());
        assertEquals(Path.of("/etc/systemd/system"), s.unitDir());
        assertEquals(Path.of("/usr/lib/steward/addons"), s.privilegedRoot());
        assertEquals(Path.of("/opt/steward/bundle"), s.bundles());
        assertEquals(Path.of("/opt/steward/deploy"), s.deploy());
        assertNull(s.systemdBus());
    }

    @Test
    void trustAndAssignmentsFollowEtc() throws UsageException {
        Settings s = resolve(Map.of(), "plan", "--etc", "/srv/conf");
        assertEquals(Path.of("/srv/conf/trust"), s.trust());
        assertEquals(Path.of("/srv/conf/assignments.json"), s.assignments());
    }

    @Test
    void relativePathsBecomeAbsolute() throws UsageException {
        Settings s = resolve(Map.of(), "apply", "-a", "docs/../a.json", "--data", "d");
        Path cwd = Path.of("").toAbsolutePath();
        assertEquals(cwd.resolve("a.json"), s.assignments());
        assertEquals(cwd.resolve("d"), s.data());
    }

    @Test
    void systemdBusFromOptionElseEnvironment() throws UsageException {
        Map<String, String> env = Map.of("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/env");
        assertEquals("unix:path=/env", resolve(env, "status").systemdBus());
        assertEquals("unix:path=/opt", resolve(env, "status", "--systemd-bus", "unix:path=/opt").systemdBus());
    }

    @Test
    void homeFromEnvironmentElseAboveBin() {
        assertEquals(Path.of("/srv/st"), Settings.home(Map.of("STEWARD_HOME", "/srv/st/"), Path.of("/x/bin/l.jar")));
        assertEquals(Path.of("/x"), Settings.home(Map.of(), Path.of("/x/bin/steward-launcher.jar")));
        assertEquals(Path.of("/x"), Settings.home(Map.of("STEWARD_HOME", " "), Path.of("/x/bin/../bin/l.jar")));
    }

    @Test
    void frameworkPropertiesOfAOneShotCommand() throws UsageException {
        Settings s = resolve(Map.of(), "plan", "--json", "--systemd-bus", "unix:path=/b");
        Map<String, String> p = FrameworkProperties.properties(s, Path.of("/tmp/cache"));
        assertEquals("/opt/steward/data", p.get("steward.data"));
        assertEquals("/opt/steward/etc", p.get("steward.etc"));
        assertEquals("/opt/steward/etc/trust", p.get("steward.trust"));
        assertEquals("/etc/systemd/system", p.get("steward.unit.dir"));
        assertEquals("/usr/lib/steward/addons", p.get("steward.privileged.root"));
        assertEquals("/opt/steward/etc/assignments.json", p.get("steward.assignments"));
        assertEquals("plan", p.get("steward.command"));
        assertEquals("true", p.get("steward.json"));
        assertEquals("false", p.get("steward.verbose"));
        assertEquals("unix:path=/b", p.get("steward.systemd.bus"));
        assertEquals("/tmp/cache", p.get("org.osgi.framework.storage"));
        assertEquals("WARN", p.get("org.ops4j.pax.logging.DefaultServiceLog.level"));
        assertFalse(p.containsKey("org.osgi.framework.storage.clean"));
        assertFalse(p.containsKey("felix.fileinstall.dir"));
    }

    @Test
    void frameworkPropertiesOfTheAgent() throws UsageException {
        Map<String, String> p = FrameworkProperties.properties(resolve(Map.of(), "run"), Path.of("/opt/steward/data/cache/felix"));
        assertEquals("run", p.get("steward.command"));
        assertEquals("false", p.get("steward.json"));
        assertFalse(p.containsKey("steward.systemd.bus"));
        assertEquals("onFirstInit", p.get("org.osgi.framework.storage.clean"));
        assertEquals("WARN", p.get("org.ops4j.pax.logging.DefaultServiceLog.level"), "INFO only with --verbose");
        assertEquals("INFO", FrameworkProperties.properties(resolve(Map.of(), "run", "--verbose"), Path.of("/c"))
                .get("org.ops4j.pax.logging.DefaultServiceLog.level"));
        assertFalse(p.containsKey("gosh.args"), "leaving the shell stops the agent");
        assertEquals("/opt/steward/deploy,/opt/steward/etc", p.get("felix.fileinstall.dir"), "kinds, then configuration");
        assertEquals("false", p.get("felix.fileinstall.enableConfigSave"));
        assertEquals("1000", p.get("felix.fileinstall.poll"));
        assertEquals("true", p.get("felix.fileinstall.noInitialDelay"));
        assertEquals("2", p.get("felix.fileinstall.log.level"));
        assertEquals("1", p.get("felix.resolver.parallelism"), "the agent keeps no resolver threads");
        assertEquals("INFO", FrameworkProperties.properties(resolve(Map.of(), "status", "--verbose"), Path.of("/c"))
                .get("org.ops4j.pax.logging.DefaultServiceLog.level"));
    }
}
