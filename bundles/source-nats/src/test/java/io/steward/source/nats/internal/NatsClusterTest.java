package io.steward.source.nats.internal;

import static io.steward.source.nats.internal.Harness.await;
import static io.steward.source.nats.internal.Harness.doc;
import static io.steward.source.nats.internal.Harness.json;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.nats.client.Connection;
import io.steward.delivery.trust.Ed25519;
import io.steward.source.nats.fleet.FleetController;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A three-node JetStream cluster on loopback with R3 buckets: the node the agent is connected to is
 * killed, the agent fails over to another node, resumes its watch and keeps converging.
 */
class NatsClusterTest {
    @TempDir
    Path dir;
    final List<NatsServer> nodes = new ArrayList<>();
    Connection controllerConnection;
    NatsAssignmentSource source;

    @AfterEach
    void stop() throws Exception {
        if (source != null) {
            source.deactivate();
        }
        if (controllerConnection != null) {
            controllerConnection.close();
        }
        for (NatsServer n : nodes) {
            n.close();
        }
    }

    @Test
    void killingTheAgentsNodeFailsOverAndTheAgentKeepsConverging() throws Exception {
        int[] routes = {NatsServer.freePort(), NatsServer.freePort(), NatsServer.freePort()};
        for (int i = 0; i < 3; i++) {
            List<String> others = new ArrayList<>();
            for (int j = 0; j < 3; j++) {
                if (j != i) {
                    others.add("nats://127.0.0.1:" + routes[j]);
                }
            }
            nodes.add(NatsServer.start(Files.createDirectories(dir.resolve("n" + i)), "-n", "n" + i,
                    "--cluster_name", "steward", "--cluster", "nats://127.0.0.1:" + routes[i], "--routes", String.join(",", others)));
        }
        String servers = String.join(",", nodes.stream().map(NatsServer::url).toList());
        controllerConnection = Harness.connect(servers);
        FleetController controller = new FleetController(controllerConnection, "steward-assignments", "steward-status");
        await("the cluster elects a JetStream leader and takes the R3 buckets", Duration.ofSeconds(60), () -> {
            controller.ensureBuckets(3);
            return true;
        });
        KeyPair key = Ed25519.generate();
        source = Harness.source(Harness.agent(dir.resolve("h1"), key), servers, "h1", Map.of());
        controller.put("h1", doc("c1", "flow"), "fleet", key.getPrivate());
        await("the first document arrives", () -> source.snapshot().document().map(d -> d.revision()).equals(Optional.of("c1")));

        for (int round = 2; round <= 3; round++) {
            String url = source.link().connectedUrl().orElseThrow();
            NatsServer victim = nodes.stream().filter(n -> url.endsWith(":" + n.port())).findFirst().orElseThrow();
            victim.kill();
            String revision = "c" + round;
            await("a put with a node down (the R3 stream keeps a quorum)", Duration.ofSeconds(60), () -> {
                controller.put("h1", doc(revision, "flow"), "fleet", key.getPrivate());
                return true;
            });
            await("the agent fails over and gets " + revision, Duration.ofSeconds(60),
                    () -> source.snapshot().document().map(d -> d.revision()).equals(Optional.of(revision)));
            assertNotEquals(url, source.link().connectedUrl().orElse(url), "the agent moved to another node");
            source.passCompleted(Harness.passOver(source));
            long serial = round;
            await("the status of serial " + serial + " is written through the new node", Duration.ofSeconds(60),
                    () -> json(controller.status("h1").orElseThrow()).get("serial").getAsLong() == serial);
            victim.restart();       // back in the cluster before the next round, so a quorum stays
        }
    }
}
