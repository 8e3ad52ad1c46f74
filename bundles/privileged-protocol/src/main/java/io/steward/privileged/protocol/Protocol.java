package io.steward.privileged.protocol;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.util.List;
import java.util.Set;

/**
 * The updater protocol, version {@value #VERSION}: the single definition of the wire format, used by the agent's
 * client ({@code io.steward.privileged.client}, which embeds this package) and by the root updater
 * ({@code io.steward.updater}, which has this jar on its class path).
 * <p>
 * One request per connection on a unix stream socket: the client writes one JSON object on one line
 * (at most {@value #MAX_REQUEST_BYTES} bytes, newline-terminated or ended by closing its output), the updater
 * answers with one JSON object on one line and closes. Every request carries {@code "protocol": 1} and
 * {@code "op"}; every response carries {@code "protocol"} and {@code "ok"}, and when {@code ok} is false an
 * {@code "error": {"code", "message", "disposition": "permanent"|"transient"}}. Unknown request fields are
 * refused. Operations and their arguments:
 * <ul>
 * <li>{@code version}: answers {@code ops} (the supported operations) and {@code updater} (its version).</li>
 * <li>{@code materialize} {@code id version sha256 signature [key]}: re-verifies the artifact the agent kept at
 * {@code <data>/addons/<id>/artifacts/<sha256>.tar.gz}, extracts it into the root-owned
 * {@code <privileged-root>/<id>/versions/<sha256>} and points {@code current} there; answers {@code directory}.</li>
 * <li>{@code install_units} {@code id version sha256 signature [key] units primary resources restart
 * job_timeout_ms}: materializes, then installs the units from the updater's own copy, transactionally;
 * answers the {@code UnitInstallation} fields {@code units written reloaded enabled action detail}.</li>
 * <li>{@code uninstall_units} {@code id units release_tree}: stops, disables and deletes units the updater
 * installed for the add-on; answers {@code removed}, {@code skipped} (named but not installed by the updater)
 * and {@code tree_released}.</li>
 * <li>{@code grant_capabilities} {@code id version sha256 signature [key] binary capabilities}: materializes
 * and grants file capabilities to the program in the root-owned copy; answers its {@code path}.</li>
 * <li>{@code release} {@code id}: deletes the add-on's root-owned copy (refused while units are installed);
 * answers {@code released}.</li>
 * </ul>
 * Stateless; the {@link Gson} it holds is immutable.
 */
public final class Protocol {
    /** The protocol version this code speaks. */
    public static final int VERSION = 1;
    /** The most bytes a request may take, newline included. */
    public static final int MAX_REQUEST_BYTES = 64 * 1024;
    /** The most bytes a response may take. */
    public static final int MAX_RESPONSE_BYTES = 1 << 20;
    /** Default socket path of the updater. */
    public static final String DEFAULT_SOCKET = "/run/steward/updater.sock";
    /** Framework property naming the updater's socket. */
    public static final String SOCKET_PROPERTY = "steward.updater.socket";

    public static final String OP_VERSION = "version";
    public static final String OP_MATERIALIZE = "materialize";
    public static final String OP_INSTALL_UNITS = "install_units";
    public static final String OP_UNINSTALL_UNITS = "uninstall_units";
    public static final String OP_GRANT_CAPABILITIES = "grant_capabilities";
    public static final String OP_RELEASE = "release";
    /** Every operation of protocol 1. */
    public static final List<String> OPS = List.of(OP_VERSION, OP_MATERIALIZE, OP_INSTALL_UNITS, OP_UNINSTALL_UNITS,
            OP_GRANT_CAPABILITIES, OP_RELEASE);

    /** Error codes. */
    public static final String E_MALFORMED = "malformed_request";
    public static final String E_TOO_LARGE = "request_too_large";
    public static final String E_TIMEOUT = "read_timeout";
    public static final String E_PROTOCOL = "unsupported_protocol";
    public static final String E_UNKNOWN_OP = "unknown_op";
    public static final String E_FORBIDDEN = "forbidden";
    public static final String E_INVALID = "invalid_argument";
    public static final String E_REFUSED = "refused";
    public static final String E_FAILED = "failed";
    public static final String E_BUSY = "busy";

    public static final String PERMANENT = "permanent";
    public static final String TRANSIENT = "transient";

    /** Field names shared by several operations. */
    public static final Set<String> ARTIFACT_FIELDS = Set.of("id", "version", "sha256", "signature", "key");

    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

    private Protocol() {
    }

    /** A request of {@code op} with the protocol version set; the caller adds the arguments. */
    public static JsonObject request(String op) {
        JsonObject o = new JsonObject();
        o.addProperty("protocol", VERSION);
        o.addProperty("op", op);
        return o;
    }

    /** A successful response; the caller adds the results. */
    public static JsonObject ok() {
        JsonObject o = new JsonObject();
        o.addProperty("protocol", VERSION);
        o.addProperty("ok", true);
        return o;
    }

    /** A failed response. */
    public static JsonObject error(String code, String message, boolean permanent) {
        JsonObject e = new JsonObject();
        e.addProperty("code", code);
        e.addProperty("message", message);
        e.addProperty("disposition", permanent ? PERMANENT : TRANSIENT);
        JsonObject o = new JsonObject();
        o.addProperty("protocol", VERSION);
        o.addProperty("ok", false);
        o.add("error", e);
        return o;
    }

    /** One line of JSON, without the newline. */
    public static String line(JsonObject o) {
        return GSON.toJson(o);
    }

    /** A JSON array of strings. */
    public static JsonArray strings(List<String> values) {
        JsonArray a = new JsonArray();
        values.forEach(a::add);
        return a;
    }

    /** The strings of an array field, or an empty list when the field is absent. */
    public static List<String> strings(JsonObject o, String field) {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return List.of();
        }
        return e.getAsJsonArray().asList().stream().map(JsonElement::getAsString).toList();
    }

    /** A string field, or {@code fallback} when absent or not a string. */
    public static String string(JsonObject o, String field, String fallback) {
        JsonElement e = o.get(field);
        return e instanceof JsonPrimitive p && p.isString() ? p.getAsString() : fallback;
    }

    /** A boolean field, or false when absent or not a boolean. */
    public static boolean bool(JsonObject o, String field) {
        JsonElement e = o.get(field);
        return e instanceof JsonPrimitive p && p.isBoolean() && p.getAsBoolean();
    }
}
