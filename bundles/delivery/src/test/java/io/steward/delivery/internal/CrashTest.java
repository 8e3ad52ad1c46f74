package io.steward.delivery.internal;

import static io.steward.delivery.internal.Fixtures.Tar;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.delivery.internal.Fixtures.Host;
import io.steward.delivery.internal.Fixtures.Key;
import io.steward.supervision.spi.AddonRecord;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * kill -9 of a real stager process at each point between extraction and commit: {@code current} is at
 * the old version or the new one, complete, and the next stage cleans up what the dead one left.
 */
class CrashTest {
    private static final String ID = "netprobe";

    @TempDir
    static Path keys;
    static Key demo;

    @TempDir
    Path root;

    @BeforeAll
    static void key() throws Exception {
        demo = Fixtures.opensslKey(keys, "demo");
    }

    @ParameterizedTest
    @ValueSource(strings = {"extracted", "staged", "activate", "activated"})
    void killedAtAnyPointLeavesTheOldOrTheNewVersionComplete(String point) throws Exception {
        Host host = new Host(root);
        Fixtures.trust(host.trust, demo);
        DeliveryStager stager = host.stager(Map.of());
        AddonRecord v1 = host.signed(ID, "1.0", Tar.addon(ID, "1.0").tgz(), demo);
        stager.activate(v1, stager.stage(v1)).commit();
        Map<String, String> oldTree = tree(host.home(ID).resolve("versions/1.0"));

        Tar big = Tar.addon(ID, "2.0");
        for (int i = 0; i < 20; i++) {
            big.file("share/blob" + i, new byte[100_000], 0644);
        }
        AddonRecord v2 = host.signed(ID, "2.0", big.tgz(), demo);
        var ref = v2.assignment().artifact().orElseThrow();
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), CrashChild.class.getName(),
                host.data.toString(), host.trust.toString(), ID, "2.0", ref.url(), ref.sha256(), ref.signature(), point)
                .redirectError(root.resolve("child.err").toFile())
                .start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String line = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readLine();
                } catch (java.io.IOException e) {
                    return "read failed: " + e;
                }
            }).get(60, TimeUnit.SECONDS);
            assertEquals("PAUSED " + point, line, () -> "child said " + line + "; stderr: " + stderr());
            if (point.equals("extracted")) {
                assertEquals(1, list(host.data.resolve("tmp")).stream().filter(n -> n.startsWith("stage.netprobe.")).count(),
                        "the verified tree waits in a private directory");
                assertFalse(Files.exists(host.home(ID).resolve("versions/2.0")));
            }
        } finally {
            child.destroyForcibly();        // SIGKILL
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        }
        assertEquals(137, child.exitValue(), "killed by SIGKILL");

        String current = host.current(ID).orElseThrow();
        if (point.equals("activated")) {
            assertEquals("versions/2.0", current);
            assertEquals(tree(host.home(ID).resolve("versions/2.0")), tree(host.home(ID).resolve("current").toRealPath()));
            assertEquals(24, tree(host.home(ID).resolve("current").toRealPath()).size(), "complete: 23 files + metadata");
        } else {
            assertEquals("versions/1.0", current);
            assertEquals(oldTree, tree(host.home(ID).resolve("current").toRealPath()));
        }
        if (!point.equals("extracted")) {
            assertTrue(Files.isRegularFile(host.home(ID).resolve("versions/2.0/.steward-artifact.json")),
                    "a version directory appears complete, with its metadata");
        }

        // the next stage cleans up and converges
        stager.activate(v2, stager.stage(v2)).commit();
        assertEquals(Optional.of("versions/2.0"), host.current(ID));
        assertEquals(24, tree(host.home(ID).resolve("current").toRealPath()).size());
        Fixtures.assertNoLeftovers(host);
        try (Stream<Path> s = Files.list(host.home(ID))) {
            assertEquals(List.of("current", "versions"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
        stager.deactivate();
    }

    private String stderr() {
        try {
            return Files.readString(root.resolve("child.err"));
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    private static List<String> list(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).toList();
        }
    }

    private static Map<String, String> tree(Path dir) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                out.put(dir.relativize(p).toString(), Fixtures.sha256(Files.readAllBytes(p)));
            }
        }
        return out;
    }
}
