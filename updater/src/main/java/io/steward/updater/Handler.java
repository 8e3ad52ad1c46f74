package io.steward.updater;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import io.steward.privileged.UnitInstallation;
import io.steward.privileged.protocol.Protocol;
import io.steward.supervision.AddonId;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request line in, one response object out; never throws. Parses strictly (one JSON object,
 * {@code "protocol": 1}, a known {@code "op"}, exactly the fields of that operation with their types), then
 * calls {@link Updater}. A {@link SupervisionException} keeps its disposition: PERMANENT becomes code
 * {@value Protocol#E_REFUSED}, TRANSIENT {@value Protocol#E_FAILED}. Stateless and thread-safe.
 */
final class Handler {
    private static final Logger LOG = LoggerFactory.getLogger(Handler.class);
    private static final String IMPLEMENTATION = Optional.ofNullable(Handler.class.getPackage().getImplementationVersion())
            .orElse("development");

    private static final Set<String> COMMON = Set.of("protocol", "op");
    private static final Map<String, Set<String>> FIELDS = Map.of(
            Protocol.OP_VERSION, Set.of(),
            Protocol.OP_MATERIALIZE, Protocol.ARTIFACT_FIELDS,
            Protocol.OP_INSTALL_UNITS, union(Protocol.ARTIFACT_FIELDS,
                    Set.of("units", "primary", "resources", "restart", "job_timeout_ms")),
            Protocol.OP_UNINSTALL_UNITS, Set.of("id", "units", "release_tree"),
            Protocol.OP_GRANT_CAPABILITIES, union(Protocol.ARTIFACT_FIELDS, Set.of("binary", "capabilities")),
            Protocol.OP_RELEASE, Set.of("id"));
    private static final Set<String> OPTIONAL = Set.of("key");

    private final Updater updater;
    /** Requests that ended in an exception no operation declares: each one is a bug (the fuzz target's oracle). */
    private final java.util.concurrent.atomic.AtomicLong unexpected = new java.util.concurrent.atomic.AtomicLong();

    Handler(Updater updater) {
        this.updater = updater;
    }

    /** Handles one request; {@code peer} names the caller in the log. */
    JsonObject handle(String line, String peer) {
        JsonObject request;
        try {
            request = parse(line);
        } catch (Refusal r) {
            LOG.warn("Refused a request from {}: {}", peer, r.getMessage());
            return Protocol.error(r.code(), r.getMessage(), r.permanent());
        }
        String op = request.get("op").getAsString();
        try {
            JsonObject answer = dispatch(op, request);
            LOG.debug("{} from {}: ok", op, peer);
            return answer;
        } catch (Refusal r) {
            LOG.warn("Refused {} from {}: {}", op, peer, r.getMessage());
            return Protocol.error(r.code(), r.getMessage(), r.permanent());
        } catch (SupervisionException e) {
            boolean permanent = e.disposition() == Disposition.PERMANENT;
            if (permanent) {
                LOG.warn("Refused {} from {}: {}", op, peer, e.getMessage());
            } else {
                LOG.error("{} from {} failed: {}", op, peer, e.getMessage());
            }
            return Protocol.error(permanent ? Protocol.E_REFUSED : Protocol.E_FAILED, e.getMessage(), permanent);
        } catch (RuntimeException e) {      // an isolation boundary: one request never takes the updater down
            LOG.error("{} from {} failed unexpectedly", op, peer, e);
            unexpected.incrementAndGet();
            return Protocol.error(Protocol.E_FAILED, op + " failed: " + e, false);
        }
    }

    long unexpectedFailures() {
        return unexpected.get();
    }

    private JsonObject dispatch(String op, JsonObject r) throws Refusal, SupervisionException {
        switch (op) {
            case Protocol.OP_VERSION -> {
                JsonObject o = Protocol.ok();
                o.add("ops", Protocol.strings(Protocol.OPS));
                o.addProperty("updater", IMPLEMENTATION);
                return o;
            }
            case Protocol.OP_MATERIALIZE -> {
                Path dir = updater.materialize(artifact(r));
                JsonObject o = Protocol.ok();
                o.addProperty("directory", dir.toString());
                return o;
            }
            case Protocol.OP_INSTALL_UNITS -> {
                UnitInstallation done = updater.installUnits(artifact(r), strings(r, "units"), string(r, "primary"),
                        resources(r), bool(r, "restart"), Duration.ofMillis(number(r, "job_timeout_ms")));
                JsonObject o = Protocol.ok();
                o.add("units", Protocol.strings(done.units()));
                o.add("written", Protocol.strings(done.written()));
                o.addProperty("reloaded", done.reloaded());
                o.addProperty("enabled", done.enabled());
                o.addProperty("action", done.action());
                o.addProperty("detail", done.detail());
                return o;
            }
            case Protocol.OP_UNINSTALL_UNITS -> {
                Updater.Uninstalled done = updater.uninstallUnits(id(r), strings(r, "units"), bool(r, "release_tree"));
                JsonObject o = Protocol.ok();
                o.add("removed", Protocol.strings(done.removed()));
                o.add("skipped", Protocol.strings(done.skipped()));
                o.addProperty("tree_released", done.treeReleased());
                return o;
            }
            case Protocol.OP_GRANT_CAPABILITIES -> {
                Path program = updater.grantCapabilities(artifact(r), string(r, "binary"), strings(r, "capabilities"));
                JsonObject o = Protocol.ok();
                o.addProperty("path", program.toString());
                return o;
            }
            case Protocol.OP_RELEASE -> {
                JsonObject o = Protocol.ok();
                o.addProperty("released", updater.release(id(r)));
                return o;
            }
            default -> throw new Refusal(Protocol.E_UNKNOWN_OP, "unknown op", false);
        }
    }

    // ---- parsing ------------------------------------------------------------------------------------------

    static JsonObject parse(String line) throws Refusal {
        JsonElement root;
        try {
            JsonReader reader = new JsonReader(new StringReader(line));
            reader.setStrictness(Strictness.STRICT);
            reader.setNestingLimit(8);
            root = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw Refusal.malformed("the request is not one JSON object (something follows it)");
            }
        } catch (JsonParseException | StackOverflowError | IllegalStateException | IOException e) {
            throw Refusal.malformed("the request is not one JSON object");
        }
        if (!root.isJsonObject()) {
            throw Refusal.malformed("the request is not one JSON object");
        }
        JsonObject o = root.getAsJsonObject();
        JsonElement protocol = o.get("protocol");
        if (!(protocol instanceof JsonPrimitive p) || !p.isNumber()) {
            throw Refusal.malformed("the request has no numeric \"protocol\"");
        }
        if (p.getAsDouble() != Protocol.VERSION) {
            throw new Refusal(Protocol.E_PROTOCOL, "protocol " + p.getAsString() + " is not supported; this updater "
                    + "speaks protocol " + Protocol.VERSION, false);
        }
        JsonElement op = o.get("op");
        if (!(op instanceof JsonPrimitive s) || !s.isString()) {
            throw Refusal.malformed("the request has no string \"op\"");
        }
        Set<String> fields = FIELDS.get(s.getAsString());
        if (fields == null) {
            throw new Refusal(Protocol.E_UNKNOWN_OP, "unknown op \"" + Updater.printable(s.getAsString())
                    + "\"; this updater serves " + Protocol.OPS, false);
        }
        for (String name : o.keySet()) {
            if (!COMMON.contains(name) && !fields.contains(name)) {
                throw Refusal.malformed("unknown field \"" + Updater.printable(name) + "\" for op " + s.getAsString());
            }
        }
        for (String name : fields) {
            if (!OPTIONAL.contains(name) && !o.has(name)) {
                throw Refusal.malformed("op " + s.getAsString() + " needs \"" + name + "\"");
            }
        }
        return o;
    }

    private static AddonId id(JsonObject r) throws Refusal {
        String id = string(r, "id");
        if (!AddonId.isValid(id)) {
            throw Refusal.invalid("\"" + Updater.printable(id) + "\" is not a valid add-on id");
        }
        return new AddonId(id);
    }

    private static Updater.Artifact artifact(JsonObject r) throws Refusal {
        AddonId id = id(r);
        Optional<String> key = r.has("key") && !r.get("key").isJsonNull() ? Optional.of(string(r, "key"))
                : Optional.empty();
        try {
            return new Updater.Artifact(id, string(r, "version"), string(r, "sha256"), string(r, "signature"), key);
        } catch (IllegalArgumentException e) {
            throw Refusal.invalid("add-on " + id + ": " + e.getMessage());
        }
    }

    private static Resources resources(JsonObject r) throws Refusal {
        JsonElement e = r.get("resources");
        if (!(e instanceof JsonObject o)) {
            throw Refusal.malformed("\"resources\" is not an object");
        }
        for (String k : o.keySet()) {
            if (!Set.of("cpu_max_percent", "memory_max_bytes", "tasks_max").contains(k)) {
                throw Refusal.malformed("unknown field \"resources." + Updater.printable(k) + "\"");
            }
        }
        OptionalDouble cpu = OptionalDouble.empty();
        if (o.has("cpu_max_percent")) {
            double v = numberValue(o.get("cpu_max_percent"), "resources.cpu_max_percent").doubleValue();
            if (!(v > 0 && v <= 100_000)) {
                throw Refusal.invalid("resources.cpu_max_percent must be in (0, 100000]");
            }
            cpu = OptionalDouble.of(v);
        }
        return new Resources(cpu, positive(o, "memory_max_bytes"), positive(o, "tasks_max"));
    }

    private static OptionalLong positive(JsonObject o, String field) throws Refusal {
        if (!o.has(field)) {
            return OptionalLong.empty();
        }
        long v = longValue(o.get(field), "resources." + field);
        if (v < 1) {
            throw Refusal.invalid("resources." + field + " must be positive");
        }
        return OptionalLong.of(v);
    }

    private static String string(JsonObject r, String field) throws Refusal {
        JsonElement e = r.get(field);
        if (!(e instanceof JsonPrimitive p) || !p.isString()) {
            throw Refusal.malformed("\"" + field + "\" is not a string");
        }
        return p.getAsString();
    }

    private static boolean bool(JsonObject r, String field) throws Refusal {
        JsonElement e = r.get(field);
        if (!(e instanceof JsonPrimitive p) || !p.isBoolean()) {
            throw Refusal.malformed("\"" + field + "\" is not true or false");
        }
        return p.getAsBoolean();
    }

    private static long number(JsonObject r, String field) throws Refusal {
        return longValue(r.get(field), field);
    }

    private static Number numberValue(JsonElement e, String field) throws Refusal {
        if (!(e instanceof JsonPrimitive p) || !p.isNumber()) {
            throw Refusal.malformed("\"" + field + "\" is not a number");
        }
        return p.getAsNumber();
    }

    private static long longValue(JsonElement e, String field) throws Refusal {
        double d = numberValue(e, field).doubleValue();
        if (d != Math.rint(d) || Math.abs(d) > 1e15) {
            throw Refusal.malformed("\"" + field + "\" is not an integer");
        }
        return (long) d;
    }

    private static List<String> strings(JsonObject r, String field) throws Refusal {
        JsonElement e = r.get(field);
        if (!(e instanceof JsonArray a)) {
            throw Refusal.malformed("\"" + field + "\" is not an array of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonElement item : a) {
            if (!(item instanceof JsonPrimitive p) || !p.isString()) {
                throw Refusal.malformed("\"" + field + "\" is not an array of strings");
            }
            out.add(p.getAsString());
        }
        return out;
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        java.util.HashSet<String> u = new java.util.HashSet<>(a);
        u.addAll(b);
        return Set.copyOf(u);
    }
}
