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
 * @param restarts       restarts of the add-on's process that its supervisor (systemd, for the systemd kinds)
 *                       counts itself and reports here; 0 for a kind that reports its restarts to
 *                       {@link io.steward.observe.StewardObserver#restarted} instead (since 1.2)
 */
public record SupervisionStatus(AddonId id, String kind, SupervisionState state, Optional<String> desiredVersion,
                                Optional<String> activeVersion, String detail, Instant since, long restarts) {
    public SupervisionStatus {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(desiredVersion, "desiredVersion");
        Objects.requireNonNull(activeVersion, "activeVersion");
        Objects.requireNonNull(detail, "detail");
        Objects.requireNonNull(since, "since");
        if (restarts < 0) {
            throw new IllegalArgumentException("restarts must not be negative: " + restarts);
        }
    }

    /** A status with no restart count (0): the constructor of 1.1. */
    public SupervisionStatus(AddonId id, String kind, SupervisionState state, Optional<String> desiredVersion,
                             Optional<String> activeVersion, String detail, Instant since) {
        this(id, kind, state, desiredVersion, activeVersion, detail, since, 0);
    }

    /**
     * This status with {@code restarts} as its restart count.
     *
     * @since 1.2
     */
    public SupervisionStatus withRestarts(long restarts) {
        return new SupervisionStatus(id, kind, state, desiredVersion, activeVersion, detail, since, restarts);
    }

    /** What a dispatcher reports; {@code core} fills in the desired version and keeps {@code since} stable. */
    public static SupervisionStatus of(AddonId id, String kind, SupervisionState state, Optional<String> activeVersion,
                                       String detail) {
        return new SupervisionStatus(id, kind, state, Optional.empty(), activeVersion, detail, Instant.now());
    }
}
