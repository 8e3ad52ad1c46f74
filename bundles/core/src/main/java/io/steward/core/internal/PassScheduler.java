package io.steward.core.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionState;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The pass queue: the single thread {@code core-reconciler} on which every pass and every other task of the
 * reconciler runs, so they are serialized whatever triggers them. Requests that arrive while a pass is queued
 * coalesce into it (its waiters all get its report); the periodic pass and the next retry are timers on the
 * same thread. Queuing is thread-safe; the retry timer is the reconcile thread's.
 */
final class PassScheduler {
    /** How soon a pass looks again at a desired add-on that is still starting. */
    static final Duration STARTING_RECHECK = Duration.ofSeconds(1);

    private final ScheduledThreadPoolExecutor loop = reconcileThread();
    private final Consumer<List<CompletableFuture<ReconcileReport>>> runPass;
    private final Clock clock;

    // requests waiting for the next pass; guarded by itself
    private final List<CompletableFuture<ReconcileReport>> waiters = new ArrayList<>();
    private boolean passQueued;

    private ScheduledFuture<?> retryTimer;   // reconcile thread only: the next backoff's pass
    private Instant retryAt;

    /** {@code runPass} runs a queued pass on the reconcile thread and completes the waiters it is given. */
    PassScheduler(Consumer<List<CompletableFuture<ReconcileReport>>> runPass, Clock clock) {
        this.runPass = runPass;
        this.clock = clock;
    }

    /** One thread; a retry pass still waiting when it shuts down is dropped, not awaited. */
    private static ScheduledThreadPoolExecutor reconcileThread() {
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, named("core-reconciler"));
        t.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        t.setRemoveOnCancelPolicy(true);
        return t;
    }

    static ThreadFactory named(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    void execute(Runnable task) {
        loop.execute(task);
    }

    void passEvery(int seconds) {
        loop.scheduleWithFixedDelay(() -> queuePass(null), seconds, seconds, TimeUnit.SECONDS);
    }

    void runEvery(Duration every, Runnable task) {
        loop.scheduleAtFixedRate(task, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Queues a pass unless one is queued already; {@code waiter} (may be null) gets its report. */
    void queuePass(CompletableFuture<ReconcileReport> waiter) {
        synchronized (waiters) {
            if (waiter != null) {
                waiters.add(waiter);
            }
            if (passQueued || loop.isShutdown()) {
                return;
            }
            passQueued = true;
        }
        try {
            loop.execute(this::runQueuedPass);
        } catch (RejectedExecutionException e) {
            if (waiter != null) {
                waiter.completeExceptionally(new IllegalStateException("the reconciler stopped"));
            }
        }
    }

    private void runQueuedPass() {
        List<CompletableFuture<ReconcileReport>> mine;
        synchronized (waiters) {
            passQueued = false;
            mine = List.copyOf(waiters);
            waiters.clear();
        }
        runPass.accept(mine);
    }

    <T> CompletionStage<T> submit(Callable<T> task) {
        CompletableFuture<T> result = new CompletableFuture<>();
        try {
            loop.execute(() -> {
                try {
                    result.complete(task.call());
                } catch (Exception e) {
                    result.completeExceptionally(e);
                }
            });
        } catch (RejectedExecutionException e) {
            result.completeExceptionally(new IllegalStateException("the reconciler stopped"));
        }
        return result;
    }

    /**
     * A backoff's due time is itself a trigger: a pass is queued for the earliest retry of a desired add-on,
     * rather than left to the periodic timer; so is a desired add-on still starting (an adopted sidecar in its
     * readiness grace, a unit activating), checked again within {@link #STARTING_RECHECK}. Reconcile thread only.
     */
    void scheduleRetry(Map<AddonId, Ledger.Entry> entries, Set<AddonId> desiredIds) {
        Instant now = clock.instant();
        Optional<Instant> next = entries.entrySet().stream()
                .filter(e -> desiredIds.contains(e.getKey()))
                .flatMap(e -> e.getValue().failure().stream())
                .filter(f -> !f.permanent())
                .map(Ledger.Failure::retryAt)
                .filter(at -> at.isAfter(now))
                .min(Comparator.naturalOrder());
        boolean starting = entries.entrySet().stream().anyMatch(e -> desiredIds.contains(e.getKey())
                && e.getValue().state() == SupervisionState.STARTING);
        if (starting && (next.isEmpty() || next.get().isAfter(now.plus(STARTING_RECHECK)))) {
            next = Optional.of(now.plus(STARTING_RECHECK));
        }
        if (next.isEmpty() || next.get().equals(retryAt) && retryTimer != null && !retryTimer.isDone()) {
            return;
        }
        if (retryTimer != null) {
            retryTimer.cancel(false);
        }
        retryAt = next.get();
        // one millisecond after the due time: the planner retries once "now" is no longer before it
        long delay = Duration.between(clock.instant(), retryAt).toMillis() + 1;
        try {
            retryTimer = loop.schedule(() -> queuePass(null), Math.max(1, delay), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            retryTimer = null;      // stopping
        }
    }

    /** Stops taking tasks; the task in progress finishes. */
    void shutdown() {
        loop.shutdown();
    }

    /** Interrupts the task in progress. */
    void shutdownNow() {
        loop.shutdownNow();
    }

    /** Whether the thread ended within {@code wait}. */
    boolean awaitTermination(Duration wait) throws InterruptedException {
        return loop.awaitTermination(wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** After shutdown: what still waits for a pass is told there will be none. */
    void failWaiters() {
        synchronized (waiters) {
            waiters.forEach(w -> w.completeExceptionally(new IllegalStateException("the reconciler stopped")));
            waiters.clear();
        }
    }
}
