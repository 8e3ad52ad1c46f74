package io.steward.systemd;

import java.util.Objects;

/**
 * The end of a job Steward queued and waited for, and the unit's state right after it.
 *
 * @param unit    the unit
 * @param job     systemd's job object path, {@code ""} when no job was queued
 * @param outcome the {@code JobRemoved} result
 * @param after   the unit's state once the job was removed
 */
public record JobResult(String unit, String job, JobOutcome outcome, UnitState after) {
    public JobResult {
        Objects.requireNonNull(unit, "unit");
        Objects.requireNonNull(job, "job");
        Objects.requireNonNull(outcome, "outcome");
        Objects.requireNonNull(after, "after");
    }
}
