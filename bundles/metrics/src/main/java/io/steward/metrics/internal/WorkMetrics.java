package io.steward.metrics.internal;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import io.steward.observe.StewardObserver;
import io.steward.supervision.AddonId;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionService;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;

/**
 * The counters and histograms of what Steward does, fed by the bundles that do it ({@link StewardObserver}):
 * reconcile passes and their duration, pass failures, restarts, delivered bytes, verification failures, updater
 * calls and refusals. Each call only increments; the registry renders at scrape time. No exemplars: Steward
 * has no traces to link, and the sampler would look for OpenTelemetry at every observation.
 */
final class WorkMetrics implements StewardObserver {
    /** Pass durations from a no-op pass of a few add-ons (ms) to a pass that installs many (minutes). */
    static final double[] PASS_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

    private final Counter passes;
    private final Counter passFailures;
    private final Histogram passDuration;
    private final Gauge lastPass;
    private final Gauge passWarnings;
    private final RestartCollector restarts;
    private final Counter deliveredBytes;
    private final Counter deliveries;
    private final Counter verificationFailures;
    private final Counter updaterCalls;
    private final Counter updaterRefusals;

    /** {@code service}: where the restart counts that statuses carry are read at scrape time (null: none). */
    WorkMetrics(PrometheusRegistry registry, Supplier<SupervisionService> service) {
        passes = Counter.builder().name("steward_reconcile_passes")
                .help("Reconcile passes that ran to their end").withoutExemplars().register(registry);
        passFailures = Counter.builder().name("steward_reconcile_pass_failures")
                .help("Reconcile passes that could not run (state unusable or locked, unexpected error)").withoutExemplars().register(registry);
        passDuration = Histogram.builder().name("steward_reconcile_pass_duration_seconds").unit(Unit.SECONDS)
                .help("Duration of reconcile passes, failed ones included").classicOnly()
                .classicUpperBounds(PASS_BUCKETS).withoutExemplars().register(registry);
        lastPass = Gauge.builder().name("steward_reconcile_last_pass_timestamp_seconds").unit(Unit.SECONDS)
                .help("When the last reconcile pass that ran to its end started (Unix time)").withoutExemplars().register(registry);
        passWarnings = Gauge.builder().name("steward_reconcile_last_pass_warnings")
                .help("Warnings of the last pass (a source in error, an ignored override)").withoutExemplars().register(registry);
        restarts = new RestartCollector(service);
        registry.register(restarts);
        deliveredBytes = Counter.builder().name("steward_delivery_bytes").unit(Unit.BYTES).labelNames("addon")
                .help("Bytes of artifacts fetched, verified and staged").withoutExemplars().register(registry);
        deliveries = Counter.builder().name("steward_deliveries").labelNames("addon")
                .help("Artifacts fetched, verified and staged").withoutExemplars().register(registry);
        verificationFailures = Counter.builder().name("steward_delivery_verification_failures")
                .labelNames("addon", "step")
                .help("Artifacts refused by verification (signature, digest, archive rules, manifest), by step")
                .withoutExemplars().register(registry);
        updaterCalls = Counter.builder().name("steward_updater_calls").labelNames("operation")
                .help("Requests to the root steward-updater").withoutExemplars().register(registry);
        updaterRefusals = Counter.builder().name("steward_updater_refusals").labelNames("operation", "reason")
                .help("Requests to the steward-updater that failed, by reason").withoutExemplars().register(registry);
    }

    @Override
    public void passCompleted(ReconcileReport report) {
        passes.inc();
        passDuration.observe(seconds(report.took()));
        lastPass.set(report.startedAt().toEpochMilli() / 1000.0);
        passWarnings.set(report.warnings().size());
    }

    @Override
    public void passFailed(Instant startedAt, Duration took, String reason) {
        passFailures.inc();
        passDuration.observe(seconds(took));
    }

    @Override
    public void delivered(AddonId addon, long bytes) {
        deliveries.labelValues(addon.value()).inc();
        deliveredBytes.labelValues(addon.value()).inc(Math.max(0, bytes));
    }

    @Override
    public void verificationFailed(AddonId addon, String step) {
        verificationFailures.labelValues(addon.value(), step).inc();
    }

    @Override
    public void updaterCall(String operation, String refusal) {
        updaterCalls.labelValues(operation).inc();
        if (!refusal.isEmpty()) {
            updaterRefusals.labelValues(operation, refusal).inc();
        }
    }

    @Override
    public void restarted(AddonId addon) {
        restarts.restarted(addon);
    }

    private static double seconds(Duration d) {
        return d.toNanos() / 1e9;
    }
}
