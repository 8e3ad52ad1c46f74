package io.steward.supervision;

import java.util.Objects;

/**
 * What a reconcile does, or would do, to one add-on, and why.
 *
 * @param id     the add-on
 * @param kind   its supervision kind
 * @param action the decision
 * @param reason one sentence
 */
public record PlanStep(AddonId id, String kind, Action action, String reason) {
    /** The decisions a reconcile makes for an add-on. */
    public enum Action {
        /** Not installed yet: stage and bring up. */
        INSTALL,
        /** Installed with another assignment: update to the new one. */
        UPDATE,
        /** Installed and its dispatcher just appeared: re-attach without restarting. */
        ADOPT,
        /** Installed as assigned; only its health is checked. */
        KEEP,
        /** No longer assigned or disabled: stop and remove. */
        REMOVE,
        /** A permanent failure of this exact assignment: skipped until it changes. */
        SKIP_REJECTED,
        /** A transient failure whose retry time has not come. */
        WAIT_RETRY,
        /** Its kind has no dispatcher: left as it is. */
        DETACHED,
        /** The assignment cannot be supervised here (unknown kind): permanent. */
        REJECT;

        /** The wire spelling, e.g. {@code skip_rejected}. */
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public PlanStep {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(action, "action");
        Objects.requireNonNull(reason, "reason");
    }

    /** True when the step changes the host. */
    public boolean mutates() {
        return action == Action.INSTALL || action == Action.UPDATE || action == Action.REMOVE;
    }
}
