package io.steward.core.internal;

import io.steward.core.internal.DispatcherRegistry.Bound;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One add-on's transitions: the dispatcher call of an apply, adopt, health check or removal, and what it
 * writes to the ledger and the audit log before and after. An add-on is marked desired in the ledger before
 * its dispatcher is called. Runs on the reconcile thread or a worker of a pass, one add-on per thread.
 */
final class AddonTransitions {
    // the reconciler's logger: these lines are the reconciler's in the log
    private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

    private final Ledger ledger;
    private final AuditLog audit;
    private final DispatcherRegistry registry;
    private final DispatcherCalls calls;
    private final StatusBoard board;
    private final HostLayout layout;
    private final GsonAssignmentCodec codec;
    private final Backoff backoff;
    private final Clock clock;
    // the dispatcher (service id) each add-on is attached to in this process
    private final Map<AddonId, Long> attachedTo = new ConcurrentHashMap<>();

    AddonTransitions(Ledger ledger, AuditLog audit, DispatcherRegistry registry, DispatcherCalls calls,
                     StatusBoard board, HostLayout layout, GsonAssignmentCodec codec, Backoff backoff, Clock clock) {
        this.ledger = ledger;
        this.audit = audit;
        this.registry = registry;
        this.calls = calls;
        this.board = board;
        this.layout = layout;
        this.codec = codec;
        this.backoff = backoff;
        this.clock = clock;
    }

    boolean attached(AddonId id) {
        Long to = attachedTo.get(id);
        return to != null && ledger.get(id).flatMap(e -> registry.dispatcherFor(e.kind()))
                .map(b -> b.serviceId().equals(to)).orElse(false);
    }

    /** Records a state; whether it changed (a new add-on, another state or detail). */
    boolean setState(AddonId id, String kind, SupervisionState state, String detail, Instant now) {
        Optional<Ledger.Entry> before = ledger.get(id);
        Ledger.Entry entry = before.orElse(Ledger.Entry.fresh(kind, now));
        Ledger.Entry next = entry.withState(state, detail, now);
        boolean changed = before.isEmpty() || entry.state() != state || !entry.detail().equals(detail);
        if (!next.equals(entry) || before.isEmpty()) {
            ledger.put(id, next);
        }
        return changed;
    }

    void applyAddon(Assignment a, String action) {
        AddonId id = a.id();
        Instant now = clock.instant();
        Ledger.Entry before = ledger.get(id).orElse(Ledger.Entry.fresh(a.kind(), now));
        long generation = before.generation() + 1;
        // marked desired before the attempt: a crash or a failure leaves a record of what was tried
        Ledger.Entry attempting = new Ledger.Entry(a.kind(), Optional.of(a), before.installed(), generation,
                SupervisionState.STARTING, before.activeVersion(), action + " of " + a.version() + " in progress",
                now, before.failure(), true);
        ledger.put(id, attempting);
        Bound b = registry.dispatcherNow(a.kind());
        try {
            SupervisionStatus s = calls.call(b, id, "apply",
                    d -> d.apply(new AddonRecord(a, layout.addonHome(id), generation)));
            board.restartsReported(id, s.restarts());
            ledger.put(id, new Ledger.Entry(a.kind(), Optional.of(a), Optional.of(a), generation, s.state(),
                    s.activeVersion().or(() -> Optional.of(a.version())), s.detail(), clock.instant(),
                    Optional.empty(), false));
            attachedTo.put(id, b.serviceId());
            audit.append(id.value(), action, "version " + a.version() + " applied by " + b.bundle() + ": " + s.detail());
            LOG.info("Add-on {}: {} of {} done, {}", id, action, a.version(), s.state().wireName());
        } catch (SupervisionException e) {
            if (!registry.stillBound(b)) {
                // its dispatcher went away during the call (a kind update): not a failure of the add-on. The
                // attempt stays in flight, with no backoff, for the next dispatcher to adopt whatever it left
                ledger.put(id, attempting.withState(SupervisionState.DETACHED, "the dispatcher of kind " + a.kind()
                        + " went away during the " + action + " of " + a.version() + "; the next one adopts what it left",
                        clock.instant()));
                audit.append(id.value(), action + "-interrupted", "version " + a.version() + ": " + e.getMessage());
                LOG.info("Add-on {}: {} of {} interrupted by its dispatcher going away: {}", id, action, a.version(),
                        e.getMessage());
                return;
            }
            recordFailure(attempting, a, e);
            audit.append(id.value(), action + "-failed", "version " + a.version() + ": " + e.getMessage());
        }
    }

    private void recordFailure(Ledger.Entry entry, Assignment a, SupervisionException e) {
        Instant now = clock.instant();
        String fp = codec.fingerprint(a);
        boolean permanent = e.disposition() == Disposition.PERMANENT;
        int attempts = 1 + entry.failure().filter(f -> f.fingerprint().equals(fp)).map(Ledger.Failure::attempts)
                .orElse(0);
        Duration wait = permanent ? Duration.ZERO : backoff.delay(attempts, ThreadLocalRandom.current()::nextDouble);
        Ledger.Failure failure = new Ledger.Failure(fp, permanent, attempts, e.getMessage(), now.plus(wait));
        String detail = permanent ? e.getMessage() + "; not retried until the assignment changes"
                : e.getMessage() + "; retry " + attempts + " in " + wait.toSeconds() + "s";
        ledger.put(a.id(), entry.withState(permanent ? SupervisionState.REJECTED : SupervisionState.FAILED, detail, now)
                .withFailure(Optional.of(failure)));
        if (permanent) {
            LOG.error("Add-on {} rejected: {}", a.id(), detail);     // an operator must act: it is not retried
        } else {
            LOG.warn("Add-on {} failed: {}", a.id(), detail);
        }
    }

    boolean adopt(AddonId id) {
        Ledger.Entry entry = ledger.get(id).orElseThrow();
        Assignment inPlace = entry.inPlace().orElseThrow();
        Bound b = registry.dispatcherNow(entry.kind());
        Instant now = clock.instant();
        try {
            SupervisionStatus s = calls.call(b, id, "adopt",
                    d -> d.adopt(new AddonRecord(inPlace, layout.addonHome(id), entry.generation())));
            attachedTo.put(id, b.serviceId());
            board.restartsReported(id, s.restarts());
            Ledger.Entry next = entry.withState(s.state(), s.detail(), now);
            // an adopted interrupted attempt is what is installed now
            ledger.put(id, new Ledger.Entry(next.kind(), next.attempted(), Optional.of(inPlace), next.generation(),
                    next.state(), s.activeVersion().or(entry::activeVersion), next.detail(), next.since(),
                    next.failure(), false));
            LOG.info("Add-on {} adopted by {} {}: {}", id, b.bundle(), b.bundleVersion(), s.state().wireName());
            return true;
        } catch (SupervisionException e) {
            ledger.put(id, entry.withState(SupervisionState.FAILED, e.getMessage(), now));
            LOG.warn("Add-on {} could not be adopted: {}", id, e.getMessage());
            return false;
        }
    }

    /** Converged add-on: ask its dispatcher; one that lost its workload is applied again (self-healing). */
    void checkHealth(Assignment a) {
        AddonId id = a.id();
        Ledger.Entry entry = ledger.get(id).orElseThrow();
        Bound b = registry.dispatcherNow(a.kind());
        Instant now = clock.instant();
        try {
            SupervisionStatus s = calls.call(b, id, "status", d -> d.status(id));
            board.restartsReported(id, s.restarts());
            if (s.state() == SupervisionState.PENDING || s.state() == SupervisionState.FAILED
                    || s.state() == SupervisionState.REMOVED) {
                LOG.warn("Add-on {} is {} ({}); applying it again", id, s.state().wireName(), s.detail());
                applyAddon(a, "heal");
                return;
            }
            Ledger.Entry next = entry.withState(s.state(), s.detail(), now);
            if (!next.equals(entry)) {
                ledger.put(id, next);
            }
        } catch (SupervisionException e) {
            Ledger.Entry next = entry.withState(SupervisionState.DEGRADED, "status unknown: " + e.getMessage(), now);
            if (!next.equals(entry)) {
                ledger.put(id, next);
            }
        }
    }

    void removeAddon(AddonId id, String kind, String why) {
        Optional<Ledger.Entry> entry = ledger.get(id);
        Instant now = clock.instant();
        boolean touched = entry.map(e -> e.attempted().isPresent() || e.installed().isPresent()).orElse(false);
        if (touched) {
            Bound b = registry.dispatcherNow(kind);
            try {
                calls.call(b, id, "remove", d -> {
                    d.remove(id);
                    return null;
                });
            } catch (SupervisionException e) {
                ledger.put(id, entry.get().withState(SupervisionState.FAILED, "removal failed: " + e.getMessage()
                        + "; retried on the next pass", now));
                LOG.warn("Add-on {}: removal failed: {}", id, e.getMessage());
                return;
            }
            audit.append(id.value(), "remove", why);
            LOG.info("Add-on {} removed: {}", id, why);
        }
        ledger.remove(id);
        attachedTo.remove(id);
        board.removed(id, kind, why, now);
    }
}
