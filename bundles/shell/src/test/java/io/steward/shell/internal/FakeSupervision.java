package io.steward.shell.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.AuditTrail;
import io.steward.supervision.KindInfo;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;

/** A {@link SupervisionService} that answers what the test set and records what the commands asked of it. */
final class FakeSupervision implements SupervisionService {
    volatile List<SupervisionStatus> statuses = List.of();
    volatile List<KindInfo> kinds = List.of();
    volatile CompletableFuture<ReconcileReport> reconcile = new CompletableFuture<>();
    volatile CompletableFuture<ReconcileReport> plan = new CompletableFuture<>();
    volatile AuditTrail audit = new AuditTrail(List.of(), Optional.empty());
    private final List<String> calls = new CopyOnWriteArrayList<>();

    @Override
    public List<KindInfo> kinds() {
        return kinds;
    }

    @Override
    public List<SupervisionStatus> statuses() {
        return statuses;
    }

    @Override
    public Optional<SupervisionStatus> status(AddonId id) {
        return statuses.stream().filter(s -> s.id().equals(id)).findFirst();
    }

    @Override
    public void reconcileSoon() {
        calls.add("reconcileSoon");
    }

    @Override
    public CompletionStage<ReconcileReport> reconcile() {
        calls.add("reconcile");
        return reconcile;
    }

    @Override
    public CompletionStage<ReconcileReport> plan() {
        calls.add("plan");
        return plan;
    }

    @Override
    public void setEnabled(AddonId id, boolean enabled) {
        calls.add("setEnabled " + id + " " + enabled);
    }

    @Override
    public AuditTrail audit(int n) {
        calls.add("audit " + n);
        return audit;
    }

    /** The calls that ask for work, in order (reads such as statuses() are not recorded). */
    List<String> calls() {
        return new ArrayList<>(calls);
    }
}
