package io.steward.core.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.time.Clock;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The published statuses: what the ledger says, with what only this process knows (the desired versions,
 * restart counts, recently removed add-ons, the kinds of held ones), made into one immutable list on
 * {@link #publish}. Publishing and the desired versions and held kinds are the reconcile thread's; restarts
 * and removals are also written by the workers of a pass (one add-on each); the list is read by anyone.
 */
final class StatusBoard {
    private final Clock clock;
    // reconcile thread only
    private final Map<AddonId, String> desiredVersions = new HashMap<>();
    private final Map<AddonId, String> heldKinds = new HashMap<>();   // the kind of a held add-on, from its assignment
    // the restart count each add-on's dispatcher last reported (systemd's NRestarts): not in the ledger, the
    // dispatcher's supervisor keeps it and reports it again on every status
    private final Map<AddonId, Long> restarts = new ConcurrentHashMap<>();
    private final Map<AddonId, SupervisionStatus> removed = new ConcurrentSkipListMap<>();
    private volatile List<SupervisionStatus> statuses = List.of();

    StatusBoard(Clock clock) {
        this.clock = clock;
    }

    List<SupervisionStatus> statuses() {
        return statuses;
    }

    Optional<SupervisionStatus> status(AddonId id) {
        return statuses.stream().filter(s -> s.id().equals(id)).findFirst();
    }

    /** At the start: the versions the ledger's attempts were for. Reconcile thread only. */
    void desiredFrom(Ledger ledger) {
        ledger.entries().forEach((id, e) -> e.attempted().ifPresent(a -> desiredVersions.put(id, a.version())));
    }

    /** The versions a pass works towards. Reconcile thread only. */
    void desired(Map<AddonId, Assignment> assigned) {
        desiredVersions.clear();
        assigned.forEach((id, a) -> desiredVersions.put(id, a.version()));
    }

    /** The kind of a held add-on, from its assignment. Reconcile thread only. */
    void heldKind(AddonId id, String kind) {
        heldKinds.put(id, kind);
    }

    void restartsReported(AddonId id, long count) {
        restarts.put(id, count);
    }

    /** Removed add-ons are shown until {@code cutoff}. */
    void forgetRemovedBefore(Instant cutoff) {
        removed.values().removeIf(s -> s.since().isBefore(cutoff));
    }

    /** An add-on gone from the ledger, shown as removed for a while. */
    void removed(AddonId id, String kind, String why, Instant now) {
        restarts.remove(id);
        removed.put(id, new SupervisionStatus(id, kind, SupervisionState.REMOVED, Optional.empty(),
                Optional.empty(), "removed: " + why, now));
    }

    void publish(Ledger ledger) {
        Map<AddonId, SupervisionStatus> next = new TreeMap<>(removed);
        ledger.entries().forEach((id, e) -> next.put(id, new SupervisionStatus(id, e.kind(), e.state(),
                Optional.ofNullable(desiredVersions.get(id)), e.activeVersion(), e.detail(), e.since(),
                restarts.getOrDefault(id, 0L))));
        // a hold outlives the add-on's ledger entry: it is shown (in every process) until it is released
        for (AddonId id : ledger.holds()) {
            SupervisionStatus was = next.get(id);
            if (was == null || was.state() == SupervisionState.REMOVED) {
                next.put(id, new SupervisionStatus(id, was == null ? heldKinds.getOrDefault(id, "unknown") : was.kind(),
                        SupervisionState.HELD, Optional.empty(), Optional.empty(), "held disabled by an operator;"
                        + " steward:enable " + id + " releases it", was == null ? clock.instant() : was.since()));
            }
        }
        statuses = List.copyOf(next.values());
    }
}
