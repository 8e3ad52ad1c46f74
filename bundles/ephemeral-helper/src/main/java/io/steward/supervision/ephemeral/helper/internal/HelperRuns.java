package io.steward.supervision.ephemeral.helper.internal;

import io.steward.helper.HelperException;
import io.steward.helper.HelperException.Reason;
import io.steward.supervision.AddonId;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The runs in flight of one helper, and its concurrency limit. Kept across version changes of the
 * helper, so the limit holds for the add-on whatever version its callers hold. Thread-safe.
 * <p>
 * A request beyond the limit fails at once with {@link Reason#BUSY} instead of queueing: callers
 * are threads of other components, and a bounded wait inside {@code run} would hide an overloaded
 * helper behind slow calls; the caller knows best whether to retry.
 */
final class HelperRuns {
    private final AddonId id;
    private final int limit;
    private final ProcessRunner runner;
    private final Set<HelperRun> inFlight = new HashSet<>();   // guarded by this
    private boolean closed;                                    // guarded by this

    HelperRuns(AddonId id, int limit, ProcessRunner runner) {
        this.id = id;
        this.limit = limit;
        this.runner = runner;
    }

    /** Admits one more run, or says why not. */
    synchronized HelperRun begin() throws HelperException {
        if (closed) {
            throw new HelperException(Reason.UNAVAILABLE, "helper " + id
                    + " cannot run: it was removed or its bundle is stopping");
        }
        if (inFlight.size() >= limit) {
            throw new HelperException(Reason.BUSY, "helper " + id + " cannot run: it already has " + limit
                    + " runs in flight (max.concurrent.runs); try again later");
        }
        HelperRun run = new HelperRun(runner);
        inFlight.add(run);
        return run;
    }

    void end(HelperRun run) {
        synchronized (this) {
            inFlight.remove(run);
        }
        run.finish();
    }

    /** Admits no more runs; returns those in flight. */
    synchronized List<HelperRun> close() {
        closed = true;
        return List.copyOf(inFlight);
    }

    synchronized int inFlight() {
        return inFlight.size();
    }
}
