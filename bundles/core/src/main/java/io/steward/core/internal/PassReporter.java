package io.steward.core.internal;

import io.steward.observe.StewardObserver;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.spi.StatusSink;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the outcome of each queued pass: to its waiters, the agent's own unit (sd_notify), the observers and
 * the status sinks; a refusal is logged once, not at every pass. Reconcile thread only.
 */
final class PassReporter {
    // the reconciler's logger: these lines are the reconciler's in the log
    private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

    private final boolean automatic;
    private final AgentNotifier notifier;
    private final List<StewardObserver> observers;
    private final Supplier<List<StatusSink>> sinks;
    private final Clock clock;
    private String lastRefusal;

    /** {@code observers} is read at each pass (SCR updates it in place); {@code sinks} too. */
    PassReporter(boolean automatic, AgentNotifier notifier, List<StewardObserver> observers,
                 Supplier<List<StatusSink>> sinks, Clock clock) {
        this.automatic = automatic;
        this.notifier = notifier;
        this.observers = observers;
        this.sinks = sinks;
        this.clock = clock;
    }

    /** A refusal already logged (at the start): not logged again by the first pass it refuses. */
    void refusedBefore(String why) {
        lastRefusal = why;
    }

    /** Runs {@code pass} for {@code mine}, the requests it serves. */
    void run(List<CompletableFuture<ReconcileReport>> mine, Supplier<ReconcileReport> pass) {
        Instant started = clock.instant();
        long t0 = System.nanoTime();
        try {
            ReconcileReport report = pass.get();
            notifier.passed(report);
            StewardObserver.each(observers, o -> o.passCompleted(report));
            mine.forEach(w -> w.complete(report));
            tellSinks(report);
        } catch (IllegalStateException e) {       // the state is unusable or locked: reported to callers
            notifier.refused(e.getMessage());
            passFailed(started, t0, e);
            if (automatic && !e.getMessage().equals(lastRefusal)) {
                LOG.error("Reconcile pass refused: {}", e.getMessage());   // once; a one-shot command prints it
            }
            lastRefusal = e.getMessage();
            mine.forEach(w -> w.completeExceptionally(e));
        } catch (RuntimeException e) {            // never let the loop die
            passFailed(started, t0, e);
            LOG.error("Reconcile pass failed: {}", e.getMessage(), e);
            notifier.refused("failed: " + e);
            mine.forEach(w -> w.completeExceptionally(e));
        }
    }

    private void passFailed(Instant started, long t0, RuntimeException e) {
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        StewardObserver.each(observers, o -> o.passFailed(started, took, String.valueOf(e.getMessage())));
    }

    /** Each sink gets the pass's report; a sink's failure is its own (logged), never the pass's. */
    private void tellSinks(ReconcileReport report) {
        for (StatusSink sink : sinks.get()) {
            try {
                sink.passCompleted(report);
            } catch (RuntimeException e) {
                LOG.warn("Status sink {} failed: {}", sink.getClass().getName(), e.toString());
            }
        }
    }
}
