package io.steward.supervision;

/** The states of PRODUCT §6, one model for every kind. Wire spelling is the lower-case name. */
public enum SupervisionState {
    /** Not yet attempted. */
    PENDING,
    /** Artifact being fetched, verified or staged. */
    STAGING,
    /** Installed, coming up. */
    STARTING,
    /** Running (or, for kinds without a process, in effect) as assigned. */
    READY,
    /** Running but needs attention. */
    DEGRADED,
    /** Restarting after a crash. */
    BACKOFF,
    /** The last attempt failed; it is retried with backoff. */
    FAILED,
    /** Permanent failure for this exact assignment; not retried until the assignment changes. */
    REJECTED,
    /** Its kind has no dispatcher right now; the workload is left as it is. */
    DETACHED,
    /** No longer assigned; everything Steward installed for it is gone. */
    REMOVED,
    /**
     * Held disabled by an operator whatever its assignment says (durable until released); nothing of
     * it is installed.
     *
     * @since 1.1
     */
    HELD;

    /** The wire spelling, e.g. {@code ready}. */
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
