package io.steward.observe;

import io.steward.supervision.AddonId;
import io.steward.supervision.ReconcileReport;
import java.time.Duration;
import java.time.Instant;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A whiteboard listener of what Steward does, for metrics and health: register it as a service and the bundles
 * that do the work (core, delivery, the sidecar kind, the updater client) call it. Calls come from their working
 * threads and must return at once (count, never block); an exception thrown here is ignored. Every method has an
 * empty default, so an observer implements only what it watches.
 */
@ConsumerType
public interface StewardObserver {
    /** A reconcile pass (not a plan) finished; {@code report.warnings()} carry a source in error. */
    default void passCompleted(ReconcileReport report) {
    }

    /** A reconcile pass could not run (the state is unusable or locked, or it failed unexpectedly). */
    default void passFailed(Instant startedAt, Duration took, String reason) {
    }

    /** An artifact of {@code addon} was fetched, verified and staged: {@code bytes} read from its source. */
    default void delivered(AddonId addon, long bytes) {
    }

    /**
     * An artifact of {@code addon} was refused by verification at {@code step} ({@code verify}, {@code extract},
     * {@code manifest}, … the step of its one-sentence failure).
     */
    default void verificationFailed(AddonId addon, String step) {
    }

    /**
     * The agent asked the root {@code steward-updater} for {@code operation}; {@code refusal} is empty when it
     * succeeded, else the reason in a few words ({@code unreachable}, {@code timeout}, {@code forbidden},
     * {@code protocol}, {@code permanent}, {@code transient}).
     */
    default void updaterCall(String operation, String refusal) {
    }

    /** The supervised process of {@code addon} exited and its kind is restarting it. */
    default void restarted(AddonId addon) {
    }

    /** Calls {@code call} on each observer; one that throws is skipped, never the caller's work. */
    static void each(Iterable<StewardObserver> observers, java.util.function.Consumer<StewardObserver> call) {
        for (StewardObserver o : observers) {
            try {
                call.accept(o);
            } catch (RuntimeException e) {
                // an observer's bug must not change what Steward does
            }
        }
    }
}
