package io.steward.updater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.gson.JsonObject;
import io.steward.privileged.UnitInstallRequest;
import io.steward.privileged.UnitInstallation;
import io.steward.privileged.UnitInstaller;
import io.steward.privileged.protocol.Protocol;
import io.steward.supervision.AddonId;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;

/**
 * Jazzer target: the updater's side of protocol 1 ({@link Handler}: one request line in, one answer out), over a
 * real {@link Updater} whose world is a temporary directory with an empty trust store (docs/testing.md "Fuzzing").
 * <p>
 * Oracle: {@code handle} never throws and always answers one well-formed protocol-1 object — {@code ok: true}, or
 * {@code ok: false} with a documented error code, a disposition and a one-line message —; a request the parser
 * accepts is stable under parse ∘ render; and nothing the request says changes anything: with no trusted key every
 * artifact operation is refused before a byte is read, so the data directory, the privileged root, the unit
 * directory and the ledger are byte for byte what they were, and the unit installer is never called.
 */
class RequestProtocolFuzzTest {
    private static final AtomicLong EXECUTIONS = new AtomicLong();
    private static final Set<String> CODES = Set.of(Protocol.E_MALFORMED, Protocol.E_TOO_LARGE, Protocol.E_TIMEOUT,
            Protocol.E_PROTOCOL, Protocol.E_UNKNOWN_OP, Protocol.E_FORBIDDEN, Protocol.E_INVALID, Protocol.E_REFUSED,
            Protocol.E_FAILED, Protocol.E_BUSY);
    private static World world;

    static {
        System.setProperty("org.slf4j.simpleLogger.log.io.steward.updater", "off");   // a refusal logs a line each
    }

    /** A temporary updater world; its snapshot is what no request may change. */
    private record World(Path dir, Handler handler, Map<String, String> snapshot) {
        static World create() throws IOException {
            Path dir = Files.createTempDirectory("protocol-fuzz");
            Path passwd = Files.writeString(dir.resolve("passwd"), "steward:x:999:995::/:/bin/false\n");
            Path group = Files.writeString(dir.resolve("group"), "steward:x:995:\n");
            UpdaterConfig c = UpdaterConfig.parse(List.of("--agent-user", "steward", "--data",
                    Files.createDirectories(dir.resolve("data/addons/a/artifacts")).getParent().getParent().getParent()
                            .toString(),
                    "--privileged-root", Files.createDirectories(dir.resolve("priv")).toString(),
                    "--unit-dir", Files.createDirectories(dir.resolve("units")).toString(),
                    "--trust", Files.createDirectories(dir.resolve("trust")).toString(),
                    "--state", Files.createDirectories(dir.resolve("state")).toString()), new Accounts(passwd, group));
            Files.writeString(dir.resolve("units/steward-a.service"), "[Service]\nExecStart=/bin/true\n");
            UnitInstaller never = new UnitInstaller() {
                @Override
                public UnitInstallation install(UnitInstallRequest request) {
                    throw new AssertionError("the installer was called for " + request.id());
                }

                @Override
                public void uninstall(AddonId id, List<String> units, boolean releaseTree) {
                    if (units.isEmpty()) {
                        return;     // nothing the updater owns: a no-op
                    }
                    throw new AssertionError("the installer was asked to uninstall " + units + " of " + id);
                }
            };
            Updater updater = new Updater(c, never, new StagingArea(c.data(),
                    dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("root"),
                    c.maxArtifactBytes()), Ledger.open(c.state()));
            return new World(dir, new Handler(updater), RequestProtocolFuzzTest.snapshot(dir));
        }
    }

    @FuzzTest
    @DictionaryEntries({"{\"protocol\":1,\"op\":\"", "version", "materialize", "install_units", "uninstall_units",
        "grant_capabilities", "release", "\"id\":", "\"version\":", "\"sha256\":", "\"signature\":", "\"key\":",
        "\"units\":", "\"primary\":", "\"resources\":", "\"restart\":", "\"job_timeout_ms\":", "\"release_tree\":",
        "\"binary\":", "\"capabilities\":", "\"cpu_max_percent\":", "\"memory_max_bytes\":", "\"tasks_max\":",
        "steward-a.service", "ssh.service", "../", "1e15", "-1", "null", "true", "[\"", "\"]"})
    void everyRequestIsAnsweredAndNoneChangesAnything(byte[] input) throws IOException {
        EXECUTIONS.incrementAndGet();
        if (world == null) {
            world = World.create();
        }
        String line = new String(input, StandardCharsets.UTF_8);
        JsonObject answer = world.handler().handle(line, "fuzz");
        assertEquals(Protocol.VERSION, answer.get("protocol").getAsInt());
        if (!answer.get("ok").getAsBoolean()) {
            JsonObject error = answer.getAsJsonObject("error");
            assertTrue(CODES.contains(error.get("code").getAsString()), answer.toString());
            assertTrue(Set.of(Protocol.PERMANENT, Protocol.TRANSIENT).contains(error.get("disposition").getAsString()));
            String message = error.get("message").getAsString();
            assertFalse(message.isBlank() || message.contains("\n"), answer.toString());
        }
        // counted, not read from the message: a message may quote the request, and the fuzzer learns any literal
        assertEquals(0, world.handler().unexpectedFailures(), "an exception escaped into the answer: " + answer);
        try {
            JsonObject parsed = Handler.parse(line);
            assertEquals(parsed, Handler.parse(Protocol.line(parsed)), "parse(render(r)) == r");
        } catch (Refusal r) {
            assertTrue(CODES.contains(r.code()), r.code());
        }
        assertEquals(world.snapshot(), snapshot(world.dir()), "a request changed the updater's world: " + line);
    }

    /** Every file and directory under {@code dir} with its bytes (directories as "/"). */
    private static Map<String, String> snapshot(Path dir) {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.toList()) {
                out.put(dir.relativize(p).toString(), Files.isDirectory(p) ? "/" : Files.readString(p));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    @AfterAll
    static void report() throws IOException {
        if (world != null) {
            try (Stream<Path> all = Files.walk(world.dir())) {
                for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        System.out.println("fuzz: RequestProtocolFuzzTest " + EXECUTIONS.get() + " executions");
    }
}
