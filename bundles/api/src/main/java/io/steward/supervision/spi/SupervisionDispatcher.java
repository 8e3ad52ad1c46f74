package io.steward.supervision.spi;

import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionStatus;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Supervises add-ons of one kind. Register as a service carrying {@link #KIND_PROPERTY}
 * (use {@link io.steward.supervision.annotations.SupervisionKind}).
 * <p>
 * {@code core} calls a dispatcher one add-on at a time, with a call timeout, unless its service carries
 * {@link #CONCURRENT_PROPERTY}{@code =true}: then calls for different add-ons may run at the same time
 * (never two for one add-on). All operations are idempotent. Unregistering a dispatcher (bundle stop or update)
 * means <em>detach</em>: the workloads it supervises keep running and are adopted by the next
 * dispatcher of the kind.
 */
@ConsumerType
public interface SupervisionDispatcher {
    /** Service property (String) naming the kind this dispatcher handles, in its wire spelling. */
    String KIND_PROPERTY = "supervision.kind";

    /**
     * Service property (Boolean): calls for different add-ons may run concurrently
     * (use {@link io.steward.supervision.annotations.SupervisionConcurrent}).
     *
     * @since 1.1
     */
    String CONCURRENT_PROPERTY = "supervision.concurrent";

    /** Installs or updates the add-on and brings it up; on failure, restores the previous version. */
    SupervisionStatus apply(AddonRecord addon) throws SupervisionException;

    /** Re-attaches to an add-on installed by an earlier dispatcher of this kind, without restarting it. */
    SupervisionStatus adopt(AddonRecord addon) throws SupervisionException;

    /** Stops the add-on and removes what {@link #apply} installed. Removing an unknown add-on succeeds. */
    void remove(AddonId id) throws SupervisionException;

    /** The add-on's current status; {@code pending} when this dispatcher does not supervise it. */
    SupervisionStatus status(AddonId id) throws SupervisionException;
}
