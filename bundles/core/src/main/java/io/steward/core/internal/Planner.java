package io.steward.core.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.PlanStep;
import io.steward.supervision.PlanStep.Action;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The reconcile decision, free of side effects: given the desired set, the ledger and which kinds
 * have a dispatcher, what happens to each add-on and why. The same function drives a pass and a plan.
 */
final class Planner {
    /** Kinds Steward defines (PRODUCT §1); an add-on of one of these waits, detached, for its bundle. */
    static final Set<String> BUILT_IN_KINDS =
            Set.of("sidecar", "systemd_service", "systemd_timer", "ephemeral_helper", "config_toggle");

    /** A decision and the assignment it concerns (empty for a removal). */
    record Decision(PlanStep step, Optional<Assignment> assignment) {
    }

    /**
     * What the planner looks at.
     *
     * @param assigned      enabled assignments by id
     * @param unassigned    ids that are present but disabled (or held), with the reason
     * @param authoritative false when some source is in error: nothing is removed then
     * @param ledger        what Steward owns
     * @param hasDispatcher whether a kind has a dispatcher now
     * @param attached      whether an installed add-on is attached to the current dispatcher of its kind
     * @param fingerprint   the assignment fingerprint
     * @param now           the time of the pass
     */
    record Inputs(Map<AddonId, Assignment> assigned, Map<AddonId, String> unassigned, boolean authoritative,
                  Map<AddonId, Ledger.Entry> ledger, Predicate<String> hasDispatcher, Predicate<AddonId> attached,
                  Function<Assignment, String> fingerprint, Instant now) {
    }

    private Planner() {
    }

    static List<Decision> decide(Inputs in) {
        Set<AddonId> ids = new TreeSet<>(in.assigned().keySet());
        ids.addAll(in.ledger().keySet());
        List<Decision> decisions = new ArrayList<>();
        for (AddonId id : ids) {
            Assignment wanted = in.assigned().get(id);
            Optional<Ledger.Entry> entry = Optional.ofNullable(in.ledger().get(id));
            Optional<Decision> d = wanted != null ? decideAssigned(in, wanted, entry) : decideUnassigned(in, id, entry);
            d.ifPresent(decisions::add);
        }
        return decisions;
    }

    private static Optional<Decision> decideAssigned(Inputs in, Assignment a, Optional<Ledger.Entry> entry) {
        String kind = a.kind();
        Optional<Assignment> installed = entry.flatMap(Ledger.Entry::installed);
        if (installed.isPresent() && !installed.get().kind().equals(kind)) {
            // the kind changed: the old dispatcher removes it first, then it is installed anew
            return Optional.of(removal(in, a.id(), installed.get().kind(),
                    "its supervision kind changed from " + installed.get().kind() + " to " + kind));
        }
        if (!in.hasDispatcher().test(kind)) {
            if (BUILT_IN_KINDS.contains(kind) || entry.isPresent()) {
                return step(a, Action.DETACHED, "no dispatcher for kind " + kind + " is registered; left as it is");
            }
            return step(a, Action.REJECT, "supervision kind " + kind + " is not known here (built-in kinds: "
                    + String.join(", ", new TreeSet<>(BUILT_IN_KINDS)) + ")");
        }
        String fp = in.fingerprint().apply(a);
        Optional<Ledger.Failure> failure = entry.flatMap(Ledger.Entry::failure).filter(f -> f.fingerprint().equals(fp));
        if (failure.isPresent() && failure.get().permanent()) {
            return step(a, Action.SKIP_REJECTED, failure.get().error() + "; not retried until the assignment changes");
        }
        // a wall clock earlier than the failure's own record went backwards: its retry time means nothing then
        // (it could be days away), so the backoff counts as over; a jump forwards only makes the retry due sooner
        boolean clockWentBack = entry.isPresent() && in.now().isBefore(entry.get().since());
        if (failure.isPresent() && in.now().isBefore(failure.get().retryAt()) && !clockWentBack) {
            return step(a, Action.WAIT_RETRY, failure.get().error() + "; next attempt at " + failure.get().retryAt());
        }
        if (installed.isEmpty()) {
            return step(a, Action.INSTALL, failure.isPresent() ? "retrying after: " + failure.get().error()
                    : "not installed yet");
        }
        // after an interrupted update, what runs is most likely the attempt: adopt that, not the installed one
        Assignment inPlace = entry.flatMap(Ledger.Entry::inPlace).orElseThrow();
        String what = inPlace == installed.get() ? "installed " + inPlace.version()
                : "the interrupted update to " + inPlace.version();
        boolean changed = !in.fingerprint().apply(inPlace).equals(fp);
        if (!in.attached().test(a.id())) {
            // one step per add-on: a changed one is re-attached and updated within its update
            return changed ? step(a, Action.UPDATE, describeChange(inPlace, a)
                            + " (" + what + " is re-attached first, without a restart)")
                    : step(a, Action.ADOPT, what + "; re-attaching to it without a restart");
        }
        if (changed) {
            return step(a, Action.UPDATE, describeChange(inPlace, a));
        }
        return step(a, Action.KEEP, "installed as assigned");
    }

    private static Optional<Decision> decideUnassigned(Inputs in, AddonId id, Optional<Ledger.Entry> entry) {
        Ledger.Entry e = entry.orElseThrow();
        String why = in.unassigned().getOrDefault(id, "it is no longer assigned");
        if (e.attempted().isEmpty() && e.installed().isEmpty()) {
            // never handed to a dispatcher: nothing on the host to remove
            return Optional.of(new Decision(new PlanStep(id, e.kind(), Action.REMOVE, why + "; nothing installed"),
                    Optional.empty()));
        }
        if (!in.authoritative()) {
            return Optional.of(new Decision(new PlanStep(id, e.kind(), Action.KEEP,
                    why + ", but an assignment source is in error; not removing anything"), Optional.empty()));
        }
        return Optional.of(removal(in, id, e.kind(), why));
    }

    private static Decision removal(Inputs in, AddonId id, String kind, String why) {
        if (!in.hasDispatcher().test(kind)) {
            return new Decision(new PlanStep(id, kind, Action.DETACHED, why
                    + "; it is removed once a dispatcher for kind " + kind + " is registered"), Optional.empty());
        }
        return new Decision(new PlanStep(id, kind, Action.REMOVE, why), Optional.empty());
    }

    private static Optional<Decision> step(Assignment a, Action action, String reason) {
        return Optional.of(new Decision(new PlanStep(a.id(), a.kind(), action, reason), Optional.of(a)));
    }

    static String describeChange(Assignment from, Assignment to) {
        List<String> changes = new ArrayList<>();
        if (!from.version().equals(to.version())) {
            changes.add("version " + from.version() + " → " + to.version());
        }
        if (!from.configJson().equals(to.configJson())) {
            changes.add("config");
        }
        if (!from.artifact().equals(to.artifact()) && from.version().equals(to.version())) {
            changes.add("artifact");
        }
        if (!from.args().equals(to.args()) || !from.env().equals(to.env()) || !from.binary().equals(to.binary())) {
            changes.add("command line");
        }
        if (!from.capabilities().equals(to.capabilities())) {
            changes.add("capabilities");
        }
        if (!from.resources().equals(to.resources())) {
            changes.add("resources");
        }
        if (!from.delivery().equals(to.delivery())) {
            changes.add("delivery");
        }
        return "assignment changed: " + (changes.isEmpty() ? "details" : String.join(", ", changes));
    }
}
