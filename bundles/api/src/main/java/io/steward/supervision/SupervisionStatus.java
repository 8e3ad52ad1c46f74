package io.steward.supervision;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * Observed status of one add-on.
 *
 * @param id             the add-on
 * @param kind           its supervision kind
 * @param state          the state
 * @param desiredVersion the assigned version, empty when the add-on is no longer assigned
 * @param activeVersion  the version actually in effect, empty when none is
 * @param detail         one sentence for an operator
 * @param since          when the add-on entered this state
 */
public record SupervisionStatus(AddonId id, String kind, SupervisionState state, Optional<String> desiredVersion,
                                Optional<String> activeVersion, String detail, Instant since) {
    public SupervisionStatus {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(desiredVersion, "desiredVersion");
        Objects.requireNonNull(activeVersion, "activeVersion");
        Objects.requireNonNull(detail, "detail");
        Objects.requireNonNull(since, "since");
    }

    /** What a dispatcher reports; {@code core} fills in the desired version and keeps {@code since} stable. */
    public static SupervisionStatus of(AddonId id, String kind, SupervisionState state, Optional<String> activeVersion,
                                       String detail) {
        return new SupervisionStatus(id, kind, state, Optional.empty(), activeVersion, detail, Instant.now());
    }
}
