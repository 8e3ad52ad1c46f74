package io.steward.metrics.internal;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import io.steward.supervision.KindInfo;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.util.List;
import java.util.function.Supplier;

/**
 * What {@link SupervisionService} says at scrape time: one {@code steward_addon_state} series per add-on and
 * state (1 for the state it is in, 0 for the others, the node_exporter systemd collector's shape), when it
 * entered that state, and the kinds with the bundle serving each. Nothing is cached, so a scrape never shows an
 * add-on that is gone.
 */
final class StateCollector implements MultiCollector {
    private final Supplier<SupervisionService> service;

    StateCollector(Supplier<SupervisionService> service) {
        this.service = service;
    }

    @Override
    public MetricSnapshots collect() {
        SupervisionService s = service.get();
        List<SupervisionStatus> statuses = s == null ? List.of() : s.statuses();
        List<KindInfo> kinds = s == null ? List.of() : s.kinds();
        GaugeSnapshot.Builder state = GaugeSnapshot.builder().name("steward_addon_state")
                .help("1 for the state each add-on is in, 0 for the others");
        GaugeSnapshot.Builder since = GaugeSnapshot.builder().name("steward_addon_state_since_timestamp_seconds")
                .unit(Unit.SECONDS).help("When each add-on entered its current state (Unix time)");
        for (SupervisionStatus st : statuses) {
            for (SupervisionState candidate : SupervisionState.values()) {
                state.dataPoint(GaugeDataPointSnapshot.builder().value(candidate == st.state() ? 1 : 0)
                        .labels(Labels.of("addon", st.id().value(), "kind", st.kind(), "state", candidate.wireName()))
                        .build());
            }
            since.dataPoint(GaugeDataPointSnapshot.builder().value(st.since().toEpochMilli() / 1000.0)
                    .labels(Labels.of("addon", st.id().value(), "kind", st.kind())).build());
        }
        GaugeSnapshot.Builder kind = GaugeSnapshot.builder().name("steward_kind_info")
                .help("The supervision kinds that have a dispatcher, with the bundle serving each");
        for (KindInfo k : kinds) {
            kind.dataPoint(GaugeDataPointSnapshot.builder().value(1)
                    .labels(Labels.of("kind", k.kind(), "bundle", k.bundle(), "version", k.bundleVersion())).build());
        }
        return MetricSnapshots.of(state.build(), since.build(), kind.build());
    }

    @Override
    public List<String> getPrometheusNames() {
        return List.of("steward_addon_state", "steward_addon_state_since_timestamp_seconds", "steward_kind_info");
    }
}
