package io.steward.systemd;

/**
 * Counters of a {@link SystemdManager} since it was created: how much it asked of systemd.
 *
 * @param calls         D-Bus method calls made (reads and mutations)
 * @param mutatingCalls those of them that change systemd's state (reload, enable, disable, start, stop,
 *                      restart, reset-failed)
 * @param reconnects    times the connection was re-opened after the bus went away
 */
public record CallStatistics(long calls, long mutatingCalls, long reconnects) {
    /** The difference {@code this - earlier}, for counting the calls of one operation. */
    public CallStatistics minus(CallStatistics earlier) {
        return new CallStatistics(calls - earlier.calls, mutatingCalls - earlier.mutatingCalls,
                reconnects - earlier.reconnects);
    }
}
