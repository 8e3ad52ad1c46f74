package io.steward.source.nats.internal;

import static io.steward.source.nats.internal.Harness.await;
import static io.steward.source.nats.internal.Harness.doc;
import static io.steward.source.nats.internal.Harness.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nats.client.Connection;
import io.nats.client.KeyValue;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.KeyValueEntry;
import io.nats.client.api.KeyValueWatcher;
import io.steward.delivery.trust.Ed25519;
import io.steward.source.nats.fleet.FleetController;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Server-side isolation of hosts (the users of src/test/resources/*.conf, documented in docs/fleet.md):
 * with exactly these permissions an agent watches and reads its own document, writes its own status and publishes
 * its own results, and host h1 can neither read h2's document, write h2's status nor publish h2's results. A
 * refused request is a timeout or a permissions error on the client: "permission denied or unreachable".
 */
class PerHostPermissionsTest {
    @TempDir
    Path dir;
    NatsServer server;
    Connection admin;
    Connection h1;
    NatsAssignmentSource source;

    @AfterEach
    void stop() throws Exception {
        if (source != null) {
            source.deactivate();
        }
        for (Connection c : new Connection[] {admin, h1}) {
            if (c != null) {
                c.close();
            }
        }
        if (server != null) {
            server.close();
        }
    }

    private static String resource(String name) throws Exception {
        return new String(PerHostPermissionsTest.class.getResourceAsStream("/" + name).readAllBytes(), StandardCharsets.UTF_8);
    }

    private String url(String user) {
        return server.url().replace("nats://", "nats://" + user + ":" + user + "-secret@");
    }

    @Test
    void aHostReadsOnlyItsOwnDocumentAndWritesOnlyItsOwnStatus() throws Exception {
        String users = resource("host-user.conf").replace("@HOST@", "h1") + resource("host-user.conf").replace("@HOST@", "h2");
        Path conf = Files.writeString(dir.resolve("server.conf"), resource("per-host-permissions.conf").replace("@USERS@", users));
        server = NatsServer.start(Files.createDirectories(dir.resolve("nats")), "-c", conf.toString());
        admin = Harness.connect(url("fleet"));
        FleetController controller = new FleetController(admin, "steward-assignments", "steward-status");
        controller.ensureBuckets(1);
        KeyPair key = Ed25519.generate();
        controller.put("h1", doc("mine", "flow"), "fleet", key.getPrivate());
        controller.put("h2", doc("theirs", "secret"), "fleet", key.getPrivate());

        // the agent of h1, as user h1: its own document in, its own status out
        source = Harness.source(Harness.agent(dir.resolve("h1"), key), url("h1"), "h1", Map.of());
        await("h1's agent gets its document", () -> source.snapshot().document().map(d -> d.revision()).equals(Optional.of("mine")));
        source.passCompleted(Harness.passOver(source));
        await("h1's status is written", () -> controller.status("h1").isPresent()
                && json(controller.status("h1").get()).get("serial").getAsLong() == 1);
        source.watch().read();      // the backstop get is allowed too (direct get of its own key)
        source.results().accept(new io.steward.supervision.AddonId("probe"), "r.jsonl:1:h", "{\"mine\":1}");   // its results
        assertEquals("", source.link().lastError(), "the agent needed nothing it was not allowed");

        h1 = Nats.connect(new Options.Builder().server(url("h1")).inboxPrefix("_INBOX_h1").build());
        KeyValue assignments = h1.keyValue("steward-assignments");
        assertEquals(1, json(assignments.get("host.h1").getValue()).get("serial").getAsLong(), "h1 reads its own document");
        assertThrows(Exception.class, () -> assignments.get("host.h2"), "h1 must not read h2's document");
        List<KeyValueEntry> seen = new CopyOnWriteArrayList<>();
        assertThrows(Exception.class, () -> assignments.watch("host.h2", new KeyValueWatcher() {
            @Override
            public void watch(KeyValueEntry e) {
                seen.add(e);
            }

            @Override
            public void endOfData() {
            }
        }), "h1 must not watch h2's key");
        assertThrows(Exception.class, () -> h1.keyValue("steward-status").put("host.h2", "{\"forged\":true}".getBytes()),
                "h1 must not write h2's status");
        assertThrows(Exception.class, () -> h1.jetStream().publish("steward.results.h2.probe", "{\"forged\":1}".getBytes()),
                "h1 must not publish h2's results");
        assertEquals(1, admin.jetStreamManagement().getStreamInfo(ResultPublisher.STREAM).getStreamState().getMsgCount(),
                "only h1's own record is in the stream");
        assertTrue(seen.isEmpty());
        assertTrue(controller.status("h2").isEmpty(), "no status was forged for h2");
        // a wildcard watch of the whole bucket (a consumer without h1's filter) is refused as well
        assertThrows(Exception.class, () -> assignments.watchAll(new KeyValueWatcher() {
            @Override
            public void watch(KeyValueEntry e) {
                seen.add(e);
            }

            @Override
            public void endOfData() {
            }
        }));
        assertTrue(seen.isEmpty(), "h1 saw " + seen);
    }
}
