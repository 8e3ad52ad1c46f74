package io.steward.supervision.sidecar.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The per-add-on supervision parameters: manifest fields over the dispatcher's defaults.
 *
 * @param mustNotify         the add-on must send {@code READY=1} (within {@code startTimeout}) to count as ready
 * @param startTimeout       bound of the wait for readiness
 * @param stopGrace          time between SIGTERM and SIGKILL of the process group
 * @param watchdog           expected {@code WATCHDOG=1} interval, {@link Duration#ZERO} when off
 * @param reloadSignal       signal name ({@code HUP}) sent on a config-only change; empty means restart instead
 * @param permanentExitCodes exit codes that reject the assignment instead of restarting it
 */
record Params(boolean mustNotify, Duration startTimeout, Duration stopGrace, Duration watchdog, String reloadSignal,
              Set<Integer> permanentExitCodes) {
    /** Signals an add-on may ask for on reload; anything else is refused (the name goes to {@code kill -s}). */
    static final Set<String> RELOAD_SIGNALS = Set.of("HUP", "USR1", "USR2", "INT", "QUIT", "TERM", "WINCH");

    Params {
        if (startTimeout.isNegative() || startTimeout.isZero() || stopGrace.isNegative() || watchdog.isNegative()) {
            throw new IllegalArgumentException("timeouts must be positive");
        }
        if (!reloadSignal.isEmpty() && !RELOAD_SIGNALS.contains(reloadSignal)) {
            throw new IllegalArgumentException("reload signal " + reloadSignal + " is not one of " + RELOAD_SIGNALS);
        }
        permanentExitCodes = Set.copyOf(permanentExitCodes);
    }

    /** The defaults alone. */
    static Params defaults(Duration startTimeout, Duration stopGrace) {
        return new Params(false, startTimeout, stopGrace, Duration.ZERO, "HUP", Set.of(125));
    }

    /**
     * Reads the manifest parameters ({@code notify}, {@code start_timeout_seconds}, {@code stop_grace_seconds},
     * {@code watchdog_seconds}, {@code reload_signal}, {@code permanent_exit_codes}), each a JSON text; others
     * are ignored.
     *
     * @throws IllegalArgumentException naming the parameter that is malformed
     */
    static Params fromManifest(Map<String, String> parameters, Params defaults) {
        boolean notify = defaults.mustNotify();
        Duration start = defaults.startTimeout();
        Duration grace = defaults.stopGrace();
        Duration watchdog = defaults.watchdog();
        String reload = defaults.reloadSignal();
        Set<Integer> permanent = defaults.permanentExitCodes();
        for (Map.Entry<String, String> e : parameters.entrySet()) {
            String key = e.getKey();
            switch (key) {
                case "notify" -> notify = bool(key, e.getValue());
                case "start_timeout_seconds" -> start = seconds(key, e.getValue(), false);
                case "stop_grace_seconds" -> grace = seconds(key, e.getValue(), true);
                case "watchdog_seconds" -> watchdog = seconds(key, e.getValue(), true);
                case "reload_signal" -> reload = signal(key, e.getValue());
                case "permanent_exit_codes" -> permanent = exitCodes(key, e.getValue());
                default -> {
                    // another kind's parameter, or one for the add-on itself
                }
            }
        }
        return new Params(notify, start, grace, watchdog, reload, permanent);
    }

    /** The parameters as a JSON object, for the durable state. */
    JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("notify", mustNotify);
        o.addProperty("start_timeout_millis", startTimeout.toMillis());
        o.addProperty("stop_grace_millis", stopGrace.toMillis());
        o.addProperty("watchdog_millis", watchdog.toMillis());
        o.addProperty("reload_signal", reloadSignal);
        JsonArray codes = new JsonArray();
        new TreeSet<>(permanentExitCodes).forEach(codes::add);
        o.add("permanent_exit_codes", codes);
        return o;
    }

    /** Reads what {@link #toJson()} wrote. */
    static Params fromJson(JsonObject o) {
        Set<Integer> codes = new TreeSet<>();
        o.getAsJsonArray("permanent_exit_codes").forEach(c -> codes.add(c.getAsInt()));
        return new Params(o.get("notify").getAsBoolean(), Duration.ofMillis(o.get("start_timeout_millis").getAsLong()),
                Duration.ofMillis(o.get("stop_grace_millis").getAsLong()),
                Duration.ofMillis(o.get("watchdog_millis").getAsLong()), o.get("reload_signal").getAsString(), codes);
    }

    private static JsonElement parse(String key, String json) {
        try {
            return JsonParser.parseString(json);
        } catch (JsonParseException e) {
            throw new IllegalArgumentException("manifest parameter " + key + " is not valid JSON");
        }
    }

    private static boolean bool(String key, String json) {
        if (parse(key, json) instanceof JsonPrimitive p && p.isBoolean()) {
            return p.getAsBoolean();
        }
        throw new IllegalArgumentException("manifest parameter " + key + " must be true or false");
    }

    private static Duration seconds(String key, String json, boolean zeroAllowed) {
        if (parse(key, json) instanceof JsonPrimitive p && p.isNumber()) {
            double value = p.getAsDouble();
            if (value >= (zeroAllowed ? 0 : 0.001) && value <= 86_400) {
                return Duration.ofMillis(Math.round(value * 1000));
            }
        }
        throw new IllegalArgumentException("manifest parameter " + key + " must be a number of seconds between "
                + (zeroAllowed ? "0" : "0.001") + " and 86400");
    }

    private static String signal(String key, String json) {
        if (parse(key, json) instanceof JsonPrimitive p && p.isString()) {
            String name = p.getAsString().trim().toUpperCase(Locale.ROOT);
            if (name.equals("NONE")) {
                return "";
            }
            if (name.startsWith("SIG")) {
                name = name.substring(3);
            }
            if (RELOAD_SIGNALS.contains(name)) {
                return name;
            }
        }
        throw new IllegalArgumentException("manifest parameter " + key + " must be \"none\" or one of SIG"
                + String.join(", SIG", new TreeSet<>(RELOAD_SIGNALS)));
    }

    private static Set<Integer> exitCodes(String key, String json) {
        if (parse(key, json) instanceof JsonArray array) {
            Set<Integer> codes = new TreeSet<>();
            for (JsonElement e : array) {
                // getAsDouble never throws (a huge exponent reads as infinity); getAsInt would, on 1e99999
                double code = e instanceof JsonPrimitive p && p.isNumber() ? p.getAsDouble() : -1;
                if (code != Math.rint(code) || code < 0 || code > 255) {
                    throw new IllegalArgumentException("manifest parameter " + key + " must list exit codes 0-255");
                }
                codes.add((int) code);
            }
            return codes;
        }
        throw new IllegalArgumentException("manifest parameter " + key + " must be an array of exit codes");
    }
}
