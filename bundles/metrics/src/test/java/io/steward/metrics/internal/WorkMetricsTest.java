package io.steward.metrics.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.steward.supervision.AddonId;
import io.steward.supervision.ReconcileReport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What each observation does to the exposition, rendered by the client's own text writer. */
class WorkMetricsTest {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final WorkMetrics metrics = new WorkMetrics(registry, () -> null);

    private String text() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, registry.scrape());
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void passesCountAndFillTheHistogramFailuresToo() throws IOException {
        metrics.passCompleted(new ReconcileReport("r1", List.of(), List.of(), List.of("source file: bad"),
                Instant.ofEpochSecond(1_800_000_000L), Duration.ofMillis(30)));
        metrics.passFailed(Instant.now(), Duration.ofSeconds(2), "locked");
        String t = text();
        assertTrue(t.contains("steward_reconcile_passes_total 1.0"), t);
        assertTrue(t.contains("steward_reconcile_pass_failures_total 1.0"), t);
        assertTrue(t.contains("steward_reconcile_pass_duration_seconds_count 2"), t);
        assertTrue(t.contains("steward_reconcile_pass_duration_seconds_bucket{le=\"0.05\"} 1"), t);
        assertTrue(t.contains("steward_reconcile_pass_duration_seconds_bucket{le=\"2.5\"} 2"), t);
        assertTrue(t.contains("steward_reconcile_last_pass_timestamp_seconds 1.8E9"), t);
        assertTrue(t.contains("steward_reconcile_last_pass_warnings 1.0"), t);
    }

    @Test
    void deliveryRestartsAndUpdaterCallsAreCountedByLabel() throws IOException {
        AddonId a = new AddonId("flow-export");
        metrics.delivered(a, 4096);
        metrics.delivered(a, 1024);
        metrics.verificationFailed(a, "verify");
        metrics.restarted(a);
        metrics.updaterCall("grant_capabilities", "");
        metrics.updaterCall("install_units", "permanent");
        metrics.updaterCall("install_units", "unreachable");
        String t = text();
        assertTrue(t.contains("steward_delivery_bytes_total{addon=\"flow-export\"} 5120.0"), t);
        assertTrue(t.contains("steward_deliveries_total{addon=\"flow-export\"} 2.0"), t);
        assertTrue(t.contains("steward_delivery_verification_failures_total{addon=\"flow-export\",step=\"verify\"} 1.0"), t);
        assertTrue(t.contains("steward_addon_restarts_total{addon=\"flow-export\"} 1.0"), t);
        assertTrue(t.contains("steward_updater_calls_total{operation=\"install_units\"} 2.0"), t);
        assertTrue(t.contains("steward_updater_refusals_total{operation=\"install_units\",reason=\"permanent\"} 1.0"), t);
        assertTrue(!t.contains("steward_updater_refusals_total{operation=\"grant_capabilities\""), t);
    }

    @Test
    void theTextfileIsReplacedWholeAndMustBeAPromFile(@TempDir Path dir) throws IOException {
        assertThrows(IllegalArgumentException.class, () -> new Textfile(dir.resolve("steward.txt"), registry));
        Path file = dir.resolve("steward.prom");
        Files.writeString(file, "old");
        metrics.restarted(new AddonId("x"));
        new Textfile(file, registry).write();
        assertTrue(Files.readString(file).contains("steward_addon_restarts_total{addon=\"x\"} 1.0"));
        try (var list = Files.list(dir)) {
            assertEquals(List.of(file), list.toList());
        }
    }

    @Test
    void onlyALoopbackAddressIsAccepted() throws IOException {
        assertTrue(MetricsExporter.loopback("127.0.0.1").isLoopbackAddress());
        assertTrue(MetricsExporter.loopback("::1").isLoopbackAddress());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MetricsExporter.loopback("0.0.0.0"));
        assertTrue(e.getMessage().contains("not a loopback address"), e.getMessage());
        assertEquals(0, MetricsExporter.portProperty(null));
        assertEquals(9464, MetricsExporter.portProperty(" 9464 "));
        assertThrows(IllegalArgumentException.class, () -> MetricsExporter.portProperty("http"));
    }
}
