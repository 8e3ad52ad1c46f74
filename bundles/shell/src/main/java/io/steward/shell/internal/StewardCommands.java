package io.steward.shell.internal;

import io.steward.supervision.AddonId;
import io.steward.deploy.DeployFolder;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionStatus;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/** The {@code steward:} Gogo commands: thin delegation to {@link SupervisionService}. */
@Component(service = StewardCommands.class, property = {
    "osgi.command.scope=steward",
    "osgi.command.function=list", "osgi.command.function=status", "osgi.command.function=kinds",
    "osgi.command.function=reconcile", "osgi.command.function=plan", "osgi.command.function=audit",
    "osgi.command.function=enable", "osgi.command.function=disable", "osgi.command.function=invoke"})
public final class StewardCommands {
    private static final long WAIT_MINUTES = 10;
    private final SupervisionService supervision;

    /** What guards deploy/ (absent in an embedding that has none). */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile DeployFolder deploy;

    @Activate
    public StewardCommands(@Reference SupervisionService supervision) {
        this.supervision = supervision;
    }

    @Descriptor("List every add-on with its state")
    public String list(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true",
            absentValue = "false") boolean json) {
        return json ? Render.statusJson(supervision.statuses()) : Render.statusTable(supervision.statuses());
    }

    @Descriptor("Show the status of one add-on")
    public String status(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true",
            absentValue = "false") boolean json, @Descriptor("add-on id") String id) {
        SupervisionStatus s = supervision.status(addonId(id))
                .orElseThrow(() -> new Failed("no add-on " + id + " is known"));
        return json ? Render.statusJson(java.util.List.of(s)) : Render.statusDetail(s);
    }

    @Descriptor("List the supervision kinds that have a dispatcher, with the bundle serving each")
    public String kinds(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true",
            absentValue = "false") boolean json) {
        DeployFolder d = deploy;
        return json ? Render.kindsJson(supervision.kinds(), d)
                : Render.kindsText(supervision.kinds()) + DeployRender.quarantinedText(d);
    }

    @Descriptor("Run a reconcile pass now and show what it did")
    public String reconcile(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true",
            absentValue = "false") boolean json) throws Exception {
        ReconcileReport r = await(supervision.reconcile().toCompletableFuture());
        return json ? Render.applyJson(r) : Render.applyText(r);
    }

    @Descriptor("Show what a reconcile would do now, changing nothing")
    public String plan(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true",
            absentValue = "false") boolean json) throws Exception {
        ReconcileReport r = await(supervision.plan().toCompletableFuture());
        return json ? Render.planJson(r) : Render.planText(r);
    }

    @Descriptor("Show the last 20 audit records and whether the hash chain is intact")
    public String audit() {
        return audit(20);
    }

    @Descriptor("Show the last n audit records and whether the hash chain is intact")
    public String audit(@Descriptor("number of records") int n) {
        return Render.auditText(supervision.audit(n));
    }

    @Descriptor("Release an operator hold: the add-on follows its assignment again")
    public String enable(@Descriptor("add-on id") String id) {
        supervision.setEnabled(addonId(id), true);
        return id + ": hold released; reconciling";
    }

    @Descriptor("Hold an add-on disabled whatever its assignment says (durable until enable)")
    public String disable(@Descriptor("add-on id") String id) {
        supervision.setEnabled(addonId(id), false);
        return id + ": held disabled; reconciling";
    }

    @Descriptor("Run an ephemeral_helper add-on once (timeout 30 s); show its stdout and exit code")
    public String invoke(@Descriptor("helper add-on id") String id,
                         @Descriptor("arguments passed to the helper") String... args) throws Exception {
        // the helper services are looked up per call: they come and go with assignments and kind bundles
        org.osgi.framework.BundleContext context =
                org.osgi.framework.FrameworkUtil.getBundle(StewardCommands.class).getBundleContext();
        String filter = "(" + io.steward.helper.AddonHelper.ADDON_ID + "=" + addonId(id).value() + ")";
        org.osgi.framework.ServiceReference<io.steward.helper.AddonHelper> ref = context
                .getServiceReferences(io.steward.helper.AddonHelper.class, filter).stream()
                .max(java.util.Comparator.naturalOrder())   // highest ranking, then oldest
                .orElseThrow(() -> new Failed("no helper " + id + " is on call (is it assigned "
                        + "with supervision ephemeral_helper, and is that kind's bundle active?)"));
        io.steward.helper.AddonHelper helper = context.getService(ref);
        if (helper == null) {
            throw new Failed("helper " + id + " went away before it could run");
        }
        try {
            io.steward.helper.HelperResult r = helper.run(io.steward.helper.HelperRequest.of(args));
            String stderr = r.stderrText().strip();
            String lastError = stderr.isEmpty() ? "" : ": " + stderr.substring(stderr.lastIndexOf('\n') + 1);
            if (r.timedOut()) {
                throw new Failed("helper " + id + " timed out after "
                        + io.steward.helper.HelperRequest.DEFAULT_TIMEOUT.toSeconds() + " s and was killed" + lastError);
            }
            if (r.exitCode() != 0) {
                throw new Failed("helper " + id + " exited with code " + r.exitCode() + lastError);
            }
            String out = r.stdoutText();
            return out + (out.isEmpty() || out.endsWith("\n") ? "" : "\n") + "[" + id + " " + helper.version()
                    + ": exit 0 in " + r.duration().toMillis() + " ms" + (r.truncated() ? ", output truncated" : "")
                    + "]";
        } catch (io.steward.helper.HelperException e) {
            throw new Failed(e.getMessage(), e);
        } finally {
            context.ungetService(ref);
        }
    }

    /**
     * A command's failure: one sentence. Gogo prints an exception as {@code gogo: <simple class name>: <message>},
     * so the name is a word, not a Java class a user need not know ({@code gogo: Failed: no add-on x is known}).
     */
    static final class Failed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failed(String message) {
            super(message);
        }

        Failed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static AddonId addonId(String id) {
        if (!AddonId.isValid(id)) {
            throw new Failed("\"" + id + "\" is not a valid add-on id");
        }
        return new AddonId(id);
    }

    private static ReconcileReport await(java.util.concurrent.CompletableFuture<ReconcileReport> f) throws Exception {
        try {
            return f.get(WAIT_MINUTES, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
            throw new Failed(e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new Failed("the reconcile did not finish within " + WAIT_MINUTES + " minutes");
        }
    }
}
