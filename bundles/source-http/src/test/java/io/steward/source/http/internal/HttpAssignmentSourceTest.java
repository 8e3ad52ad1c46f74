package io.steward.source.http.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.assignment.codec.JsonAssignmentCodec;
import io.steward.delivery.trust.Ed25519;
import io.steward.source.signed.SignedAssignment;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

/** The component on its own threads against a real local TLS server; its configuration rules. */
class HttpAssignmentSourceTest {
    static final String DOC = "{\"revision\":\"a\",\"addons\":[]}";

    @TempDir
    Path dir;

    @Test
    void pollsOverTlsWithTheConfiguredCaAndLeavesNoThreadWhenStopped() throws Exception {
        pollAndStop();
        // the JDK 17 client's selector thread ends once the client is unreachable (Java 21 closes it); the
        // source lived in pollAndStop's frame only, so nothing here keeps it reachable
        waitFor(() -> {
            System.gc();
            return threads().isEmpty();
        });
    }

    private void pollAndStop() throws Exception {
        KeyPair key = Ed25519.generate();
        Path trust = Files.createDirectories(dir.resolve("etc/trust"));
        Files.writeString(trust.resolve("fleet.pem"), Ed25519.publicPem(key.getPublic()));
        try (TlsServer server = new TlsServer(Files.createDirectories(dir.resolve("tls")))) {
            byte[] value = SignedAssignment.sign("h1", 1, DOC, "fleet", key.getPrivate()).toJson().getBytes(StandardCharsets.UTF_8);
            server.respond = ex -> TlsServer.Response.ok(value, "\"1\"");
            HttpAssignmentSource source = source(trust, Map.of("url", server.url(), "host_id", "h1",
                    "tls_ca_file", server.certificatePem.toString()));
            waitFor(() -> source.snapshot().document().isPresent());
            assertEquals("a", source.snapshot().document().get().revision());
            assertEquals("http:" + server.url(), source.snapshot().name());
            source.deactivate();
        }
    }

    @Test
    void offWithoutAUrlAndPlainHttpOnlyToLoopback() throws Exception {
        Path trust = Files.createDirectories(dir.resolve("etc/trust"));
        HttpAssignmentSource off = source(trust, Map.of());
        assertNull(off.poller());
        off.deactivate();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> source(trust, Map.of("url", "http://example.org/doc", "host_id", "h1")));
        assertTrue(e.getMessage().contains("not loopback"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> HttpSettings.checkedUrl("ftp://127.0.0.1/doc"));
        assertThrows(IllegalArgumentException.class, () -> HttpSettings.checkedUrl("https://user:pw@example.org/doc"));
        assertEquals("http", HttpSettings.checkedUrl("http://127.0.0.1:8080/doc").getScheme());
        // the rule's neighbours: the whole loopback range and its spellings pass; anything a name or the
        // unspecified address could send off the host does not
        for (String near : List.of("http://127.9.8.7/d", "http://[::1]:8080/d", "http://localhost/d",
                "http://LOCALHOST:1/d")) {
            assertEquals("http", HttpSettings.checkedUrl(near).getScheme(), near);
        }
        for (String far : List.of("http://0.0.0.0/d", "http://[::]/d", "http://127.0.0.1.nip.io/d", "http://localhost./d",
                "http://localhost.example.org/d", "http://10.0.0.1/d", "http://[fe80::1]/d", "http://8.8.8.8/d")) {
            assertThrows(IllegalArgumentException.class, () -> HttpSettings.checkedUrl(far), far);
        }
    }

    static List<String> threads() {
        return Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
                .filter(n -> n.startsWith("source-http") || n.startsWith("HttpClient-")).toList();
    }

    HttpAssignmentSource source(Path trust, Map<String, Object> values) throws Exception {
        Map<String, String> props = new HashMap<>();
        props.put("steward.data", Files.createDirectories(dir.resolve("data")).toString());
        props.put("steward.etc", trust.getParent().toString());
        props.put("steward.trust", trust.toString());
        props.put("steward.command", "run");
        return new HttpAssignmentSource(context(props), new JsonAssignmentCodec(), config(values));
    }

    static HttpSourceConfig config(Map<String, Object> values) {
        return (HttpSourceConfig) Proxy.newProxyInstance(HttpSourceConfig.class.getClassLoader(),
                new Class<?>[] {HttpSourceConfig.class}, (proxy, method, args) -> {
                    if (values.containsKey(method.getName())) {
                        return values.get(method.getName());
                    }
                    Object d = method.getDefaultValue();
                    if (d == null) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    return d;
                });
    }

    static BundleContext context(Map<String, String> properties) {
        ServiceRegistration<?> reg = (ServiceRegistration<?>) Proxy.newProxyInstance(ServiceRegistration.class.getClassLoader(),
                new Class<?>[] {ServiceRegistration.class}, (p, m, a) -> null);
        return (BundleContext) Proxy.newProxyInstance(BundleContext.class.getClassLoader(), new Class<?>[] {BundleContext.class},
                (p, m, a) -> switch (m.getName()) {
                    case "getProperty" -> properties.get((String) a[0]);
                    case "registerService" -> reg;
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    static void waitFor(BooleanSupplier condition) throws InterruptedException {
        try {
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(20))
                    .pollInSameThread().until(condition::getAsBoolean);
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("not within 30 s; threads: " + threads(), e);
        }
    }
}
