package io.steward.source.nats.internal;

import static io.steward.source.nats.internal.Harness.await;
import static io.steward.source.nats.internal.Harness.doc;
import static io.steward.source.nats.internal.Harness.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.nats.client.Connection;
import io.nats.client.KeyValue;
import io.steward.delivery.trust.Ed25519;
import io.steward.source.nats.fleet.FleetController;
import io.steward.source.signed.SignedAssignment;
import io.steward.supervision.spi.AssignmentSource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The NATS source against a real nats-server on loopback (started and stopped here). */
class NatsAssignmentSourceTest {
    @TempDir
    Path dir;
    KeyPair fleetKey;
    NatsServer server;
    Connection controllerConnection;
    FleetController controller;
    NatsAssignmentSource source;

    @BeforeEach
    void key() {
        fleetKey = Ed25519.generate();
    }

    @AfterEach
    void stop() throws Exception {
        if (source != null) {
            source.deactivate();
        }
        if (controllerConnection != null) {
            controllerConnection.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private void startServer() throws Exception {
        server = NatsServer.start(Files.createDirectories(dir.resolve("nats")));
        controllerConnection = Harness.connect(server.url());
        controller = new FleetController(controllerConnection, "steward-assignments", "steward-status");
        controller.ensureBuckets(1);
    }

    private Optional<String> revision(AssignmentSource s) {
        return s.snapshot().document().map(d -> d.revision());
    }

    private JsonObject status(String host) throws Exception {
        return json(controller.status(host).orElseThrow());
    }

    private long consumers() throws Exception {
        return controllerConnection.jetStreamManagement().getStreamInfo("KV_steward-assignments").getStreamState()
                .getConsumerCount();
    }

    @Test
    void aPutReachesTheAgentAndTheStatusAcksItsSerial() throws Exception {
        startServer();
        source = Harness.source(Harness.agent(dir.resolve("h1"), fleetKey), server.url(), "h1", Map.of());
        assertTrue(source.snapshot().error().orElseThrow().contains("no document"), source.snapshot().toString());

        FleetController.Published p = controller.put("h1", doc("r1", "flow"), "fleet", fleetKey.getPrivate());
        assertEquals(1, p.serial());
        await("the document arrives", () -> revision(source).equals(Optional.of("r1")));
        assertTrue(source.snapshot().error().isEmpty(), source.snapshot().toString());
        source.passCompleted(Harness.passOver(source));
        await("the status acks serial 1, converged", () -> {
            JsonObject s = status("h1");
            return s.get("serial").getAsLong() == 1 && s.get("converged").getAsBoolean();
        });
        JsonObject s = status("h1");
        assertEquals("h1", s.get("host").getAsString());
        assertEquals(p.sha256(), s.get("digest").getAsString());
        assertEquals("flow", s.getAsJsonArray("addons").get(0).getAsJsonObject().get("id").getAsString());
        assertEquals("ready", s.getAsJsonArray("addons").get(0).getAsJsonObject().get("state").getAsString());
        assertTrue(s.get("error").isJsonNull());

        assertEquals(2, controller.put("h1", doc("r2", "flow", "export"), "fleet", fleetKey.getPrivate()).serial());
        await("the next serial arrives", () -> revision(source).equals(Optional.of("r2")));
        await("the status says serial 2 is pending until a pass applies it",
                () -> status("h1").has("pending_serial") && !status("h1").get("converged").getAsBoolean());
        source.passCompleted(Harness.passOver(source));
        await("serial 2 acked", () -> status("h1").get("serial").getAsLong() == 2 && status("h1").get("converged").getAsBoolean());
    }

    @Test
    void refusedValuesChangeNothingAndTheStatusSaysWhy() throws Exception {
        startServer();
        source = Harness.source(Harness.agent(dir.resolve("h1"), fleetKey), server.url(), "h1",
                Map.of("max_value_bytes", 4096));
        controller.put("h1", doc("good", "flow"), "fleet", fleetKey.getPrivate());
        await("the first document arrives", () -> revision(source).equals(Optional.of("good")));
        source.passCompleted(Harness.passOver(source));
        KeyValue kv = controllerConnection.keyValue("steward-assignments");
        KeyPair stranger = Ed25519.generate();
        SignedAssignment valid2 = SignedAssignment.sign("h1", 2, doc("evil"), "fleet", fleetKey.getPrivate());
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put(SignedAssignment.sign("h1", 2, doc("evil"), "fleet", stranger.getPrivate()).toJson(), "does not match key 'fleet'");
        cases.put(new SignedAssignment("h1", 2, doc("evil2"), "fleet", valid2.signature()).toJson(), "does not match key 'fleet'");
        cases.put(SignedAssignment.sign("h2", 2, doc("evil"), "fleet", fleetKey.getPrivate()).toJson(), "is for host 'h2'");
        cases.put(SignedAssignment.sign("h1", 1, doc("replay"), "fleet", fleetKey.getPrivate()).toJson(), "serial 1 is not newer than serial 1");
        cases.put(doc("unsigned", "x"), "unknown field 'revision'");
        cases.put("{not json", "is not valid JSON");
        cases.put("{\"pad\":\"" + "x".repeat(5000) + "\"}", "more than the limit of 4096");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            kv.put("host.h1", c.getKey().getBytes(StandardCharsets.UTF_8));
            await("refused: " + c.getValue(), () -> source.snapshot().error().orElse("").contains(c.getValue()));
            assertEquals(Optional.of("good"), revision(source), "the last valid document stays in effect");
            await("the status names the refusal", () -> !status("h1").get("error").isJsonNull()
                    && status("h1").get("error").getAsString().contains(c.getValue()));
            assertEquals(1, status("h1").get("serial").getAsLong());
        }
        kv.delete("host.h1");
        await("a deletion is a warning, not a removal", () -> String.join(" ", source.snapshot().warnings()).contains("was deleted"));
        assertEquals(Optional.of("good"), revision(source));

        controller.put("h1", doc("better", "flow"), "fleet", fleetKey.getPrivate());
        await("a valid document after the refusals applies and clears the error",
                () -> revision(source).equals(Optional.of("better")) && source.snapshot().error().isEmpty());
    }

    @Test
    void serverKilledAndRestartedTheAgentResumesWithOneConsumer() throws Exception {
        startServer();
        source = Harness.source(Harness.agent(dir.resolve("h1"), fleetKey), server.url(), "h1", Map.of());
        controller.put("h1", doc("before", "flow"), "fleet", fleetKey.getPrivate());
        await("the document arrives", () -> revision(source).equals(Optional.of("before")));
        await("one consumer", () -> consumers() == 1);
        for (int round = 1; round <= 3; round++) {
            server.restart();
            String revision = "after-" + round;
            await("the controller reconnects", () -> controllerConnection.getStatus() == Connection.Status.CONNECTED);
            await("a put after restart " + round, () -> {
                try {
                    controller.put("h1", doc(revision, "flow"), "fleet", fleetKey.getPrivate());
                    return true;
                } catch (Exception e) {
                    return false;        // JetStream still electing after the restart
                }
            });
            await("the agent resumes and gets " + revision, () -> revision(source).equals(Optional.of(revision)));
            assertEquals(Optional.of("flow"), source.snapshot().document().map(d -> d.addons().get(0).id().value()));
        }
        await("no consumer left behind per reconnect", () -> consumers() == 1);
    }

    @Test
    void startedBeforeTheServerTheAgentAppliesItsCacheAndConvergesWhenTheServerComes() throws Exception {
        Harness.Agent agent = Harness.agent(dir.resolve("h1"), fleetKey);
        // an earlier run cached serial 4
        byte[] cached = SignedAssignment.sign("h1", 4, doc("cached", "flow"), "fleet", fleetKey.getPrivate()).toJson()
                .getBytes(StandardCharsets.UTF_8);
        Files.createDirectories(agent.data().resolve("state"));
        Files.write(agent.data().resolve("state/nats-assignment.json"), cached);
        int port = NatsServer.freePort();
        server = NatsServer.notYetStarted(Files.createDirectories(dir.resolve("nats")), port);

        source = Harness.source(agent, "nats://127.0.0.1:" + port, "h1", Map.of());
        assertEquals(Optional.of("cached"), revision(source), "the cache is in effect at once, no network needed");
        assertTrue(source.snapshot().error().isEmpty());
        await("after its grace the source warns that it is not connected",
                () -> String.join(" ", source.snapshot().warnings()).contains("not connected to NATS"));
        assertEquals(Optional.of("cached"), revision(source));

        server.restart();      // the first start
        controllerConnection = Harness.connect(server.url());
        controller = new FleetController(controllerConnection, "steward-assignments", "steward-status");
        controller.ensureBuckets(1);
        // the key is empty: the controller's first put signs serial 1, which the agent refuses (4 in effect)
        controller.put("h1", doc("stale"), "fleet", fleetKey.getPrivate());
        await("serial 1 refused against the cached 4", () -> source.snapshot().error().orElse("").contains("not newer than serial 4"));
        assertEquals(Optional.of("cached"), revision(source));
        for (int i = 0; i < 4; i++) {
            controller.put("h1", doc("fresh-" + i, "flow"), "fleet", fleetKey.getPrivate());
        }
        await("serial 5 applies", () -> revision(source).equals(Optional.of("fresh-3")));
        await("the status is written once connected", () -> controller.status("h1").isPresent());
        assertFalse(String.join(" ", source.snapshot().warnings()).contains("not connected"));
    }

    @Test
    void twoOperatorsPublishingAtOnceNeverSignTheSameSerial() throws Exception {
        startServer();
        java.util.List<Long> won = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        java.util.concurrent.atomic.AtomicInteger conflicts = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        java.util.List<Thread> operators = new java.util.ArrayList<>();
        for (int t = 0; t < 2; t++) {
            Connection own = Harness.connect(server.url());
            FleetController op = new FleetController(own, "steward-assignments", "steward-status");
            Thread thread = new Thread(() -> {
                try {
                    go.await();
                    for (int i = 0; i < 15; i++) {
                        try {
                            won.add(op.put("h1", doc("race"), "fleet", fleetKey.getPrivate()).serial());
                        } catch (FleetController.Conflict e) {
                            conflicts.incrementAndGet();
                        }
                    }
                    own.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            thread.start();
            operators.add(thread);
        }
        go.countDown();
        for (Thread t : operators) {
            t.join();
        }
        assertEquals(30, won.size() + conflicts.get());
        assertEquals(won.size(), new java.util.HashSet<>(won).size(), "a serial was signed twice: " + won);
        assertEquals(won.size(), java.util.Collections.max(won).intValue(), "the serials that won are 1..n: " + won);
    }

    @Test
    void stoppedWhileTheBrokerIsUnreachableTheSourceLeavesNoThreadBehind() throws Exception {
        java.util.Set<Thread> before = Thread.getAllStackTraces().keySet();
        NatsAssignmentSource s = Harness.source(Harness.agent(dir.resolve("h1"), fleetKey),
                "nats://127.0.0.1:" + NatsServer.freePort(), "h1", Map.of());
        await("a few connect attempts failed", () -> !s.link().lastError().isEmpty());
        s.deactivate();
        await("every thread the source started has ended", () -> Thread.getAllStackTraces().keySet().stream()
                .filter(t -> !before.contains(t) && t.isAlive())
                .filter(t -> !t.getName().startsWith("ForkJoinPool") && !t.getName().equals("process reaper"))
                .findAny().isEmpty());
    }
}
