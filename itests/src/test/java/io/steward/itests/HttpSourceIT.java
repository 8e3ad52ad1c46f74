package io.steward.itests;

import static io.steward.itests.Assignments.configToggle;
import static io.steward.itests.Assignments.document;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;

import com.sun.net.httpserver.HttpServer;
import io.steward.delivery.trust.Ed25519;
import io.steward.source.signed.SignedAssignment;
import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.spi.AssignmentSource;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.ServiceReference;

/**
 * The HTTPS poll source in a real Felix, configured through ConfigAdmin: the driver serves one file over
 * plain HTTP on loopback (the only plain URL the source takes; TLS is covered by the bundle's own tests),
 * the probe writes signed values into it. A signed value becomes ready through core, an unsigned one is
 * refused by the real gate with the add-on kept, a signed empty document removes it.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HttpSourceIT extends PlatformTestSupport {
    private static final String HOST = "felix-1";

    @Configuration
    @Override
    public Option[] config() throws IOException {
        List<Option> options = new ArrayList<>(List.of(super.config()));
        options.addAll(deliveryBundles());
        for (File jar : List.of(reactorBundle("bundle.source.signed", "source-signed", "io.steward.source.signed"),
                reactorBundle("bundle.source.http", "source-http", "io.steward.source.http"))) {
            options.add(bundle(jar.toURI().toString()));
        }
        Path doc = Files.createTempDirectory(Path.of(System.getProperty("itest.work", "target/itest-work")).toAbsolutePath(),
                "http-").resolve("doc.json");
        options.add(frameworkProperty("itest.http.doc").value(doc.toString()));
        options.add(frameworkProperty("itest.http.url").value(startServer(doc)));
        return options.toArray(new Option[0]);
    }

    /** Driver: serves {@code doc} (404 while it does not exist), stopped with the test JVM. */
    private static String startServer(Path doc) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/doc", ex -> {
            try {
                byte[] body = Files.readAllBytes(doc);
                ex.sendResponseHeaders(200, body.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            } catch (NoSuchFileException e) {
                ex.sendResponseHeaders(404, -1);
            }
            ex.close();
        });
        server.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(0)));
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/doc";
    }

    /** Driver: the fleet key, trusted by the agent; its private half beside etc for the probe. */
    @Override
    protected void beforeBoot(Path data, Path etc) throws IOException {
        KeyPair key = Ed25519.generate();
        Files.createDirectories(etc.resolve("trust"));
        Files.writeString(etc.resolve("trust/fleet.pem"), Ed25519.publicPem(key.getPublic()));
        Files.writeString(etc.resolve("fleet.key.pem"), Ed25519.privatePem(key.getPrivate()));
    }

    @Override
    protected boolean fastPolling() {
        return false;
    }

    @Before
    public void configure() throws Exception {
        // the HTTP document is the host's whole desired set
        installedBundle("io.steward.source.file").stop();
        Hashtable<String, Object> props = new Hashtable<>();
        props.put("url", context.getProperty("itest.http.url"));
        props.put("host.id", HOST);
        props.put("poll.seconds", 1L);
        configAdmin.getConfiguration("io.steward.source.http", "?").update(props);
    }

    @Test
    public void aSignedValueBecomesReadyAnUnsignedOneIsRefusedAndAnEmptyOneRemoves() throws Exception {
        PrivateKey key = Ed25519.readPrivate(Files.readString(Path.of(context.getProperty("steward.etc"), "fleet.key.pem")));
        Path doc = Path.of(context.getProperty("itest.http.doc"));
        write(doc, SignedAssignment.sign(HOST, 1, document("http-1", configToggle("http-flow", true, "flow-export")),
                "fleet", key).toJson());
        awaitState("http-flow", SupervisionState.READY);

        write(doc, document("http-x"));
        await("the refusal in the source's error", DEADLINE,
                () -> httpSource().error().map(e -> e.contains("unknown field 'revision'")).orElse(false),
                () -> String.valueOf(httpSource()));
        assertEquals(SupervisionState.READY, supervision().status(new AddonId("http-flow")).orElseThrow().state());
        assertTrue(Files.exists(dataDir().resolve("state/http-assignment.json")));

        write(doc, SignedAssignment.sign(HOST, 2, document("http-2"), "fleet", key).toJson());
        awaitRemovedOrGone("http-flow");
    }

    private AssignmentSource.Snapshot httpSource() {
        java.util.Collection<ServiceReference<AssignmentSource>> refs;
        try {
            refs = context.getServiceReferences(AssignmentSource.class, null);
        } catch (org.osgi.framework.InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        for (ServiceReference<AssignmentSource> ref : refs) {
            AssignmentSource.Snapshot s = context.getService(ref).snapshot();
            context.ungetService(ref);
            if (s.name().startsWith("http:")) {
                return s;
            }
        }
        throw new AssertionError("no HTTP source registered");
    }

    private static void write(Path doc, String value) throws IOException {
        Path tmp = doc.resolveSibling("doc.tmp");
        Files.writeString(tmp, value, StandardCharsets.UTF_8);
        Files.move(tmp, doc, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
}
