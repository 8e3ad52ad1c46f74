package io.steward.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fleet path through the built distribution, black box: a real nats-server on loopback (started and
 * stopped here), {@code bin/steward fleet put} signs and publishes, {@code bin/steward run --nats URL
 * --host-id ID} applies it, {@code bin/steward fleet status --json} shows the ack. Without NATS, {@code bin/steward
 * run --poll URL} polls a plain HTTP server on loopback serving values signed with stock {@code openssl}.
 */
class FleetIT {
    private static final Path HOME = Path.of(System.getProperty("steward.home", "target/steward")).toAbsolutePath();
    private static final Pattern PORT = Pattern.compile("\"nats\":\\[\"nats://[^\"]*:(\\d+)\"");
    private static final String FLOW = """
            {"revision":"fleet-1","addons":[{"id":"flow-export","version":"1.0.0","supervision":"config_toggle","capabilities":["flow-export"]}]}
            """;
    private static final String TWO = """
            {"revision":"fleet-2","addons":[{"id":"flow-export","version":"1.0.0","supervision":"config_toggle"},
              {"id":"trap-relay","version":"2.0.0","supervision":"config_toggle"}]}
            """;

    private static final String RELAY = """
            {"revision":"poll-2","addons":[{"id":"trap-relay","version":"2.0.0","supervision":"config_toggle"}]}
            """;

    @TempDir
    Path tmp;
    /** The distribution {@code bin/steward run} starts from. */
    private HttpServer http;
    private Process server;
    private final List<Process> agents = new ArrayList<>();
    private int runs;

    @AfterEach
    void stop() throws InterruptedException {
        for (Process agent : agents) {
            agent.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
        }
        if (http != null) {
            http.stop(0);
        }
    }

    @Test
    void aPutReachesTheAgentItsStatusAcksTheSerialAndARefusalIsReported() throws Exception {
        String url = startServer();
        Path etc = keys();
        Run put = steward("fleet", "put", "--nats", url, "--host", "h1", "--key", tmp.resolve("fleet.key.pem").toString(),
                doc("flow.json", FLOW).toString(), "--create-buckets");
        assertEquals(0, put.exit(), put::toString);
        assertTrue(put.stdout().startsWith("published serial 1 for host h1"), put::toString);

        Path data = tmp.resolve("data");
        agent(data, etc, "--nats", url, "--host-id", "h1");
        JsonObject host = awaitHost(url, "serial 1 acked, converged", h -> h.get("serial").getAsLong() == 1
                && h.get("converged").getAsBoolean());
        assertTrue(host.get("error").isJsonNull(), host::toString);
        assertEquals("ready", addon(data, etc, "flow-export"), "the add-on the document assigns runs");

        // a document signed by a key the host does not trust: refused, nothing changes, the status says why
        Run rogue = steward("keygen", "--out", tmp.resolve("rogue").toString());
        assertEquals(0, rogue.exit(), rogue::toString);
        Run bad = steward("fleet", "put", "--nats", url, "--host", "h1", "--key", tmp.resolve("rogue.key.pem").toString(),
                doc("two.json", TWO).toString());
        assertEquals(0, bad.exit(), bad::toString);
        host = awaitHost(url, "the refusal in the status", h -> !h.get("error").isJsonNull());
        assertTrue(host.get("error").getAsString().contains("signed with key 'rogue', which is not in the trust store"),
                host::toString);
        assertEquals(1, host.get("serial").getAsLong(), host::toString);

        Run good = steward("fleet", "put", "--nats", url, "--host", "h1", "--key", tmp.resolve("fleet.key.pem").toString(),
                doc("two.json", TWO).toString());
        assertTrue(good.stdout().startsWith("published serial 3"), good::toString);
        awaitHost(url, "serial 3 acked", h -> h.get("serial").getAsLong() == 3 && h.get("converged").getAsBoolean()
                && h.get("error").isJsonNull());
        assertEquals("ready", addon(data, etc, "trap-relay"));
        Run text = steward("fleet", "status", "--nats", url);
        assertTrue(text.stdout().lines().anyMatch(l -> l.matches("h1\\s+3\\s+yes\\s+-")), text::toString);
    }

    @Test
    void withNoServerReachableTheCachedDocumentAppliesAtBoot() throws Exception {
        String url = startServer();
        Path etc = keys();
        steward("fleet", "put", "--nats", url, "--host", "h1", "--key", tmp.resolve("fleet.key.pem").toString(),
                doc("two.json", TWO).toString(), "--create-buckets");
        Path first = tmp.resolve("data-1");
        Process agent = agent(first, etc, "--nats", url, "--host-id", "h1");
        awaitHost(url, "serial 1 acked", h -> h.get("serial").getAsLong() == 1 && h.get("converged").getAsBoolean());
        agent.destroy();
        assertTrue(agent.waitFor(60, TimeUnit.SECONDS));
        server.destroyForcibly().waitFor(20, TimeUnit.SECONDS);

        // a re-imaged host: a fresh data directory with only the cached signed document in it, no broker
        Path second = tmp.resolve("data-2");
        Files.createDirectories(second.resolve("state"));
        Files.copy(first.resolve("state/nats-assignment.json"), second.resolve("state/nats-assignment.json"));
        agent(second, etc, "--nats", url, "--host-id", "h1");
        await("both add-ons ready with no broker", () -> "ready".equals(addon(second, etc, "flow-export"))
                && "ready".equals(addon(second, etc, "trap-relay")));
    }

    @Test
    void thePollSourceAppliesANewerSerialRefusesABadSignatureAndBootsFromItsCacheWithNoServer() throws Exception {
        Path etc = keys();
        Run rogue = steward("keygen", "--out", tmp.resolve("rogue").toString());
        assertEquals(0, rogue.exit(), rogue::toString);
        // the HTTP source polls every second: the operator's configuration in <etc> reaches ConfigAdmin
        Files.writeString(etc.resolve("io.steward.source.http.cfg"), "poll.seconds=1\n");
        AtomicReference<byte[]> served = new AtomicReference<>(signed(1, TWO, "fleet.key.pem"));
        String url = serve(served);

        Path data = tmp.resolve("data");
        Process agent = agent(data, etc, "--poll", url, "--host-id", "h1");
        await("both add-ons of serial 1 ready", () -> "ready".equals(addon(data, etc, "flow-export"))
                && "ready".equals(addon(data, etc, "trap-relay")));

        served.set(signed(2, RELAY, "fleet.key.pem"));
        await("serial 2 removes flow-export", () -> gone(addon(data, etc, "flow-export")));
        assertEquals("ready", addon(data, etc, "trap-relay"));

        // signed by a key the host does not trust, under the name of one it does: refused, nothing changes
        served.set(signed(3, FLOW, "rogue.key.pem"));
        await("the agent's log names the refusal", () -> log(agent).contains(
                "the signature of serial 3 does not match key 'fleet'"));
        assertTrue(gone(addon(data, etc, "flow-export")), "the refused document assigns nothing");
        assertEquals("ready", addon(data, etc, "trap-relay"), "the document in effect stays");

        agent.destroy();
        assertTrue(agent.waitFor(60, TimeUnit.SECONDS));
        http.stop(0);
        http = null;
        // a re-imaged host: a fresh data directory with only the cached signed document, and no server
        Path second = tmp.resolve("data-2");
        Files.createDirectories(second.resolve("state"));
        Files.copy(data.resolve("state/http-assignment.json"), second.resolve("state/http-assignment.json"));
        Process offline = agent(second, etc, "--poll", url, "--host-id", "h1");
        await("the cached serial 2 applies with no server", () -> "ready".equals(addon(second, etc, "trap-relay")));
        assertTrue(gone(addon(second, etc, "flow-export")), "only the cached document's add-ons run");
        String offlineLog = log(offline);
        assertTrue(offlineLog.contains("GET " + url + " failed (java.net.ConnectException)"),
                "the agent did try the server, which was gone: " + offlineLog);
    }

    // ---------------------------------------------------------------- fixtures

    /**
     * The signed value of PRODUCT §9 for host h1, made the way an operator's script would: the statement signed
     * with stock {@code openssl pkeyutl -sign -rawin} by {@code keyFile} (whichever key it is), named "fleet".
     */
    private byte[] signed(long serial, String document, String keyFile) throws Exception {
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(document.getBytes(StandardCharsets.UTF_8)));
        Path statement = Files.writeString(tmp.resolve("statement-" + serial),
                "steward-assignment-v1\nh1\n" + serial + "\n" + sha + "\n");
        Process openssl = new ProcessBuilder("openssl", "pkeyutl", "-sign", "-inkey", tmp.resolve(keyFile).toString(),
                "-rawin", "-in", statement.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        byte[] signature = openssl.getInputStream().readAllBytes();
        assertTrue(openssl.waitFor(30, TimeUnit.SECONDS) && openssl.exitValue() == 0, "openssl pkeyutl -sign");
        JsonObject value = new JsonObject();
        value.addProperty("format", "steward-assignment-v1");
        value.addProperty("host", "h1");
        value.addProperty("serial", serial);
        value.addProperty("document", document);
        value.addProperty("key", "fleet");
        value.addProperty("signature", Base64.getEncoder().encodeToString(signature));
        return value.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** A plain HTTP server on loopback answering {@code /assignments/h1} with what {@code served} holds; its URL. */
    private String serve(AtomicReference<byte[]> served) throws IOException {
        http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        http.createContext("/assignments/h1", ex -> {
            byte[] body = served.get();
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
            ex.close();
        });
        http.start();
        return "http://127.0.0.1:" + http.getAddress().getPort() + "/assignments/h1";
    }

    private static boolean gone(String state) {
        return state.equals("absent") || state.equals("removed");
    }

    /** What the agent printed so far, stdout and stderr. */
    private String log(Process agent) throws IOException {
        int n = agents.indexOf(agent);
        return Files.readString(tmp.resolve("agent-" + n + ".out")) + Files.readString(tmp.resolve("agent-" + n + ".err"));
    }

    private String startServer() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("nats"));
        server = new ProcessBuilder("nats-server", "-js", "-a", "127.0.0.1", "-p", "-1", "-sd", dir.resolve("store").toString(),
                "--ports_file_dir", dir.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
        String[] url = new String[1];
        await("nats-server writes its ports file", () -> {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path p : files.filter(f -> f.toString().endsWith(".ports")).toList()) {
                    Matcher m = PORT.matcher(Files.readString(p));
                    if (m.find()) {
                        url[0] = "nats://127.0.0.1:" + m.group(1);
                        return true;
                    }
                }
            }
            return false;
        });
        return url[0];
    }

    private Path keys() throws Exception {
        Run keygen = steward("keygen", "--out", tmp.resolve("fleet").toString());
        assertEquals(0, keygen.exit(), keygen::toString);
        Path etc = Files.createDirectories(tmp.resolve("etc/trust")).getParent();
        Files.copy(tmp.resolve("fleet.pub.pem"), etc.resolve("trust/fleet.pem"));
        return etc;
    }

    private Path doc(String name, String text) throws IOException {
        return Files.writeString(tmp.resolve(name), text);
    }

    private Process agent(Path data, Path etc, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(HOME.resolve("bin/steward").toString(), "run"));
        command.addAll(List.of(args));
        command.addAll(List.of("--data", data.toString(), "--etc", etc.toString(), "--unit-dir", tmp.resolve("units").toString(),
                "--privileged-root", tmp.resolve("privileged").toString()));
        Process p = builder(command).redirectOutput(tmp.resolve("agent-" + agents.size() + ".out").toFile())
                .redirectError(tmp.resolve("agent-" + agents.size() + ".err").toFile()).start();
        agents.add(p);
        return p;
    }

    private String addon(Path data, Path etc, String id) throws Exception {
        Run status = steward("status", "--json", "--data", data.toString(), "--etc", etc.toString());
        for (JsonElement a : JsonParser.parseString(status.stdout()).getAsJsonObject().getAsJsonArray("addons")) {
            if (a.getAsJsonObject().get("id").getAsString().equals(id)) {
                return a.getAsJsonObject().get("state").getAsString();
            }
        }
        return "absent";
    }

    private JsonObject awaitHost(String url, String what, java.util.function.Predicate<JsonObject> condition) throws Exception {
        JsonObject[] last = new JsonObject[1];
        await(what, () -> {
            Run status = steward("fleet", "status", "--nats", url, "--json");
            for (JsonElement h : JsonParser.parseString(status.stdout()).getAsJsonObject().getAsJsonArray("hosts")) {
                if (h.getAsJsonObject().get("host").getAsString().equals("h1")) {
                    last[0] = h.getAsJsonObject();
                    return condition.test(last[0]);
                }
            }
            return false;
        });
        return last[0];
    }

    private ProcessBuilder builder(List<String> command) {
        ProcessBuilder b = new ProcessBuilder(command).directory(tmp.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        b.environment().remove("STEWARD_JAVA_OPTS");
        b.environment().remove("STEWARD_HOME");
        b.environment().remove("DBUS_SYSTEM_BUS_ADDRESS");
        b.environment().put("STEWARD_COMMAND_TIMEOUT", "60");
        return b;
    }

    record Run(int exit, String stdout, String stderr) {
    }

    private Run steward(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(HOME.resolve("bin/steward").toString()));
        command.addAll(List.of(args));
        int n = ++runs;
        Path out = tmp.resolve("run-" + n + ".out");
        Path err = tmp.resolve("run-" + n + ".err");
        Process p = builder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(90, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            fail(String.join(" ", command) + " did not finish within 90 s");
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    @FunctionalInterface
    interface Condition {
        boolean met() throws Exception;
    }

    private static void await(String what, Condition condition) throws Exception {
        long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        Exception last = null;
        while (System.nanoTime() - end < 0) {
            try {
                if (condition.met()) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(200);      // polling a condition, bounded by the deadline
        }
        fail("not within 90 s: " + what + (last == null ? "" : " (last: " + last + ")"));
    }
}
