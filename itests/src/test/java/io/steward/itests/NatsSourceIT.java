package io.steward.itests;

import static io.steward.itests.Assignments.configToggle;
import static io.steward.itests.Assignments.document;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.mavenBundle;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.nats.client.Connection;
import io.nats.client.KeyValue;
import io.nats.client.Nats;
import io.nats.client.api.KeyValueConfiguration;
import io.nats.client.api.KeyValueEntry;
import io.nats.client.api.StorageType;
import io.steward.supervision.ReconcileReport;
import io.steward.delivery.trust.Ed25519;
import io.steward.source.signed.SignedAssignment;
import io.steward.supervision.SupervisionState;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.wiring.BundleWire;
import org.osgi.framework.wiring.BundleWiring;

/**
 * The NATS fleet transport in a real Felix: the driver starts a real nats-server on loopback (stopped with
 * the test JVM) and hands its URL to the framework as {@code steward.nats.servers}, as {@code steward run
 * --nats} does. A signed put reaches core, the add-on becomes ready, and the status core's pass produced
 * is in {@code steward-status/host.felix-1} with the serial; a signed empty document removes it.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class NatsSourceIT extends PlatformTestSupport {
    private static final String HOST = "felix-1";
    private static final Pattern PORT = Pattern.compile("\"nats\":\\[\"nats://[^\"]*:(\\d+)\"");

    private Connection connection;

    @Configuration
    @Override
    public Option[] config() throws IOException {
        List<Option> options = new ArrayList<>(List.of(super.config()));
        options.addAll(deliveryBundles());
        options.add(mavenBundle("org.bouncycastle", "bcprov-lts8on").versionAsInProject());
        options.add(mavenBundle("org.jspecify", "jspecify").versionAsInProject());
        for (File jar : List.of(reactorBundle("bundle.lib.jnats", "lib-jnats", "io.steward.lib.jnats"),
                reactorBundle("bundle.source.signed", "source-signed", "io.steward.source.signed"),
                reactorBundle("bundle.source.nats", "source-nats", "io.steward.source.nats"))) {
            options.add(bundle(jar.toURI().toString()));
        }
        options.add(frameworkProperty("steward.nats.servers").value(startServer()));
        options.add(frameworkProperty("steward.host.id").value(HOST));
        return options.toArray(new Option[0]);
    }

    /** Driver: a nats-server with JetStream on a free loopback port, killed when the test JVM ends. */
    private static String startServer() throws IOException {
        Path dir = Files.createTempDirectory(Path.of(System.getProperty("itest.work", "target/itest-work")).toAbsolutePath(),
                "nats-");
        Process p = new ProcessBuilder("nats-server", "-js", "-a", "127.0.0.1", "-p", "-1", "-sd", dir.resolve("store").toString(),
                "--ports_file_dir", dir.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
        Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
        long end = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() - end < 0 && p.isAlive()) {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.filter(x -> x.toString().endsWith(".ports")).toList()) {
                    Matcher m = PORT.matcher(Files.readString(f));
                    if (m.find()) {
                        return "nats://127.0.0.1:" + m.group(1);
                    }
                }
            }
            try {
                Thread.sleep(20);       // polling for the ports file, bounded
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new IOException("nats-server did not start: " + Files.readString(dir.resolve("log")));
    }

    /** Driver: the fleet key, trusted by the agent; its private half beside etc for the probe. */
    @Override
    protected void beforeBoot(Path data, Path etc) throws IOException {
        KeyPair key = Ed25519.generate();
        Files.createDirectories(etc.resolve("trust"));
        Files.writeString(etc.resolve("trust/fleet.pem"), Ed25519.publicPem(key.getPublic()));
        Files.writeString(etc.resolve("fleet.key.pem"), Ed25519.privatePem(key.getPrivate()));
    }

    /** The file source is stopped here: nothing to poll. */
    @Override
    protected boolean fastPolling() {
        return false;
    }

    @Before
    public void connect() throws Exception {
        // as 'steward run --nats' does: the NATS document is the host's whole desired set
        installedBundle("io.steward.source.file").stop();
        connection = Nats.connect(context.getProperty("steward.nats.servers"));
        for (String bucket : List.of("steward-assignments", "steward-status")) {
            if (!connection.keyValueManagement().getBucketNames().contains(bucket)) {
                connection.keyValueManagement().create(KeyValueConfiguration.builder().name(bucket)
                        .storageType(StorageType.File).build());
            }
        }
    }

    @After
    public void close() throws Exception {
        connection.close();
    }

    @Test
    public void aSignedPutBecomesReadyAndTheStatusOfThePassAcksItsSerial() throws Exception {
        PrivateKey key = Ed25519.readPrivate(Files.readString(Path.of(context.getProperty("steward.etc"), "fleet.key.pem")));
        KeyValue kv = connection.keyValue("steward-assignments");
        String doc1 = document("nats-1", configToggle("nats-flow", true, "flow-export"));
        kv.put("host." + HOST, SignedAssignment.sign(HOST, 1, doc1, "fleet", key).toJson().getBytes(StandardCharsets.UTF_8));
        awaitState("nats-flow", SupervisionState.READY);
        JsonObject status = awaitStatus("serial 1 converged", s -> s.get("serial").getAsLong() == 1
                && s.get("converged").getAsBoolean());
        assertEquals("nats-flow", status.getAsJsonArray("addons").get(0).getAsJsonObject().get("id").getAsString());
        assertEquals("ready", status.getAsJsonArray("addons").get(0).getAsJsonObject().get("state").getAsString());

        // an unsigned document is refused by the real gate: nothing changes, the status says why
        kv.put("host." + HOST, document("nats-x").getBytes(StandardCharsets.UTF_8));
        status = awaitStatus("the refusal", s -> !s.get("error").isJsonNull());
        assertTrue(status.get("error").getAsString(), status.get("error").getAsString().contains("unknown field 'revision'"));
        assertEquals(SupervisionState.READY, supervision().status(new io.steward.supervision.AddonId("nats-flow"))
                .orElseThrow().state());

        kv.put("host." + HOST, SignedAssignment.sign(HOST, 2, document("nats-2"), "fleet", key).toJson()
                .getBytes(StandardCharsets.UTF_8));
        awaitRemovedOrGone("nats-flow");
        awaitStatus("serial 2 converged", s -> s.get("serial").getAsLong() == 2 && s.get("converged").getAsBoolean()
                && s.get("error").isJsonNull());
    }

    @Test
    public void aSpooledResultFileReachesTheStreamOnceAndItsMalformedLineIsAWarning() throws Exception {
        // the operator's side (steward fleet put --create-buckets creates it like this)
        if (!connection.jetStreamManagement().getStreamNames().contains("steward-results")) {
            connection.jetStreamManagement().addStream(io.nats.client.api.StreamConfiguration.builder()
                    .name("steward-results").subjects("steward.results.>").storageType(StorageType.File)
                    .duplicateWindow(Duration.ofHours(1)).build());
        }
        // what a timer's run leaves in its spool: a partial file, then a complete one
        Path spool = Files.createDirectories(Path.of(context.getProperty("steward.data"), "addons", "felix-timer", "spool"));
        Files.writeString(spool.resolve("run-2.tmp"), "{\"partial\":");
        Files.writeString(spool.resolve("run-1.tmp"), "{\"run\":1,\"n\":1}\nnot json\n{\"run\":1,\"n\":2}\n");
        Files.move(spool.resolve("run-1.tmp"), spool.resolve("run-1.jsonl"), StandardCopyOption.ATOMIC_MOVE);
        await("the complete file is ingested and deleted", DEADLINE, () -> !Files.exists(spool.resolve("run-1.jsonl")),
                () -> "still in the spool");
        io.nats.client.JetStreamManagement jsm = connection.jetStreamManagement();
        assertEquals(2, jsm.getStreamInfo("steward-results").getStreamState().getMsgCount());
        io.nats.client.api.MessageInfo first = jsm.getMessage("steward-results", 1);
        assertEquals("steward.results." + HOST + ".felix-timer", first.getSubject());
        assertEquals("{\"run\":1,\"n\":1}", new String(first.getData(), StandardCharsets.UTF_8));
        assertTrue(first.getHeaders().getFirst("Nats-Msg-Id"), first.getHeaders().getFirst("Nats-Msg-Id")
                .startsWith(HOST + "/felix-timer/run-1.jsonl:1:"));
        assertTrue("a partial file is left alone", Files.exists(spool.resolve("run-2.tmp")));
        ReconcileReport report = supervision().reconcile().toCompletableFuture().get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
        assertTrue(report.warnings().toString(), report.warnings().contains("add-on felix-timer: result spool: 1 malformed "
                + "line (last: run-1.jsonl line 2 is not valid JSON)"));
    }

    @Test
    public void theTransportWiresOnlyToExportedPackages() {
        Bundle nats = installedBundle("io.steward.source.nats");
        assertEquals(Bundle.ACTIVE, nats.getState());
        List<String> providers = new ArrayList<>();
        for (BundleWire w : nats.adapt(BundleWiring.class).getRequiredWires("osgi.wiring.package")) {
            String pkg = (String) w.getCapability().getAttributes().get("osgi.wiring.package");
            assertFalse(pkg, pkg.contains(".internal"));
            providers.add(w.getProvider().getBundle().getSymbolicName());
        }
        assertTrue(providers.toString(), providers.contains("io.steward.lib.jnats"));
        assertTrue(providers.toString(), providers.contains("io.steward.source.signed"));
    }

    private JsonObject awaitStatus(String what, java.util.function.Predicate<JsonObject> condition) {
        JsonObject[] last = new JsonObject[1];
        await(what, DEADLINE, () -> {
            KeyValueEntry e = connection.keyValue("steward-status").get("host." + HOST);
            if (e == null || e.getValue() == null) {
                return false;
            }
            last[0] = JsonParser.parseString(new String(e.getValue(), StandardCharsets.UTF_8)).getAsJsonObject();
            return condition.test(last[0]);
        }, () -> String.valueOf(last[0]));
        return last[0];
    }
}
