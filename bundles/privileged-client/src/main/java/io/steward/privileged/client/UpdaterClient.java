package io.steward.privileged.client;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.steward.delivery.StagedArtifact;
import io.steward.observe.StewardObserver;
import io.steward.privileged.PrivilegedOperations;
import io.steward.privileged.UnitInstallRequest;
import io.steward.privileged.UnitInstallation;
import io.steward.privileged.UnitInstaller;
import io.steward.privileged.protocol.Protocol;
import io.steward.supervision.AddonId;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link PrivilegedOperations} and {@link UnitInstaller} for a non-root agent: each call is one request of
 * {@link Protocol} to the root updater's unix socket. The agent sends names and digests, never paths or bytes:
 * the updater re-reads the artifact the agent kept at the fixed staging location, re-verifies it against its
 * own trust store and works from its own root-owned copy. The signature travels with the request (it is read
 * from the stage metadata {@value #STAGE_METADATA} the delivery wrote beside the staged tree); the updater
 * checks it, so a forged one only gets the request refused.
 * <p>
 * The first call checks the updater's protocol ({@code version}); a missing, unreachable or too old updater is
 * a TRANSIENT failure that names what to do, so the add-on is {@code failed} (retried) and nothing was changed.
 * Thread-safe: every call uses its own connection.
 */
public final class UpdaterClient implements PrivilegedOperations, UnitInstaller {
    /** The stage metadata of {@code io.steward.delivery} in every staged version directory. */
    static final String STAGE_METADATA = ".steward-artifact.json";
    private static final Logger LOG = LoggerFactory.getLogger(UpdaterClient.class);
    private static final Duration SHORT = Duration.ofSeconds(30);
    private static final Duration GRANT = Duration.ofMinutes(5);       // re-verifies the whole artifact
    private static final Duration UNINSTALL = Duration.ofMinutes(10);  // stops every unit (90 s each at most)

    private final Path socket;
    private volatile boolean protocolChecked;
    private volatile Iterable<StewardObserver> observers = List.of();

    public UpdaterClient(Path socket) {
        this.socket = Objects.requireNonNull(socket, "socket");
    }

    /** Who counts calls and refusals (metrics); none by default. */
    public void observers(Iterable<StewardObserver> observers) {
        this.observers = Objects.requireNonNull(observers, "observers");
    }

    /** The updater's socket. */
    public Path socket() {
        return socket;
    }

    // ---- PrivilegedOperations ------------------------------------------------------------------------

    @Override
    public Path grantCapabilities(AddonId id, StagedArtifact staged, String binary, List<String> capabilities)
            throws SupervisionException {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(staged, "staged");
        JsonObject r = artifactRequest(Protocol.OP_GRANT_CAPABILITIES, id, staged.directory());
        r.addProperty("binary", binary);
        r.add("capabilities", Protocol.strings(capabilities == null ? List.of() : capabilities));
        JsonObject answer = call(id.value(), "capabilities", r, GRANT);
        String path = Protocol.string(answer, "path", "");
        if (path.isEmpty() || !Path.of(path).isAbsolute()) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": capabilities: the updater "
                    + "answered no absolute path");
        }
        return Path.of(path);
    }

    @Override
    public void release(AddonId id) throws SupervisionException {
        JsonObject r = Protocol.request(Protocol.OP_RELEASE);
        r.addProperty("id", id.value());
        call(id.value(), "release", r, SHORT);
    }

    // ---- UnitInstaller ----------------------------------------------------------------------------------

    @Override
    public UnitInstallation install(UnitInstallRequest request) throws SupervisionException {
        AddonId id = request.id();
        JsonObject r = artifactRequest(Protocol.OP_INSTALL_UNITS, id, request.source());
        r.add("units", Protocol.strings(request.units()));
        r.addProperty("primary", request.primary());
        r.add("resources", resources(request.resources()));
        r.addProperty("restart", request.restart());
        r.addProperty("job_timeout_ms", request.jobTimeout().toMillis());
        // an install stops, starts and may restore: a few job timeouts, plus the re-verification
        Duration timeout = request.jobTimeout().multipliedBy(4).plus(GRANT);
        JsonObject a = call(id.value(), "install units", r, timeout);
        return new UnitInstallation(Protocol.strings(a, "units"), Protocol.strings(a, "written"),
                Protocol.bool(a, "reloaded"), Protocol.bool(a, "enabled"), Protocol.string(a, "action", "none"),
                Protocol.string(a, "detail", ""));
    }

    @Override
    public void uninstall(AddonId id, List<String> units, boolean releaseTree) throws SupervisionException {
        JsonObject r = Protocol.request(Protocol.OP_UNINSTALL_UNITS);
        r.addProperty("id", id.value());
        r.add("units", Protocol.strings(units));
        r.addProperty("release_tree", releaseTree);
        JsonObject a = call(id.value(), "uninstall units", r, UNINSTALL);
        List<String> skipped = Protocol.strings(a, "skipped");
        if (!skipped.isEmpty()) {
            LOG.warn("Add-on {}: the updater did not remove {}: it never installed them", id, skipped);
        }
    }

    // ---- the exchange ------------------------------------------------------------------------------------

    /** The {@code version} answer, without any protocol check (tests, the benchmark, diagnostics). */
    public JsonObject version() throws SupervisionException {
        return exchange("-", "version", Protocol.request(Protocol.OP_VERSION), SHORT);
    }

    /**
     * Sends {@code request} (after the protocol check) and returns the successful answer; an error answer becomes
     * a {@link SupervisionException} with the updater's disposition.
     */
    public JsonObject call(String addon, String step, JsonObject request, Duration timeout) throws SupervisionException {
        String op = Protocol.string(request, "op", "");
        String[] refusal = {"unreachable"};     // until the updater answers
        try {
            if (!protocolChecked) {
                checkProtocol(addon, step, op);
            }
            JsonObject answer = exchange(addon, step, request, timeout);
            if (Protocol.bool(answer, "ok")) {
                refusal[0] = "";
                return answer;
            }
            JsonObject error = answer.has("error") && answer.get("error").isJsonObject()
                    ? answer.getAsJsonObject("error") : new JsonObject();
            String code = Protocol.string(error, "code", "");
            String message = Protocol.string(error, "message", "no message");
            if (code.equals(Protocol.E_PROTOCOL) || code.equals(Protocol.E_UNKNOWN_OP)) {
                protocolChecked = false;
                refusal[0] = "protocol";
                throw upgrade(addon, step, message);
            }
            if (code.equals(Protocol.E_FORBIDDEN)) {
                refusal[0] = "forbidden";
                throw forbidden(addon, step, message);
            }
            Disposition d = Protocol.PERMANENT.equals(Protocol.string(error, "disposition", ""))
                    ? Disposition.PERMANENT : Disposition.TRANSIENT;
            refusal[0] = d == Disposition.PERMANENT ? "permanent" : "transient";
            throw new SupervisionException(d, message.startsWith("add-on ") ? message
                    : "add-on " + addon + ": " + step + ": the steward-updater refused the request: " + message);
        } catch (SupervisionException e) {
            if (refusal[0].equals("unreachable") && e.getCause() instanceof SocketTimeoutException) {
                refusal[0] = "timeout";
            }
            throw e;
        } finally {
            String reason = refusal[0];
            StewardObserver.each(observers, o -> o.updaterCall(op, reason));
        }
    }

    private SupervisionException forbidden(String addon, String step, String message) {
        return new SupervisionException(Disposition.TRANSIENT, "add-on " + addon + ": " + step + ": the "
                + "steward-updater at " + socket + " refuses this agent (" + message + "); start it with "
                + "--agent-user and --agent-group set to the agent's user and group");
    }

    private void checkProtocol(String addon, String step, String op) throws SupervisionException {
        JsonObject v = exchange(addon, step, Protocol.request(Protocol.OP_VERSION), SHORT);
        JsonObject error = v.has("error") && v.get("error").isJsonObject() ? v.getAsJsonObject("error") : new JsonObject();
        if (Protocol.E_FORBIDDEN.equals(Protocol.string(error, "code", ""))) {
            throw forbidden(addon, step, Protocol.string(error, "message", ""));
        }
        int protocol = v.has("protocol") && v.get("protocol").isJsonPrimitive()
                && v.getAsJsonPrimitive("protocol").isNumber() ? v.get("protocol").getAsInt() : 0;
        if (!Protocol.bool(v, "ok") || protocol < Protocol.VERSION) {
            throw upgrade(addon, step, "it answers protocol " + protocol);
        }
        List<String> ops = supportedOps(v);
        if (!ops.containsAll(Protocol.OPS)) {
            throw upgrade(addon, step, "it lacks " + Protocol.OPS.stream().filter(o -> !ops.contains(o)).toList());
        }
        protocolChecked = true;
        LOG.info("steward-updater at {} speaks protocol {} (version {})", socket, protocol,
                Protocol.string(v, "updater", "unknown"));
    }

    private static List<String> supportedOps(JsonObject version) {
        try {
            return Protocol.strings(version, "ops");
        } catch (RuntimeException e) {
            return List.of();
        }
    }

    private SupervisionException upgrade(String addon, String step, String why) {
        return new SupervisionException(Disposition.TRANSIENT, "add-on " + addon + ": " + step + ": the "
                + "steward-updater at " + socket + " is too old (" + why + "); upgrade steward-updater to protocol "
                + Protocol.VERSION);
    }

    /** One connection: the request line out, the answer line in. */
    JsonObject exchange(String addon, String step, JsonObject request, Duration timeout) throws SupervisionException {
        byte[] line = (Protocol.line(request) + "\n").getBytes(StandardCharsets.UTF_8);
        if (line.length > Protocol.MAX_REQUEST_BYTES) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + addon + ": " + step + ": the request "
                    + "is larger than " + Protocol.MAX_REQUEST_BYTES + " bytes");
        }
        AFUNIXSocket s;
        try {
            s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket));
        } catch (IOException e) {
            protocolChecked = false;
            throw unreachable(addon, step, e);
        }
        try (s) {
            s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis())));
            IOException writeFailure = null;
            try {
                OutputStream out = s.getOutputStream();
                out.write(line);
                out.flush();
                s.shutdownOutput();
            } catch (IOException e) {
                writeFailure = e;    // the updater may have answered (and closed) first, e.g. "forbidden"
            }
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            byte[] buffer = new byte[8192];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                answer.write(buffer, 0, n);
                if (answer.size() > Protocol.MAX_RESPONSE_BYTES) {
                    throw new SupervisionException(Disposition.TRANSIENT, "add-on " + addon + ": " + step
                            + ": the steward-updater's answer is larger than " + Protocol.MAX_RESPONSE_BYTES + " bytes");
                }
            }
            if (answer.size() == 0 && writeFailure != null) {
                throw writeFailure;
            }
            byte[] bytes = answer.toByteArray();
            if (bytes.length == 0 || bytes[bytes.length - 1] != '\n') {
                // every answer ends with a newline: without one the updater stopped mid-request, it is not too old
                protocolChecked = false;
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + addon + ": " + step + ": the "
                        + "steward-updater at " + socket + " closed the connection " + (bytes.length == 0
                        ? "without answering" : "in the middle of its answer") + " (it stopped or restarted during "
                        + "the request; nothing is assumed done, the request is retried); check "
                        + "'journalctl -u steward-updater'");
            }
            JsonElement e = JsonParser.parseString(answer.toString(StandardCharsets.UTF_8));
            if (!e.isJsonObject()) {
                throw new JsonParseException("not an object");
            }
            return e.getAsJsonObject();
        } catch (SocketTimeoutException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + addon + ": " + step + ": the "
                    + "steward-updater at " + socket + " did not answer within " + timeout.toSeconds() + " s", e);
        } catch (IOException e) {
            protocolChecked = false;
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + addon + ": " + step + ": the connection "
                    + "to the steward-updater at " + socket + " failed (" + e.getMessage() + "); check "
                    + "'journalctl -u steward-updater'", e);
        } catch (JsonParseException | IllegalStateException e) {
            throw upgrade(addon, step, "its answer is not protocol " + Protocol.VERSION + " JSON");
        }
    }

    private SupervisionException unreachable(String addon, String step, IOException e) {
        String cause = String.valueOf(e.getMessage());
        String lower = cause.toLowerCase(Locale.ROOT);
        String todo;
        if (lower.contains("permission denied")) {
            todo = "the agent's user may not use the socket: its group must be the agent's "
                    + "(SocketGroup= of steward-updater.socket)";
        } else {
            todo = "start steward-updater.socket (systemctl enable --now steward-updater.socket), or set "
                    + Protocol.SOCKET_PROPERTY + " to its socket";
        }
        return new SupervisionException(Disposition.TRANSIENT, "add-on " + addon + ": " + step + ": the "
                + "steward-updater is not reachable at " + socket + " (" + cause + "); " + todo, e);
    }

    // ---- arguments -----------------------------------------------------------------------------------------

    /** A request naming the artifact behind {@code staged}: id, version, digest, signature and key. */
    private static JsonObject artifactRequest(String op, AddonId id, Path staged) throws SupervisionException {
        JsonObject meta = stageMetadata(id, staged);
        if (!id.value().equals(Protocol.string(meta, "id", ""))) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": " + staged
                    + " was staged for add-on \"" + Protocol.string(meta, "id", "") + "\"");
        }
        JsonObject r = Protocol.request(op);
        r.addProperty("id", id.value());
        r.addProperty("version", Protocol.string(meta, "version", ""));
        r.addProperty("sha256", Protocol.string(meta, "sha256", ""));
        r.addProperty("signature", Protocol.string(meta, "signature", ""));
        Optional<String> key = Optional.of(Protocol.string(meta, "key", "")).filter(k -> !k.isEmpty());
        key.ifPresent(k -> r.addProperty("key", k));
        return r;
    }

    private static JsonObject stageMetadata(AddonId id, Path staged) throws SupervisionException {
        Path file = staged.resolve(STAGE_METADATA);
        try {
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) || Files.size(file) > 64 * 1024) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": " + staged + " has no stage "
                        + "metadata " + STAGE_METADATA + "; only artifacts staged by io.steward.delivery can go "
                        + "through the steward-updater");
            }
            return JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException | JsonParseException | IllegalStateException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read " + file + ": "
                    + e.getMessage(), e);
        }
    }

    private static JsonObject resources(Resources resources) {
        JsonObject o = new JsonObject();
        resources.cpuMaxPercent().ifPresent(v -> o.addProperty("cpu_max_percent", v));
        resources.memoryMaxBytes().ifPresent(v -> o.addProperty("memory_max_bytes", v));
        resources.tasksMax().ifPresent(v -> o.addProperty("tasks_max", v));
        return o;
    }
}
