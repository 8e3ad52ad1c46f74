package io.steward.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FleetOptionsTest {
    private static final Path HOME = Path.of("/opt/steward");

    private static Settings resolve(String... args) throws UsageException {
        return Settings.resolve(Options.parse(List.of(args)), HOME, Map.of());
    }

    @Test
    void natsAndHostIdBecomeFrameworkPropertiesAndTheFileSourceStaysStopped() throws Exception {
        Settings s = resolve("run", "--nats", "nats://127.0.0.1:4222,nats://10.0.0.2:4222", "--host-id", "web-1");
        Map<String, String> p = new HashMap<>();
        s.fleet().addTo(p);
        assertEquals("nats://127.0.0.1:4222,nats://10.0.0.2:4222", p.get("steward.nats.servers"));
        assertEquals("web-1", p.get("steward.host.id"));
        assertTrue(s.fleet().skips("io.steward.source.file"));
        assertFalse(s.fleet().skips("io.steward.source.nats"));
        assertEquals("web-1", FrameworkProperties.properties(s, Path.of("/tmp/x")).get("steward.host.id"));
    }

    @Test
    void withAFileTheFileSourceRunsBeside() throws Exception {
        Settings s = resolve("run", "-a", "/srv/a.json", "--nats", "tls://nats.example:4222");
        assertFalse(s.fleet().skips("io.steward.source.file"));
        assertFalse(resolve("run").fleet().skips("io.steward.source.file"));
    }

    @Test
    void pollBecomesTheHttpSourcesUrlAndTheFileSourceStaysStopped() throws Exception {
        Settings s = resolve("run", "--poll", "https://cp.example/hosts/web-1", "--host-id", "web-1");
        Map<String, String> p = FrameworkProperties.properties(s, Path.of("/tmp/x"));
        assertEquals("https://cp.example/hosts/web-1", p.get("steward.http.url"));
        assertEquals("web-1", p.get("steward.host.id"));
        assertEquals(null, p.get("steward.nats.servers"));
        assertTrue(s.fleet().skips("io.steward.source.file"));
        assertTrue(assertThrows(UsageException.class, () -> resolve("run", "--poll", "ftp://x/doc"))
                .getMessage().contains("is not an https:// URL"));
        assertTrue(assertThrows(UsageException.class, () -> resolve("run", "--poll", "https://x/d", "--nats", "nats://x:1"))
                .getMessage().contains("give one"));
    }

    @Test
    void badValuesAreUsageErrors() {
        assertTrue(assertThrows(UsageException.class, () -> resolve("run", "--nats", "http://x"))
                .getMessage().contains("is not a NATS URL"));
        assertTrue(assertThrows(UsageException.class, () -> resolve("run", "--nats", "nats://x:1", "--host-id", "a.b"))
                .getMessage().contains("is not a valid host id"));
        assertTrue(assertThrows(UsageException.class, () -> resolve("run", "--host-id", "a"))
                .getMessage().contains("--host-id needs --nats"));
        assertTrue(assertThrows(UsageException.class, () -> resolve("apply", "-a", "x", "--nats", "nats://x:1"))
                .getMessage().contains("does not apply to 'apply'"));
    }
}
