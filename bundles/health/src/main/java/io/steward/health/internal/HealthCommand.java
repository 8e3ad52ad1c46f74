package io.steward.health.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.steward.oneshot.OneShotRun;
import io.steward.supervision.CommandResult;
import io.steward.supervision.SupervisionService;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.apache.felix.hc.api.FormattingResultLog;
import org.apache.felix.hc.api.Result;
import org.apache.felix.hc.api.ResultLog;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code steward health [--json]}: the same checks as the Felix Health Check services, for a person. It judges
 * what the agent recorded ({@code health.json}, the ledger's states), as {@code status} does, prints one line per
 * check and exits 0 when every check is OK, 1 otherwise. Does nothing in an agent.
 */
@Component(immediate = true)
public final class HealthCommand {
    private static final Gson JSON = new GsonBuilder().disableHtmlEscaping().create();

    private final BundleContext context;
    private final OneShotRun oneShot;      // null: not this bundle's command, or the agent

    /** One check's outcome: its name, tags and log. */
    record Outcome(String name, List<String> tags, ResultLog log) {
        Result.Status status() {
            return log.getAggregateStatus();
        }
    }

    @Activate
    public HealthCommand(BundleContext context, @Reference SupervisionService supervision,
                         @Reference AgentHealth agent) {
        this.context = context;
        if (!"health".equals(context.getProperty("steward.command"))) {
            oneShot = null;
            return;
        }
        boolean json = Boolean.parseBoolean(context.getProperty("steward.json"));
        oneShot = new OneShotRun(context, "health-command", () -> {
            try {
                return render(outcomes(supervision, agent), json);
            } catch (Exception e) {
                return new CommandResult(1, "", "steward: health: " + e.getMessage());
            }
        });
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        if (oneShot != null) {
            oneShot.close();
        }
    }

    static List<Outcome> outcomes(SupervisionService supervision, AgentHealth agent) throws Exception {
        // a plan runs on the reconcile queue after the ledger is loaded: the statuses are the recorded ones
        supervision.plan().toCompletableFuture().get(2, TimeUnit.MINUTES);
        List<Outcome> out = new ArrayList<>();
        out.add(new Outcome("Steward agent", List.of("steward", "steward.agent"), agent.judge()));
        for (String kind : KindChecks.kinds(supervision)) {
            // the agent's dispatchers are not this process's: a detached add-on shows by its recorded state
            FormattingResultLog log = Judge.kind(kind, supervision.statuses(), true);
            out.add(new Outcome("Steward kind " + kind, List.of("steward", "steward.kind", "steward.kind." + kind), log));
        }
        return out;
    }

    static CommandResult render(List<Outcome> outcomes, boolean json) {
        boolean ok = outcomes.stream().allMatch(o -> o.status() == Result.Status.OK);
        Result.Status worst = outcomes.stream().map(Outcome::status).max(Enum::compareTo).orElse(Result.Status.OK);
        if (json) {
            JsonObject o = new JsonObject();
            o.addProperty("ok", ok);
            o.addProperty("status", worst.name());
            JsonArray checks = new JsonArray();
            for (Outcome c : outcomes) {
                JsonObject x = new JsonObject();
                x.addProperty("name", c.name());
                JsonArray tags = new JsonArray();
                c.tags().forEach(tags::add);
                x.add("tags", tags);
                x.addProperty("status", c.status().name());
                JsonArray messages = new JsonArray();
                for (ResultLog.Entry e : c.log()) {
                    JsonObject m = new JsonObject();
                    m.addProperty("status", e.getStatus().name());
                    m.addProperty("message", e.getMessage());
                    messages.add(m);
                }
                x.add("messages", messages);
                checks.add(x);
            }
            o.add("checks", checks);
            return new CommandResult(ok ? 0 : 1, JSON.toJson(o) + "\n", "");
        }
        StringBuilder text = new StringBuilder("Steward health: " + worst.name() + "\n");
        for (Outcome c : outcomes) {
            text.append(String.format(Locale.ROOT, "%-28s %s%n", c.name(), c.status().name()));
            for (ResultLog.Entry e : c.log()) {
                text.append("    ").append(e.getStatus().name().toLowerCase(Locale.ROOT)).append(": ")
                        .append(e.getMessage()).append('\n');
            }
        }
        return new CommandResult(ok ? 0 : 1, text.toString(), "");
    }
}
