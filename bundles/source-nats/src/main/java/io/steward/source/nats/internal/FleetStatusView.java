package io.steward.source.nats.internal;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.supervision.CommandResult;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.SortedMap;

/**
 * {@code steward fleet status}: one row per host — the serial in effect, converged or not, the add-ons
 * that are not {@code ready}, the last refusal — in text or JSON
 * ({@code {"hosts":[{"host","serial","pending_serial","converged","failing":[{"id","state","detail"}],"error","at"}]}}).
 */
final class FleetStatusView {
    private FleetStatusView() {
    }

    static CommandResult render(SortedMap<String, byte[]> statuses, String onlyHost, boolean json) {
        JsonArray hosts = new JsonArray();
        StringBuilder text = new StringBuilder(String.format("%-24s %8s  %-9s  %s%n", "HOST", "SERIAL", "CONVERGED", "FAILING / ERROR"));
        int shown = 0;
        for (Map.Entry<String, byte[]> e : statuses.entrySet()) {
            if (onlyHost != null && !onlyHost.equals(e.getKey())) {
                continue;
            }
            JsonObject row = summary(e.getKey(), e.getValue());
            hosts.add(row);
            shown++;
            text.append(String.format("%-24s %8s  %-9s  %s%n", e.getKey(), str(row.get("serial")),
                    row.get("converged").getAsBoolean() ? "yes" : "no", problems(row)));
        }
        if (onlyHost != null && shown == 0) {
            return new CommandResult(1, "", "steward: fleet status: host " + onlyHost + " has written no status\n");
        }
        if (json) {
            JsonObject o = new JsonObject();
            o.add("hosts", hosts);
            return new CommandResult(0, new GsonBuilder().disableHtmlEscaping().serializeNulls().create().toJson(o) + "\n", "");
        }
        return new CommandResult(0, text.toString(), "");
    }

    /** One line of {@code fleet watch}. */
    static String line(String host, byte[] value) {
        JsonObject row = summary(host, value);
        return str(row.get("at")) + " " + host + " serial=" + str(row.get("serial")) + " converged="
                + (row.get("converged").getAsBoolean() ? "yes" : "no") + " " + problems(row);
    }

    private static JsonObject summary(String host, byte[] value) {
        JsonObject row = new JsonObject();
        row.addProperty("host", host);
        JsonObject s;
        try {
            s = JsonParser.parseString(new String(value, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (RuntimeException e) {
            row.add("serial", null);
            row.addProperty("converged", false);
            row.add("failing", new JsonArray());
            row.addProperty("error", "its status value is not JSON");
            return row;
        }
        row.add("serial", s.get("serial"));
        if (s.has("pending_serial")) {
            row.add("pending_serial", s.get("pending_serial"));
        }
        row.addProperty("converged", s.has("converged") && s.get("converged").getAsBoolean());
        JsonArray failing = new JsonArray();
        if (s.get("addons") instanceof JsonArray addons) {
            for (JsonElement a : addons) {
                JsonObject ao = a.getAsJsonObject();
                String state = str(ao.get("state"));
                if (!state.equals("ready") && !state.equals("removed")) {
                    JsonObject f = new JsonObject();
                    f.add("id", ao.get("id"));
                    f.addProperty("state", state);
                    f.add("detail", ao.get("detail"));
                    failing.add(f);
                }
            }
        }
        row.add("failing", failing);
        row.add("error", s.get("error"));
        row.add("at", s.get("at"));
        return row;
    }

    private static String problems(JsonObject row) {
        StringBuilder out = new StringBuilder();
        for (JsonElement f : row.getAsJsonArray("failing")) {
            JsonObject o = f.getAsJsonObject();
            out.append(out.length() == 0 ? "" : ", ").append(str(o.get("id"))).append(" (").append(str(o.get("state")))
                    .append(": ").append(str(o.get("detail"))).append(")");
        }
        String error = str(row.get("error"));
        if (!error.equals("-")) {
            out.append(out.length() == 0 ? "" : "; ").append("refused: ").append(error);
        }
        return out.length() == 0 ? "-" : out.toString();
    }

    private static String str(JsonElement e) {
        return e == null || e.isJsonNull() ? "-" : e.getAsString();
    }
}
