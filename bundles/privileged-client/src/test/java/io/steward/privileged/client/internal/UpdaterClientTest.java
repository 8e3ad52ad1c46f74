package io.steward.privileged.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.privileged.client.UpdaterClient;
import io.steward.privileged.protocol.Protocol;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** The client against no updater, a too-old one and a scripted one: every failure is clear and classified. */
class UpdaterClientTest {
    @TempDir
    Path dir;
    private AFUNIXServerSocket server;
    private Thread serving;
    private final List<JsonObject> received = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
            serving.join(5000);
        }
    }

    /** A fake updater that answers each request with {@code answer} (one line, its newline included). */
    private Path serve(Function<JsonObject, String> answer) throws Exception {
        Path socket = dir.resolve("u.sock");
        server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(socket));
        serving = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    InputStream in = s.getInputStream();
                    ByteArrayOutputStream b = new ByteArrayOutputStream();
                    for (int c; (c = in.read()) >= 0 && c != '\n'; ) {
                        b.write(c);
                    }
                    JsonObject request = JsonParser.parseString(b.toString(StandardCharsets.UTF_8)).getAsJsonObject();
                    received.add(request);
                    String line = answer.apply(request);
                    if (line != null) {                    // null: the updater dies before it answers
                        s.getOutputStream().write(line.getBytes(StandardCharsets.UTF_8));
                    }
                } catch (Exception e) {
                    return;
                }
            }
        }, "fake-updater");
        serving.start();
        return socket;
    }

    private static String versionAnswer(int protocol, List<String> ops) {
        JsonObject o = Protocol.ok();
        o.addProperty("protocol", protocol);
        o.add("ops", Protocol.strings(ops));
        return Protocol.line(o) + "\n";
    }

    @Test
    void aMissingUpdaterIsATransientFailureThatSaysWhatToStart() {
        UpdaterClient client = new UpdaterClient(dir.resolve("none.sock"));
        SupervisionException e = assertThrows(SupervisionException.class, () -> client.release(new AddonId("x")));
        assertEquals(Disposition.TRANSIENT, e.disposition());
        assertTrue(e.getMessage().startsWith("add-on x: release: the steward-updater is not reachable at "), e.getMessage());
        assertTrue(e.getMessage().contains("start steward-updater.socket"), e.getMessage());
    }

    @Test
    void aTooOldUpdaterIsATransientFailureThatSaysUpgrade() throws Exception {
        UpdaterClient client = new UpdaterClient(serve(r -> versionAnswer(0, List.of("version"))));
        SupervisionException e = assertThrows(SupervisionException.class, () -> client.release(new AddonId("x")));
        assertEquals(Disposition.TRANSIENT, e.disposition());
        assertTrue(e.getMessage().contains("upgrade steward-updater to protocol 1"), e.getMessage());
        assertEquals(List.of("version"), received.stream().map(r -> r.get("op").getAsString()).toList(),
                "nothing but the version question was sent");
    }

    @Test
    void anUpdaterLackingAnOperationIsTooOld() throws Exception {
        UpdaterClient client = new UpdaterClient(serve(r -> versionAnswer(1, List.of("version", "release"))));
        SupervisionException e = assertThrows(SupervisionException.class, () -> client.release(new AddonId("x")));
        assertTrue(e.getMessage().contains("lacks [materialize, install_units"), e.getMessage());
        assertTrue(e.getMessage().contains("upgrade steward-updater to protocol 1"), e.getMessage());
    }

    /** Fault campaign (docs/testing.md "Faults"): the updater's socket goes away in the middle of a request. */
    @Test
    void anUpdaterThatStopsMidRequestIsATransientFailureNotATooOldOne() throws Exception {
        java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
        UpdaterClient client = new UpdaterClient(serve(r -> r.get("op").getAsString().equals("version")
                ? versionAnswer(1, Protocol.OPS)
                : calls.incrementAndGet() == 1 ? null : "{\"protocol\":1,\"ok\":tr"));
        for (String how : List.of("without answering", "in the middle of its answer")) {
            SupervisionException e = assertThrows(SupervisionException.class, () -> client.release(new AddonId("x")));
            assertEquals(Disposition.TRANSIENT, e.disposition());
            assertEquals("add-on x: release: the steward-updater at " + dir.resolve("u.sock") + " closed the connection "
                    + how + " (it stopped or restarted during the request; nothing is assumed done, the request is "
                    + "retried); check 'journalctl -u steward-updater'", e.getMessage());
        }
        assertEquals(List.of("version", "release", "version", "release"),
                received.stream().map(r -> r.get("op").getAsString()).toList(), "the protocol is checked again after");
    }

    @Test
    void theUpdatersDispositionIsKept() throws Exception {
        UpdaterClient client = new UpdaterClient(serve(r -> r.get("op").getAsString().equals("version")
                ? versionAnswer(1, Protocol.OPS)
                : Protocol.line(Protocol.error(Protocol.E_REFUSED, "add-on x: unit install refused: no", true)) + "\n"));
        SupervisionException e = assertThrows(SupervisionException.class,
                () -> client.uninstall(new AddonId("x"), List.of("ssh.service"), false));
        assertEquals(Disposition.PERMANENT, e.disposition());
        assertEquals("add-on x: unit install refused: no", e.getMessage());
        JsonObject sent = received.get(1);
        assertEquals(1, sent.get("protocol").getAsInt());
        assertEquals("uninstall_units", sent.get("op").getAsString());
        assertEquals("[\"ssh.service\"]", sent.get("units").toString());
        // the protocol is checked once, not before every request
        assertThrows(SupervisionException.class, () -> client.uninstall(new AddonId("x"), List.of(), false));
        assertEquals(List.of("version", "uninstall_units", "uninstall_units"),
                received.stream().map(r -> r.get("op").getAsString()).toList());
    }

    @Test
    void aRequestWithoutStageMetadataIsRefusedBeforeAnythingIsSent() throws Exception {
        UpdaterClient client = new UpdaterClient(serve(r -> versionAnswer(1, Protocol.OPS)));
        Path staged = Files.createDirectories(dir.resolve("versions/1.0"));
        SupervisionException e = assertThrows(SupervisionException.class, () -> client.grantCapabilities(
                new AddonId("x"), new io.steward.delivery.StagedArtifact(staged, new io.steward.delivery.AddonManifest(
                        "x", "1.0", "sidecar", "x", List.of(), List.of(), java.util.Optional.empty(),
                        java.util.Map.of()), "0".repeat(64)), "x", List.of("cap_net_raw")));
        assertEquals(Disposition.PERMANENT, e.disposition());
        assertTrue(e.getMessage().contains("no stage metadata"), e.getMessage());
        assertEquals(List.of(), received);
    }

    @Test
    void theClientIsRegisteredForANonRootAgentOnly() throws Exception {
        List<Object[]> registered = new CopyOnWriteArrayList<>();
        org.osgi.framework.BundleContext context = (org.osgi.framework.BundleContext) java.lang.reflect.Proxy
                .newProxyInstance(getClass().getClassLoader(), new Class<?>[] {org.osgi.framework.BundleContext.class},
                        (p, m, a) -> switch (m.getName()) {
                            case "getProperty" -> Protocol.SOCKET_PROPERTY.equals(a[0]) ? "/run/x/u.sock" : null;
                            case "registerService" -> {
                                registered.add(a);
                                yield null;
                            }
                            default -> null;
                        });
        Path agent = Files.writeString(dir.resolve("agent"), "Uid:\t999\t999\t999\t999\n");
        new UpdaterClientRegistrar(context, agent);
        assertEquals(1, registered.size());
        assertEquals(List.of("io.steward.privileged.PrivilegedOperations", "io.steward.privileged.UnitInstaller"),
                List.of((String[]) registered.get(0)[0]));
        assertEquals("/run/x/u.sock", ((UpdaterClient) registered.get(0)[1]).socket().toString());
        assertEquals("updater", ((java.util.Dictionary<?, ?>) registered.get(0)[2]).get("privileged.mode"));
        Path root = Files.writeString(dir.resolve("root"), "Uid:\t0\t0\t0\t0\n");
        new UpdaterClientRegistrar(context, root);
        assertEquals(1, registered.size(), "a root agent works in-process: no client");
    }

    @Test
    void theEffectiveUidComesFromProc() throws Exception {
        Path status = Files.writeString(dir.resolve("status"), "Name:\tjava\nUid:\t999\t0\t999\t0\nGid:\t1\t1\t1\t1\n");
        assertEquals(OptionalLong.of(0), io.steward.privileged.ProcessIdentity.effectiveUid(status));
        assertEquals(OptionalLong.empty(), io.steward.privileged.ProcessIdentity.effectiveUid(dir.resolve("missing")));
    }
}
