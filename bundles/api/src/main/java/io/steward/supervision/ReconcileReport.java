package io.steward.supervision;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * The outcome of one reconcile pass, or of a plan (a dry run: {@code statuses} then show the
 * current state).
 *
 * @param revision  revision of the assignment set the pass worked on
 * @param steps     one step per add-on the pass considered, sorted by id
 * @param statuses  status of every add-on after the pass, sorted by id
 * @param warnings  problems that did not stop the pass (an ignored override, a source in error)
 * @param startedAt when the pass started
 * @param took      how long it took
 */
public record ReconcileReport(String revision, List<PlanStep> steps, List<SupervisionStatus> statuses,
                              List<String> warnings, Instant startedAt, Duration took) {
    public ReconcileReport {
        Objects.requireNonNull(revision, "revision");
        steps = List.copyOf(steps);
        statuses = List.copyOf(statuses);
        warnings = List.copyOf(warnings);
        Objects.requireNonNull(startedAt, "startedAt");
        Objects.requireNonNull(took, "took");
    }

    /** True when every add-on that is still assigned is {@code ready}. */
    public boolean converged() {
        return statuses.stream()
                .filter(s -> s.desiredVersion().isPresent())
                .allMatch(s -> s.state() == SupervisionState.READY);
    }
}
