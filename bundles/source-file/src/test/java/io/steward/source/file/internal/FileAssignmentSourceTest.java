package io.steward.source.file.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.assignment.codec.JsonAssignmentCodec;
import io.steward.supervision.spi.AssignmentSource.Snapshot;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.Predicate;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;

class FileAssignmentSourceTest {
    @TempDir
    Path etc;

    private FileAssignmentSource source;

    @AfterEach
    void stop() throws Exception {
        if (source != null) {
            source.deactivate();
        }
    }

    private FileAssignmentSource start() {
        Map<String, String> props = Map.of("steward.etc", etc.toString(), "steward.data", etc.resolve("data").toString());
        BundleContext context = (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {BundleContext.class}, (p, m, a) -> m.getName().equals("getProperty")
                        ? props.get((String) a[0]) : null);
        FileAssignmentSource.Config config = (FileAssignmentSource.Config) Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {FileAssignmentSource.Config.class},
                (p, m, a) -> m.getName().equals("poll_millis") ? 10L : m.getDefaultValue());
        source = new FileAssignmentSource(context, new JsonAssignmentCodec(), config);
        return source;
    }

    private Snapshot await(Predicate<Snapshot> condition) throws InterruptedException {
        try {
            Awaitility.await().atMost(Duration.ofSeconds(10)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5))
                    .pollInSameThread().until(() -> condition.test(source.snapshot()));
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("condition not met; snapshot " + source.snapshot(), e);
        }
        return source.snapshot();
    }

    private static String doc(String revision, String url) {
        return "{\"revision\":\"" + revision + "\",\"addons\":[{\"id\":\"probe\",\"version\":\"1.0\",\"supervision\":"
                + "\"sidecar\",\"artifact\":{\"url\":\"" + url + "\",\"sha256\":\"" + "0".repeat(64) + "\"}}]}";
    }

    @Test
    void aRefusedDocumentKeepsTheLastValidOneAndAMissingFileIsAnError() throws Exception {
        Files.writeString(etc.resolve("assignments.json"), doc("r1", "file:/srv/a.tar.gz"));
        start();
        assertEquals("r1", source.snapshot().document().orElseThrow().revision());

        Files.writeString(etc.resolve("assignments.json"), "{\"addons\":[{\"id\":\"../x\"}]}");
        Snapshot refused = await(s -> s.error().isPresent());
        assertTrue(refused.error().get().contains("addons[0].id: \"../x\" is not a valid add-on id"), refused.error().get());
        assertEquals("r1", refused.document().orElseThrow().revision(), "the last valid document stays");

        Files.delete(etc.resolve("assignments.json"));
        Snapshot missing = await(s -> s.error().filter(e -> e.endsWith("does not exist")).isPresent());
        assertEquals("r1", missing.document().orElseThrow().revision());

        Files.writeString(etc.resolve("assignments.json"), doc("r2", "file:/srv/a.tar.gz"));
        assertEquals("r2", await(s -> s.error().isEmpty()).document().orElseThrow().revision());
    }

    @Test
    void relativeFileUrlsAreResolvedAgainstTheDocument() throws Exception {
        Files.writeString(etc.resolve("assignments.json"), doc("r1", "file:../artifacts/probe-1.0.tar.gz"));
        start();
        String url = source.snapshot().document().orElseThrow().addons().get(0).artifact().orElseThrow().url();
        assertEquals(etc.getParent().resolve("artifacts/probe-1.0.tar.gz").toUri().toString(), url);
    }
}
