package io.steward.shell.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import io.steward.supervision.AuditRecord;
import io.steward.supervision.AuditTrail;
import io.steward.supervision.KindInfo;
import io.steward.supervision.PlanStep;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionStatus;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Text and JSON renderings shared by the Gogo commands and the one-shot launcher commands, so both
 * print the same thing. The JSON shapes are documented in the README and are stable.
 */
final class Render {
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

    private Render() {
    }

    // ---- JSON ------------------------------------------------------------------------------

    static String statusJson(List<SupervisionStatus> statuses) {
        JsonObject o = new JsonObject();
        o.add("addons", statusArray(statuses));
        return GSON.toJson(o);
    }

    /** {@code steward status --json}: the add-ons and whether an agent holds the data directory. */
    static String statusJson(List<SupervisionStatus> statuses, Optional<AgentLock> holder,
                             io.steward.deploy.DeployFolder deploy) {
        JsonObject agent = new JsonObject();
        agent.addProperty("running", holder.map(AgentLock::agent).orElse(false));
        holder.filter(h -> h.pid() > 0).ifPresent(h -> agent.addProperty("pid", h.pid()));
        holder.filter(h -> !h.since().isEmpty()).ifPresent(h -> agent.addProperty("since", h.since()));
        JsonObject o = new JsonObject();
        o.add("agent", agent);
        if (deploy != null) {
            o.add("deploy", DeployRender.json(deploy));
        }
        o.add("addons", statusArray(statuses));
        return GSON.toJson(o);
    }

    /**
     * With {@code --json}, a command that fails without output prints {@code {"ok":false,"error":…}} on
     * stdout as {@code steward verify --json} does (the sentence stays on stderr).
     */
    static io.steward.supervision.CommandResult jsonError(io.steward.supervision.CommandResult r) {
        if (r.exit() == 0 || !r.stdout().isEmpty()) {
            return r;
        }
        JsonObject o = new JsonObject();
        o.addProperty("ok", false);
        o.addProperty("error", r.stderr().lines().map(l -> l.replaceFirst("^steward: ", "")).reduce((a, b) -> a + "; " + b)
                .orElse("exit " + r.exit()));
        return new io.steward.supervision.CommandResult(r.exit(), GSON.toJson(o) + "\n", r.stderr());
    }

    static String planJson(ReconcileReport report) {
        JsonObject o = new JsonObject();
        o.addProperty("revision", report.revision());
        o.add("steps", stepArray(report.steps()));
        o.add("warnings", strings(report.warnings()));
        return GSON.toJson(o);
    }

    static String applyJson(ReconcileReport report) {
        JsonObject o = new JsonObject();
        o.addProperty("revision", report.revision());
        o.addProperty("converged", report.converged());
        o.add("steps", stepArray(report.steps()));
        o.add("addons", statusArray(report.statuses()));
        o.add("warnings", strings(report.warnings()));
        o.addProperty("took_ms", report.took().toMillis());
        return GSON.toJson(o);
    }

    static String kindsJson(List<KindInfo> kinds, io.steward.deploy.DeployFolder deploy) {
        JsonArray a = new JsonArray();
        for (KindInfo k : kinds) {
            JsonObject o = new JsonObject();
            o.addProperty("kind", k.kind());
            o.addProperty("bundle", k.bundle());
            o.addProperty("version", k.bundleVersion());
            a.add(o);
        }
        JsonObject o = new JsonObject();
        o.add("kinds", a);
        if (deploy != null) {
            o.add("deploy", DeployRender.json(deploy));
        }
        return GSON.toJson(o);
    }

    private static JsonArray statusArray(List<SupervisionStatus> statuses) {
        JsonArray a = new JsonArray();
        for (SupervisionStatus s : statuses) {
            JsonObject o = new JsonObject();
            o.addProperty("id", s.id().value());
            o.addProperty("kind", s.kind());
            o.addProperty("state", s.state().wireName());
            o.add("desired_version", optional(s.desiredVersion()));
            o.add("active_version", optional(s.activeVersion()));
            o.addProperty("detail", s.detail());
            o.addProperty("since", s.since().toString());
            a.add(o);
        }
        return a;
    }

    private static JsonArray stepArray(List<PlanStep> steps) {
        JsonArray a = new JsonArray();
        for (PlanStep s : steps) {
            JsonObject o = new JsonObject();
            o.addProperty("id", s.id().value());
            o.addProperty("kind", s.kind());
            o.addProperty("action", s.action().wireName());
            o.addProperty("reason", s.reason());
            a.add(o);
        }
        return a;
    }

    private static JsonArray strings(List<String> values) {
        JsonArray a = new JsonArray();
        values.forEach(a::add);
        return a;
    }

    private static JsonElement optional(Optional<String> value) {
        return value.<JsonElement>map(JsonPrimitive::new).orElse(JsonNull.INSTANCE);
    }

    // ---- text ------------------------------------------------------------------------------

    static String statusTable(List<SupervisionStatus> statuses) {
        if (statuses.isEmpty()) {
            return "no add-ons";
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"ID", "KIND", "STATE", "DESIRED", "ACTIVE", "SINCE", "DETAIL"});
        for (SupervisionStatus s : statuses) {
            rows.add(new String[] {s.id().value(), s.kind(), s.state().wireName(), s.desiredVersion().orElse("-"),
                s.activeVersion().orElse("-"), s.since().toString(), s.detail()});
        }
        return table(rows);
    }

    static String statusDetail(SupervisionStatus s) {
        return "id:       " + s.id() + "\n"
                + "kind:     " + s.kind() + "\n"
                + "state:    " + s.state().wireName() + "\n"
                + "desired:  " + s.desiredVersion().orElse("-") + "\n"
                + "active:   " + s.activeVersion().orElse("-") + "\n"
                + "since:    " + s.since() + "\n"
                + "detail:   " + s.detail();
    }

    static String planText(ReconcileReport report) {
        StringBuilder out = new StringBuilder();
        if (!report.revision().isEmpty()) {
            out.append("revision ").append(report.revision()).append('\n');
        }
        Map<PlanStep.Action, Integer> counts = new EnumMap<>(PlanStep.Action.class);
        List<String[]> rows = new ArrayList<>();
        for (PlanStep s : report.steps()) {
            counts.merge(s.action(), 1, Integer::sum);
            rows.add(new String[] {s.action().wireName(), s.id().value(), s.kind(), s.reason()});
        }
        if (!rows.isEmpty()) {
            out.append(table(rows)).append('\n');
        }
        out.append(summary(counts));
        return out.toString();
    }

    static String applyText(ReconcileReport report) {
        return planText(report) + "\n" + statusTable(report.statuses())
                + "\n" + (report.converged() ? "converged" : "not converged") + " in " + report.took().toMillis() + " ms";
    }

    static String kindsText(List<KindInfo> kinds) {
        if (kinds.isEmpty()) {
            return "no supervision kind has a dispatcher";
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"KIND", "BUNDLE", "VERSION"});
        kinds.forEach(k -> rows.add(new String[] {k.kind(), k.bundle(), k.bundleVersion()}));
        return table(rows);
    }

    static String auditText(AuditTrail trail) {
        StringBuilder out = new StringBuilder();
        for (AuditRecord r : trail.records()) {
            out.append(r.seq()).append("  ").append(r.at()).append("  ").append(r.addon()).append("  ")
                    .append(r.action()).append("  ").append(r.detail()).append('\n');
        }
        out.append(trail.brokenAt().map(n -> "chain BROKEN at record " + n + ": the audit log was edited")
                .orElse("chain intact"));
        return out.toString();
    }

    private static String summary(Map<PlanStep.Action, Integer> counts) {
        List<String> parts = new ArrayList<>();
        counts.forEach((action, n) -> parts.add(n + " " + action.wireName()));
        return parts.isEmpty() ? "nothing to do" : String.join(", ", parts);
    }

    private static String table(List<String[]> rows) {
        int[] widths = new int[rows.get(0).length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length - 1; i++) {
                widths[i] = Math.max(widths[i], row[i].length());
            }
        }
        StringBuilder out = new StringBuilder();
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                out.append(i < row.length - 1 ? String.format("%-" + widths[i] + "s  ", row[i]) : row[i]);
            }
            out.append('\n');
        }
        out.setLength(out.length() - 1);
        return out.toString();
    }
}
