package io.steward.source.nats.internal;

import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.nats.client.Connection;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.steward.assignment.codec.JsonAssignmentCodec;
import io.steward.delivery.trust.Ed25519;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.framework.Version;

/** What the NATS tests share: a source outside a framework, a signing controller, waiting with a deadline. */
final class Harness {
    static final Duration DEADLINE = Duration.ofSeconds(30);

    private Harness() {
    }

    /** An annotation-typed configuration: {@code values} (by method name), else the defaults. */
    static NatsSourceConfig config(Map<String, Object> values) {
        return (NatsSourceConfig) Proxy.newProxyInstance(NatsSourceConfig.class.getClassLoader(),
                new Class<?>[] {NatsSourceConfig.class}, (proxy, method, args) -> {
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

    /** A bundle context that answers framework properties and takes service registrations. */
    static BundleContext context(Map<String, String> properties) {
        Bundle bundle = (Bundle) Proxy.newProxyInstance(Bundle.class.getClassLoader(), new Class<?>[] {Bundle.class},
                (p, m, a) -> m.getName().equals("getVersion") ? new Version(0, 1, 0) : null);
        ServiceRegistration<?> reg = (ServiceRegistration<?>) Proxy.newProxyInstance(ServiceRegistration.class.getClassLoader(),
                new Class<?>[] {ServiceRegistration.class}, (p, m, a) -> null);
        return (BundleContext) Proxy.newProxyInstance(BundleContext.class.getClassLoader(), new Class<?>[] {BundleContext.class},
                (p, m, a) -> switch (m.getName()) {
                    case "getProperty" -> properties.get((String) a[0]);
                    case "getBundle" -> bundle;
                    case "registerService" -> reg;
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    /** The layout of one agent: data, trust with the fleet key. */
    record Agent(Path data, Path trust) {
    }

    static Agent agent(Path root, KeyPair fleetKey) throws Exception {
        Path trust = Files.createDirectories(root.resolve("etc/trust"));
        Files.writeString(trust.resolve("fleet.pem"), Ed25519.publicPem(fleetKey.getPublic()));
        return new Agent(Files.createDirectories(root.resolve("data")), trust);
    }

    static NatsAssignmentSource source(Agent agent, String servers, String host, Map<String, Object> more) throws Exception {
        Map<String, String> props = new HashMap<>();
        props.put("steward.data", agent.data().toString());
        props.put("steward.etc", agent.trust().getParent().toString());
        props.put("steward.trust", agent.trust().toString());
        props.put("steward.command", "run");
        props.put("steward.nats.servers", servers);
        props.put("steward.host.id", host);
        Map<String, Object> values = new HashMap<>(Map.of("reconnect_wait_millis", 50L, "reconnect_max_millis", 500L,
                "heartbeat_seconds", 5L));
        values.putAll(more);
        return new NatsAssignmentSource(context(props), new JsonAssignmentCodec(), config(values));
    }

    static Connection connect(String servers) throws Exception {
        return Nats.connect(new Options.Builder().servers(servers.split(",")).maxReconnects(-1)
                .reconnectWait(Duration.ofMillis(50)).build());
    }

    static String doc(String revision, String... toggles) {
        StringBuilder addons = new StringBuilder();
        for (String t : toggles) {
            addons.append(addons.length() == 0 ? "" : ",").append("{\"id\":\"").append(t)
                    .append("\",\"version\":\"1.0.0\",\"supervision\":\"config_toggle\"}");
        }
        return "{\"revision\":\"" + revision + "\",\"addons\":[" + addons + "]}";
    }

    /** A pass that made every add-on of the source's document ready. */
    static ReconcileReport passOver(NatsAssignmentSource source) {
        List<SupervisionStatus> statuses = source.snapshot().document().map(d -> d.addons().stream()
                .map(a -> new SupervisionStatus(a.id(), a.kind(), SupervisionState.READY, Optional.of(a.version()),
                        Optional.of(a.version()), "capabilities on", Instant.now())).toList()).orElse(List.of());
        return new ReconcileReport(source.snapshot().document().map(d -> d.revision()).orElse(""), List.of(), statuses,
                source.snapshot().warnings(), Instant.now(), Duration.ZERO);
    }

    static JsonObject json(byte[] bytes) {
        return JsonParser.parseString(new String(bytes, StandardCharsets.UTF_8)).getAsJsonObject();
    }

    /** A condition that may throw while it is not met yet (a server restarting). */
    @FunctionalInterface
    interface Condition {
        boolean met() throws Exception;
    }

    static void await(String what, Condition condition) throws InterruptedException {
        await(what, DEADLINE, condition);
    }

    static void await(String what, Duration deadline, Condition condition) throws InterruptedException {
        try {
            Awaitility.await(what).atMost(deadline).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(20))
                    .pollInSameThread()
                    .ignoreExceptionsMatching(e -> !(e instanceof InterruptedException))   // not yet (a server restarting)
                    .until(condition::met);
        } catch (ConditionTimeoutException e) {
            fail("not within " + deadline.toSeconds() + " s: " + what, e);
        }
    }
}
