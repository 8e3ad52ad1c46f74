package io.steward.health.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.files.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What the agent's health is judged on, as the agent last saw it: its last pass (or failed pass), the warnings of
 * that pass (a source in error), the last problem and the last success talking to the steward-updater. The agent
 * writes it to {@code <data>/state/health.json} after each pass, so {@code steward health} in another process
 * judges the same facts.
 */
record PassRecord(long pid, Instant agentStarted, Instant lastPass, Instant lastFailure, String failure,
                  List<String> warnings, Instant updaterProblemAt, String updaterProblem, Instant updaterOkAt) {
    static final String FILE = "health.json";

    PassRecord {
        warnings = List.copyOf(warnings);
    }

    static PassRecord started(long pid, Instant at) {
        return new PassRecord(pid, at, null, null, "", List.of(), null, "", null);
    }

    PassRecord passed(Instant at, List<String> passWarnings) {
        return new PassRecord(pid, agentStarted, at, lastFailure, failure, passWarnings, updaterProblemAt,
                updaterProblem, updaterOkAt);
    }

    PassRecord failed(Instant at, String why) {
        return new PassRecord(pid, agentStarted, lastPass, at, why, warnings, updaterProblemAt, updaterProblem,
                updaterOkAt);
    }

    PassRecord updater(Instant at, String operation, String refusal) {
        if (refusal.isEmpty()) {
            return new PassRecord(pid, agentStarted, lastPass, lastFailure, failure, warnings, updaterProblemAt,
                    updaterProblem, at);
        }
        return new PassRecord(pid, agentStarted, lastPass, lastFailure, failure, warnings, at,
                operation + ": " + refusal, updaterOkAt);
    }

    void write(Path state) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("pid", pid);
        put(o, "agent_started", agentStarted);
        put(o, "last_pass", lastPass);
        put(o, "last_failure", lastFailure);
        o.addProperty("failure", failure);
        JsonArray w = new JsonArray();
        warnings.forEach(w::add);
        o.add("warnings", w);
        put(o, "updater_problem_at", updaterProblemAt);
        o.addProperty("updater_problem", updaterProblem);
        put(o, "updater_ok_at", updaterOkAt);
        Files.createDirectories(state);
        AtomicFiles.replace(state.resolve(FILE), FILE + ".tmp").write((o + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** The record an agent left in {@code state}, if it left a readable one. */
    static Optional<PassRecord> read(Path state) {
        try {
            JsonObject o = JsonParser.parseString(Files.readString(state.resolve(FILE))).getAsJsonObject();
            List<String> w = new ArrayList<>();
            o.getAsJsonArray("warnings").forEach(e -> w.add(e.getAsString()));
            return Optional.of(new PassRecord(o.get("pid").getAsLong(), instant(o, "agent_started"),
                    instant(o, "last_pass"), instant(o, "last_failure"), o.get("failure").getAsString(), w,
                    instant(o, "updater_problem_at"), o.get("updater_problem").getAsString(), instant(o, "updater_ok_at")));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static void put(JsonObject o, String key, Instant value) {
        if (value != null) {
            o.addProperty(key, value.toString());
        }
    }

    private static Instant instant(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e == null || e.isJsonNull() ? null : Instant.parse(e.getAsString());
    }
}
