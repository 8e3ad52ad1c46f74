package io.steward.shell.internal;

import io.steward.supervision.HostLayout;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AssignmentSource;
import io.steward.supervision.CommandResult;
import io.steward.deploy.DeployFolder;
import io.steward.oneshot.OneShotRun;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * Runs the launcher's one-shot command ({@code steward apply|plan|status}, framework property
 * {@code steward.command}) once, on thread {@code shell-oneshot}, and hands the result back by
 * registering a marker service whose properties carry the exit code and the text to print: the
 * launcher sees only JDK types, so it needs no class of ours. Does nothing in an agent.
 * <p>
 * Exit codes: 0 converged (or nothing to report), 1 some add-on did not converge or the pass
 * failed, 2 the document or the invocation is invalid (nothing changed).
 */
@Component(immediate = true)
public final class OneShotCommand {
    private static final java.util.Set<String> ONE_SHOT = java.util.Set.of("apply", "plan", "status");

    private final BundleContext context;
    private final SupervisionService supervision;
    private final OneShotRun oneShot;      // null: not this bundle's command, or the agent

    private final List<AssignmentSource> sources;
    /** What guards deploy/ (the launcher starts it first), or null (an embedding without one). */
    private final DeployFolder deploy;

    // the sources are constructor-injected so the one-shot run never sees them unset; the launcher
    // starts this bundle last, when every source and dispatcher is registered
    @Activate
    public OneShotCommand(BundleContext context, @Reference SupervisionService supervision,
                          @Reference(cardinality = ReferenceCardinality.MULTIPLE,
                                  policyOption = ReferencePolicyOption.GREEDY) List<AssignmentSource> sources,
                          @Reference(cardinality = ReferenceCardinality.OPTIONAL,
                                  policyOption = ReferencePolicyOption.GREEDY) DeployFolder deploy) {
        this.context = context;
        this.deploy = deploy;
        this.supervision = supervision;
        this.sources = List.copyOf(sources);
        String command = context.getProperty("steward.command");
        boolean json = Boolean.parseBoolean(context.getProperty("steward.json"));
        if (command == null || !ONE_SHOT.contains(command)) {   // the agent, or a command another bundle serves
            oneShot = null;
            return;
        }
        oneShot = new OneShotRun(context, "shell-oneshot",
                () -> json ? Render.jsonError(run(command, true)) : run(command, false));
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        if (oneShot != null) {
            oneShot.close();
        }
    }

    private CommandResult run(String command, boolean json) {
        try {
            return switch (command) {
                case "apply" -> apply(json);
                case "plan" -> plan(json);
                case "status" -> status(json);
                default -> throw new IllegalStateException("not a one-shot command: " + command);
            };
        } catch (ExecutionException e) {
            return new CommandResult(1, "", "steward: " + command + " failed: " + e.getCause().getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new CommandResult(1, "", "steward: " + command + " was interrupted");
        } catch (Exception e) {
            return new CommandResult(1, "", "steward: " + command + " failed: " + e.getMessage());
        }
    }

    private CommandResult apply(boolean json) throws Exception {
        CommandResult invalid = invalidInput();
        if (invalid != null) {
            return invalid;
        }
        ReconcileReport r = supervision.reconcile().toCompletableFuture().get(1, TimeUnit.DAYS);
        List<String> errors = new ArrayList<>(warnings(r));
        List<String> unsupervised = new ArrayList<>();
        for (SupervisionStatus s : r.statuses()) {
            if (s.desiredVersion().isPresent() && s.state() != SupervisionState.READY) {
                errors.add("steward: add-on " + s.id() + " is " + s.state().wireName() + ": " + s.detail());
            }
            if (s.kind().equals("sidecar") && s.desiredVersion().isPresent() && s.state() == SupervisionState.READY) {
                unsupervised.add(s.id().value());
            }
        }
        if (!unsupervised.isEmpty()) {
            // nothing restarts a sidecar once this process exits; the next agent adopts it (same pid)
            errors.add("steward: note: sidecar " + String.join(", ", unsupervised) + " keeps running unsupervised"
                    + " (no restart on a crash) until 'steward run' starts and adopts it");
        }
        return new CommandResult(r.converged() ? 0 : 1, json ? Render.applyJson(r) : Render.applyText(r),
                String.join("\n", errors));
    }

    private CommandResult plan(boolean json) throws Exception {
        CommandResult invalid = invalidInput();
        if (invalid != null) {
            return invalid;
        }
        ReconcileReport r = supervision.plan().toCompletableFuture().get(1, TimeUnit.DAYS);
        return new CommandResult(0, json ? Render.planJson(r) : Render.planText(r), String.join("\n", warnings(r)));
    }

    private CommandResult status(boolean json) throws Exception {
        // a plan runs on the reconcile queue after the ledger is loaded, so its statuses are the recorded ones
        ReconcileReport r = supervision.plan().toCompletableFuture().get(1, TimeUnit.DAYS);
        java.util.Optional<AgentLock> agent = AgentLock.holder(HostLayout.from(context::getProperty).state());
        // a source in error (a malformed assignments.json) is what the agent is warning about too
        DeployFolder d = deploy;
        String deployLine = DeployRender.line(d);
        return new CommandResult(0, json ? Render.statusJson(r.statuses(), agent, d)
                : AgentLock.describe(agent) + "\n" + (deployLine.isEmpty() ? "" : deployLine + "\n")
                        + Render.statusTable(r.statuses()), String.join("\n", warnings(r)));
    }

    /** The document named on the command line must be valid, or nothing happens (exit 2). */
    private CommandResult invalidInput() {
        if (sources.isEmpty()) {
            return new CommandResult(2, "", "steward: no assignment source is available (is bundle io.steward.source.file installed?)");
        }
        for (AssignmentSource s : sources) {
            AssignmentSource.Snapshot snap = s.snapshot();
            if (snap.error().isPresent()) {
                return new CommandResult(2, "", "steward: " + snap.error().get());
            }
        }
        return null;
    }

    private static List<String> warnings(ReconcileReport r) {
        return r.warnings().stream().map(w -> "steward: warning: " + w).toList();
    }
}
