package io.steward.metrics.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The restarts series: what a kind reported one by one plus the count a status carries (systemd's NRestarts). */
class RestartCollectorTest {
    private final AtomicReference<List<SupervisionStatus>> statuses = new AtomicReference<>(List.of());
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final WorkMetrics metrics = new WorkMetrics(registry, () -> service());

    private SupervisionService service() {
        return (SupervisionService) Proxy.newProxyInstance(SupervisionService.class.getClassLoader(),
                new Class<?>[] {SupervisionService.class}, (p, m, a) -> {
                    if (m.getName().equals("statuses")) {
                        return statuses.get();
                    }
                    throw new UnsupportedOperationException(m.getName());
                });
    }

    private static SupervisionStatus ready(String id, String kind, long restarts) {
        return SupervisionStatus.of(new AddonId(id), kind, SupervisionState.READY, Optional.of("1.0"), "running")
                .withRestarts(restarts);
    }

    private String text() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, registry.scrape());
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void systemdsCountIsReadAtScrapeTimeAndAddsToTheReportedOnes() throws IOException {
        statuses.set(List.of(ready("svc", "systemd_service", 3), ready("side", "sidecar", 0)));
        metrics.restarted(new AddonId("side"));
        metrics.restarted(new AddonId("side"));
        String t = text();
        assertTrue(t.contains("# TYPE steward_addon_restarts_total counter"), t);
        assertTrue(t.contains("steward_addon_restarts_total{addon=\"svc\"} 3.0"), t);
        assertTrue(t.contains("steward_addon_restarts_total{addon=\"side\"} 2.0"), t);

        statuses.set(List.of(ready("svc", "systemd_service", 4), ready("side", "sidecar", 0)));
        assertTrue(text().contains("steward_addon_restarts_total{addon=\"svc\"} 4.0"), "read again at each scrape");
    }

    @Test
    void anAddonThatNeverRestartedShowsZeroAndSystemdsCountGoesWithTheAddon() throws IOException {
        statuses.set(List.of(ready("svc", "systemd_service", 0)));
        assertTrue(text().contains("steward_addon_restarts_total{addon=\"svc\"} 0.0"), text());
        statuses.set(List.of());
        assertFalse(text().contains("addon=\"svc\""), text());
    }

    @Test
    void noServiceYetStillServesTheReportedRestarts() throws IOException {
        PrometheusRegistry own = new PrometheusRegistry();
        WorkMetrics alone = new WorkMetrics(own, () -> null);
        alone.restarted(new AddonId("side"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, own.scrape());
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("steward_addon_restarts_total{addon=\"side\"} 1.0"));
    }
}
