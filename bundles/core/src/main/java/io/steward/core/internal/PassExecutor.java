package io.steward.core.internal;

import io.steward.core.internal.DispatcherRegistry.Bound;
import io.steward.core.internal.DispatcherRegistry.DispatcherGone;
import io.steward.supervision.AddonId;
import io.steward.supervision.PlanStep;
import io.steward.supervision.PlanStep.Action;
import io.steward.supervision.SupervisionState;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out the decisions of a pass: each decision becomes its add-on's transition, add-ons of kinds that
 * allow concurrent calls on the workers ({@code core-pass}), the others one at a time on the reconcile
 * thread; one add-on's trouble is turned into its state and never ends the pass for the others.
 */
final class PassExecutor {
    // the reconciler's logger: these lines are the reconciler's in the log
    private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

    private final AddonTransitions transitions;
    private final DispatcherRegistry registry;
    private final Ledger ledger;
    private final ExecutorService workers;
    private final AgentNotifier notifier;
    private final Clock clock;

    PassExecutor(AddonTransitions transitions, DispatcherRegistry registry, Ledger ledger, ExecutorService workers,
                 AgentNotifier notifier, Clock clock) {
        this.transitions = transitions;
        this.registry = registry;
        this.ledger = ledger;
        this.workers = workers;
        this.notifier = notifier;
        this.clock = clock;
    }

    /**
     * Removals first (what goes away frees what it held), then the rest. Add-ons of kinds that allow
     * concurrent calls run on the workers, the others one at a time on this thread meanwhile; the
     * steps come back in plan order.
     */
    List<PlanStep> executeAll(List<Planner.Decision> decisions) {
        AtomicReferenceArray<List<PlanStep>> results = new AtomicReferenceArray<>(decisions.size());
        for (boolean removals : new boolean[] {true, false}) {
            List<Future<?>> running = new ArrayList<>();
            for (int i = 0; i < decisions.size(); i++) {
                Planner.Decision d = decisions.get(i);
                if ((d.step().action() == Action.REMOVE) != removals) {
                    continue;
                }
                int slot = i;
                if (concurrent(d)) {
                    running.add(workers.submit(() -> results.set(slot, executeIsolated(d))));
                } else {
                    results.set(slot, executeIsolated(d));
                    notifier.alive();
                }
            }
            for (Future<?> f : running) {
                try {
                    f.get();    // executeIsolated turns every failure into a state; this only waits
                    notifier.alive();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();     // deactivation: the workers are being stopped too
                    running.forEach(r -> r.cancel(true));
                    break;
                } catch (ExecutionException e) {
                    LOG.error("A worker of the pass failed", e.getCause());
                }
            }
        }
        List<PlanStep> steps = new ArrayList<>();
        for (int i = 0; i < decisions.size(); i++) {
            List<PlanStep> done = results.get(i);
            steps.addAll(done == null ? List.of(decisions.get(i).step()) : done);
        }
        return steps;
    }

    /** Whether the decision calls a dispatcher that allows concurrent calls. */
    private boolean concurrent(Planner.Decision d) {
        return switch (d.step().action()) {
            case INSTALL, UPDATE, ADOPT, KEEP, REMOVE -> registry.dispatcherFor(d.step().kind()).map(Bound::concurrent)
                    .orElse(false);
            case DETACHED, REJECT, SKIP_REJECTED, WAIT_RETRY -> false;
        };
    }

    /** One add-on's trouble never ends the pass for the others. */
    private List<PlanStep> executeIsolated(Planner.Decision d) {
        PlanStep step = d.step();
        try {
            return execute(d);
        } catch (DispatcherGone e) {
            transitions.setState(step.id(), step.kind(), SupervisionState.DETACHED, "the dispatcher of kind "
                    + step.kind() + " went away during the pass; left as it is", clock.instant());
        } catch (UncheckedIOException e) {
            // the state directory cannot be written (a full or read-only disk): transient, nothing was attempted
            // that is not on disk; the pass after the disk is back plans it again
            String detail = "add-on " + step.id() + ": " + step.action().wireName() + ": " + e.getMessage()
                    + "; retried at the next pass";
            LOG.error("{}", detail);
            recordDespiteTheDisk(step, detail);
        } catch (RuntimeException e) {
            LOG.error("Add-on {}: {} failed unexpectedly", step.id(), step.action().wireName(), e);
            recordDespiteTheDisk(step, step.action().wireName() + " failed unexpectedly: " + e);
        }
        return List.of(step);
    }

    /** FAILED with {@code detail}; in memory (status shows it) even when the ledger cannot be written. */
    private void recordDespiteTheDisk(PlanStep step, String detail) {
        try {
            transitions.setState(step.id(), step.kind(), SupervisionState.FAILED, detail, clock.instant());
        } catch (UncheckedIOException e) {
            LOG.debug("Add-on {}: its failure is not on disk either: {}", step.id(), e.getMessage());
            Instant now = clock.instant();
            ledger.showUnrecorded(step.id(), ledger.get(step.id()).orElse(Ledger.Entry.fresh(step.kind(), now))
                    .withState(SupervisionState.FAILED, detail, now));
        }
    }

    private List<PlanStep> execute(Planner.Decision d) {
        PlanStep step = d.step();
        AddonId id = step.id();
        Instant now = clock.instant();
        switch (step.action()) {
            case INSTALL -> transitions.applyAddon(d.assignment().orElseThrow(), step.action().wireName());
            case UPDATE -> {
                // an add-on not attached to its kind's dispatcher (a one-shot apply, a new kind bundle)
                // is adopted first, so the dispatcher updates what runs; still one step
                if (transitions.attached(id) || transitions.adopt(id)) {
                    transitions.applyAddon(d.assignment().orElseThrow(), step.action().wireName());
                }
            }
            case ADOPT -> transitions.adopt(id);
            case KEEP -> d.assignment().ifPresent(transitions::checkHealth);
            case REMOVE -> transitions.removeAddon(id, step.kind(), step.reason());
            case DETACHED -> transitions.setState(id, step.kind(), SupervisionState.DETACHED, step.reason(), now);
            case REJECT -> {
                if (transitions.setState(id, step.kind(), SupervisionState.REJECTED, step.reason(), now)) {
                    LOG.error("Add-on {} rejected: {}", id, step.reason());   // once, when it becomes so
                }
            }
            case SKIP_REJECTED -> transitions.setState(id, step.kind(), SupervisionState.REJECTED, step.reason(), now);
            case WAIT_RETRY -> transitions.setState(id, step.kind(), SupervisionState.FAILED, step.reason(), now);
        }
        return List.of(step);
    }
}
