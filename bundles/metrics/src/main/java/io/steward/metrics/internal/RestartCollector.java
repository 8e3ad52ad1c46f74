package io.steward.metrics.internal;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionStatus;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * {@code steward_addon_restarts}: per add-on, the restarts its kind observed and reported one by one (the sidecar
 * kind restarts its processes itself) plus the restart count its status carries (systemd's {@code NRestarts} for
 * the systemd kinds, read at scrape time). The reported ones are kept for the agent's lifetime, like any counter;
 * systemd's count is its own, so it resets when systemd's does (a start on request) and goes with the add-on.
 */
final class RestartCollector implements MultiCollector {
    static final String NAME = "steward_addon_restarts";

    private final Supplier<SupervisionService> service;
    private final Map<String, LongAdder> observed = new ConcurrentHashMap<>();

    RestartCollector(Supplier<SupervisionService> service) {
        this.service = service;
    }

    /** The kind of {@code addon} restarted its process. */
    void restarted(AddonId addon) {
        observed.computeIfAbsent(addon.value(), a -> new LongAdder()).increment();
    }

    @Override
    public MetricSnapshots collect() {
        Map<String, Long> total = new TreeMap<>();
        observed.forEach((addon, n) -> total.merge(addon, n.sum(), Long::sum));
        SupervisionService s = service.get();
        for (SupervisionStatus st : s == null ? List.<SupervisionStatus>of() : s.statuses()) {
            total.merge(st.id().value(), st.restarts(), Long::sum);
        }
        CounterSnapshot.Builder restarts = CounterSnapshot.builder().name(NAME)
                .help("Restarts of an add-on's process after it exited (by its kind, or by systemd: NRestarts)");
        total.forEach((addon, n) -> restarts.dataPoint(CounterDataPointSnapshot.builder().value(n)
                .labels(Labels.of("addon", addon)).build()));
        return MetricSnapshots.of(restarts.build());
    }

    @Override
    public List<String> getPrometheusNames() {
        return List.of(NAME);
    }
}
