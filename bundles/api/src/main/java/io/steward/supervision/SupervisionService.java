package io.steward.supervision;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Thread-safe view of supervision, provided by {@code core}. Reads never block on a dispatcher;
 * work runs on the reconciler's single queue.
 */
@ProviderType
public interface SupervisionService {
    /** Kinds that currently have a dispatcher, with the bundle serving each, sorted by kind. */
    List<KindInfo> kinds();

    /** Status of every add-on Steward knows, sorted by id. */
    List<SupervisionStatus> statuses();

    /** Status of one add-on. */
    Optional<SupervisionStatus> status(AddonId id);

    /** Asks for a reconcile pass soon; returns immediately. Requests coalesce. */
    void reconcileSoon();

    /** Runs a reconcile pass on the queue (coalesced with pending requests) and completes with its report. */
    CompletionStage<ReconcileReport> reconcile();

    /** Computes what a reconcile would do now, changing nothing. */
    CompletionStage<ReconcileReport> plan();

    /**
     * Holds an add-on disabled ({@code false}) or releases the hold ({@code true}); the hold is
     * durable and wins over every assignment source. Triggers a reconcile.
     */
    void setEnabled(AddonId id, boolean enabled);

    /** The last {@code n} audit records and whether the chain is intact. */
    AuditTrail audit(int n);
}
