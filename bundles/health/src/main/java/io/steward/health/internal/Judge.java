package io.steward.health.internal;

import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.felix.hc.api.FormattingResultLog;

/**
 * The health rules, as pure functions of what was recorded: one for the agent (a recent pass, no failed pass, no
 * source in error, the updater reachable when it was needed), one per kind (its add-ons' states). The Felix Health
 * Check services and {@code steward health} both use these, so they never disagree.
 */
final class Judge {
    private static final Set<SupervisionState> BAD = Set.of(SupervisionState.FAILED, SupervisionState.REJECTED,
            SupervisionState.BACKOFF);
    private static final Set<SupervisionState> ATTENTION = Set.of(SupervisionState.DEGRADED, SupervisionState.DETACHED);

    private Judge() {
    }

    /** The agent's check; {@code alive} says whether the process that wrote {@code r} still runs. */
    static FormattingResultLog agent(PassRecord r, boolean alive, Instant now, Duration maxPassAge) {
        FormattingResultLog log = new FormattingResultLog();
        if (r == null) {
            log.critical("no agent has recorded its health (is 'steward run' running?)");
            return log;
        }
        if (!alive) {
            log.critical("the agent (pid {}) that recorded its health is not running", r.pid());
            return log;
        }
        if (r.lastPass() == null) {
            if (Duration.between(r.agentStarted(), now).compareTo(maxPassAge) <= 0) {
                log.temporarilyUnavailable("the agent started at {} and its first reconcile pass has not finished yet",
                        r.agentStarted());
            } else {
                log.critical("no reconcile pass has finished since the agent started at {}", r.agentStarted());
            }
        } else {
            Duration age = Duration.between(r.lastPass(), now);
            if (age.compareTo(maxPassAge) > 0) {
                log.critical("the last reconcile pass started {} s ago (at {}), more than {} s: the reconciler may be stuck",
                        age.toSeconds(), r.lastPass(), maxPassAge.toSeconds());
            } else {
                log.info("last reconcile pass at {} ({} s ago)", r.lastPass(), age.toSeconds());
            }
        }
        if (r.lastFailure() != null && (r.lastPass() == null || r.lastFailure().isAfter(r.lastPass()))) {
            log.critical("the last reconcile pass could not run: {}", r.failure());
        }
        for (String w : r.warnings()) {
            log.warn("{}", w);
        }
        if (r.updaterProblemAt() != null && (r.updaterOkAt() == null || r.updaterProblemAt().isAfter(r.updaterOkAt()))) {
            log.critical("the steward-updater failed a request at {} ({}); add-ons that need privileged work fail until it answers",
                    r.updaterProblemAt(), r.updaterProblem());
        }
        return log;
    }

    /** The check of one kind: its assigned add-ons. */
    static FormattingResultLog kind(String kind, List<SupervisionStatus> statuses, boolean served) {
        FormattingResultLog log = new FormattingResultLog();
        List<SupervisionStatus> mine = statuses.stream()
                .filter(s -> s.kind().equals(kind) && s.desiredVersion().isPresent()).toList();
        if (!served) {
            log.warn("no bundle serves kind {} now: its {} add-on(s) are detached", kind, mine.size());
        }
        List<SupervisionStatus> bad = mine.stream().filter(s -> BAD.contains(s.state())).toList();
        List<SupervisionStatus> attention = mine.stream().filter(s -> ATTENTION.contains(s.state())).toList();
        for (SupervisionStatus s : bad) {
            log.critical("add-on {} is {}: {}", s.id(), s.state().wireName(), s.detail());
        }
        for (SupervisionStatus s : attention) {
            log.warn("add-on {} is {}: {}", s.id(), s.state().wireName(), s.detail());
        }
        long ready = mine.stream().filter(s -> s.state() == SupervisionState.READY).count();
        log.info("{} of {} assigned add-on(s) of kind {} ready{}", ready, mine.size(), kind, mine.size() == ready ? ""
                : " (others: " + mine.stream().filter(s -> s.state() != SupervisionState.READY)
                        .map(s -> s.id() + " " + s.state().wireName()).collect(Collectors.joining(", ")) + ")");
        return log;
    }
}
