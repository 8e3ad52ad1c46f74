package io.steward.assignment.codec;

import static io.steward.assignment.codec.JsonFields.canonical;
import static io.steward.assignment.codec.JsonFields.checkFields;
import static io.steward.assignment.codec.JsonFields.number;
import static io.steward.assignment.codec.JsonFields.object;
import static io.steward.assignment.codec.JsonFields.optionalArray;
import static io.steward.assignment.codec.JsonFields.optionalBoolean;
import static io.steward.assignment.codec.JsonFields.optionalString;
import static io.steward.assignment.codec.JsonFields.positiveLong;
import static io.steward.assignment.codec.JsonFields.requiredString;
import static io.steward.assignment.codec.JsonFields.rootObject;
import static io.steward.assignment.codec.JsonFields.stringList;
import static io.steward.assignment.codec.JsonFields.stringMap;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.AssignmentCodec;
import io.steward.supervision.AssignmentDocument;
import io.steward.supervision.InvalidDocumentException;
import io.steward.supervision.Resources;
import io.steward.supervision.Versions;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Parses assignment documents (PRODUCT §2) with gson into immutable records. Every rule names the
 * JSON path of the offending value, and ids and versions are checked before anyone can use them
 * as path segments. Stateless.
 * <p>
 * Not final: {@code io.steward.core}'s DS component {@code GsonAssignmentCodec} is this class as the
 * {@code AssignmentCodec} service; the benchmarks and other bundles' tests use it as it is.
 */
public class JsonAssignmentCodec implements AssignmentCodec {

    static final Set<String> DELIVERIES = Set.of("pushed_artifact", "os_package", "compiled_in");
    private static final Map<String, String> KIND_ALIASES = Map.of("agent_sidecar", "sidecar");
    private static final Pattern KIND = Pattern.compile("^[a-z][a-z0-9_]{0,63}$");
    private static final Pattern SHA256 = Pattern.compile("^[0-9a-f]{64}$");
    private static final Pattern KEY_ID = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    private static final Pattern ENV_NAME = Pattern.compile("^[A-Za-z_][A-Za-z0-9_]{0,127}$");
    private static final Pattern CAPABILITY = Pattern.compile("^[a-z0-9][a-z0-9_.-]{0,63}$");
    private static final Pattern PATH_SEGMENT = Pattern.compile("^[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}$");
    private static final Set<String> ROOT_FIELDS = Set.of("revision", "addons");
    private static final Set<String> ADDON_FIELDS = Set.of("id", "version", "enabled", "supervision", "delivery",
            "artifact", "binary", "args", "env", "config", "capabilities", "resources");
    private static final Set<String> ARTIFACT_FIELDS = Set.of("url", "sha256", "signature", "key");
    private static final Set<String> RESOURCE_FIELDS = Set.of("cpu_max_percent", "memory_max_bytes", "tasks_max");

    @Override
    public Parsed parse(String json, boolean strict) throws InvalidDocumentException {
        try {
            return printable(parseDocument(json, strict));
        } catch (InvalidDocumentException e) {
            throw printable(e);
        }
    }

    @Override
    public Parsed applyOverride(AssignmentDocument document, String overrideJson) throws InvalidDocumentException {
        try {
            return printable(mergeOverride(document, overrideJson));
        } catch (InvalidDocumentException e) {
            throw printable(e);
        }
    }

    private Parsed parseDocument(String json, boolean strict) throws InvalidDocumentException {
        List<String> warnings = new ArrayList<>();
        JsonObject root = rootObject(json, "document");
        checkFields(root, "", ROOT_FIELDS, strict, warnings);
        String revision = optionalString(root, "revision", "revision").orElse("");
        List<Assignment> addons = new ArrayList<>();
        Map<AddonId, Integer> firstIndex = new LinkedHashMap<>();
        JsonArray entries = optionalArray(root, "addons", "addons").orElse(new JsonArray());
        for (int i = 0; i < entries.size(); i++) {
            String path = "addons[" + i + "]";
            Assignment a = assignment(object(entries.get(i), path), path, strict, warnings);
            Integer first = firstIndex.putIfAbsent(a.id(), i);
            if (first != null) {
                throw new InvalidDocumentException(path + ".id: \"" + a.id() + "\" is assigned twice (first at addons["
                        + first + "])");
            }
            addons.add(a);
        }
        return new Parsed(new AssignmentDocument(revision, addons), warnings);
    }

    private Parsed mergeOverride(AssignmentDocument document, String overrideJson) throws InvalidDocumentException {
        List<String> warnings = new ArrayList<>();
        JsonObject root = rootObject(overrideJson, "local override");
        checkFields(root, "", Set.of("addons"), true, warnings);
        Map<AddonId, Assignment> merged = new LinkedHashMap<>();
        document.addons().forEach(a -> merged.put(a.id(), a));
        JsonArray entries = optionalArray(root, "addons", "addons").orElse(new JsonArray());
        for (int i = 0; i < entries.size(); i++) {
            String path = "addons[" + i + "]";
            JsonObject patch = object(entries.get(i), path);
            Optional<String> rawId = optionalString(patch, "id", path + ".id");
            if (rawId.isEmpty() || rawId.get().isBlank()) {
                warnings.add(path + ": entry without an id ignored");
                continue;
            }
            AddonId id = addonId(rawId.get(), path + ".id");
            Assignment base = merged.get(id);
            JsonObject effective = base == null ? new JsonObject() : toJson(base);
            for (Map.Entry<String, JsonElement> field : patch.entrySet()) {
                if (!inheritsBlank(field.getValue())) {
                    effective.add(field.getKey(), field.getValue());
                }
            }
            merged.put(id, assignment(effective, path, true, warnings));
        }
        return new Parsed(new AssignmentDocument(document.revision(), new ArrayList<>(merged.values())), warnings);
    }

    @Override
    public String fingerprint(Assignment assignment) {
        try {
            byte[] canonical = toJson(assignment).toString().getBytes(StandardCharsets.UTF_8);
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(canonical));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /** The wire form of an assignment, with sorted keys, so equal assignments give equal text. */
    public JsonObject toJson(Assignment a) {
        JsonObject o = new JsonObject();
        o.addProperty("id", a.id().value());
        o.addProperty("version", a.version());
        o.addProperty("enabled", a.enabled());
        o.addProperty("supervision", a.kind());
        o.addProperty("delivery", a.delivery());
        a.artifact().ifPresent(art -> {
            JsonObject j = new JsonObject();
            j.addProperty("url", art.url());
            j.addProperty("sha256", art.sha256());
            j.addProperty("signature", art.signature());
            art.key().ifPresent(k -> j.addProperty("key", k));
            o.add("artifact", j);
        });
        a.binary().ifPresent(b -> o.addProperty("binary", b));
        JsonArray args = new JsonArray();
        a.args().forEach(args::add);
        o.add("args", args);
        JsonObject env = new JsonObject();
        new TreeMap<>(a.env()).forEach(env::addProperty);
        o.add("env", env);
        o.add("config", JsonParser.parseString(a.configJson()));
        JsonArray caps = new JsonArray();
        a.capabilities().forEach(caps::add);
        o.add("capabilities", caps);
        JsonObject res = new JsonObject();
        a.resources().cpuMaxPercent().ifPresent(v -> res.addProperty("cpu_max_percent", v));
        a.resources().memoryMaxBytes().ifPresent(v -> res.addProperty("memory_max_bytes", v));
        a.resources().tasksMax().ifPresent(v -> res.addProperty("tasks_max", v));
        o.add("resources", res);
        return o;
    }

    /** Parses one assignment written by {@link #toJson} (the ledger's own records). */
    public Assignment fromJson(JsonObject o) throws InvalidDocumentException {
        try {
            return assignment(o, "assignment", true, new ArrayList<>());
        } catch (InvalidDocumentException e) {
            throw printable(e);
        }
    }

    // Messages quote field names and values from the document: control characters and line separators are
    // escaped there, once, so that a refusal or a warning stays one line in the log and in `steward status`.
    private static InvalidDocumentException printable(InvalidDocumentException e) {
        String m = printable(e.getMessage());
        return m.equals(e.getMessage()) ? e : new InvalidDocumentException(m, e.getCause());
    }

    private static Parsed printable(Parsed p) {
        return new Parsed(p.document(), p.warnings().stream().map(JsonAssignmentCodec::printable).toList());
    }

    static String printable(String s) {
        StringBuilder b = new StringBuilder(s.length());
        s.chars().forEach(c -> b.append(Character.isISOControl(c) || c == 0x2028 || c == 0x2029
                ? String.format("\\u%04x", c) : String.valueOf((char) c)));
        return b.toString();
    }

    /** The canonical spelling of a kind ({@code agent_sidecar} is upstream's name for {@code sidecar}). */
    public static String canonicalKind(String kind) {
        return KIND_ALIASES.getOrDefault(kind, kind);
    }

    private Assignment assignment(JsonObject o, String path, boolean strict, List<String> warnings)
            throws InvalidDocumentException {
        checkFields(o, path + ".", ADDON_FIELDS, strict, warnings);
        AddonId id = addonId(requiredString(o, "id", path), path + ".id");
        String version = requiredString(o, "version", path);
        if (!Versions.isValid(version)) {
            throw new InvalidDocumentException(path + ".version: \"" + version + "\" is not a valid version"
                    + " (letters, digits and ._+- only, at most 128, not starting with a symbol)");
        }
        boolean enabled = optionalBoolean(o, "enabled", path + ".enabled").orElse(true);
        String rawKind = requiredString(o, "supervision", path);
        if (!KIND.matcher(rawKind).matches()) {
            throw new InvalidDocumentException(path + ".supervision: \"" + rawKind + "\" is not a valid kind name");
        }
        String kind = canonicalKind(rawKind);
        Optional<ArtifactRef> artifact = artifact(o, path + ".artifact", strict, warnings);
        String delivery = optionalString(o, "delivery", path + ".delivery")
                .orElse(artifact.isPresent() ? "pushed_artifact" : "compiled_in");
        if (!DELIVERIES.contains(delivery)) {
            throw new InvalidDocumentException(path + ".delivery: \"" + delivery
                    + "\" is not one of pushed_artifact, os_package, compiled_in");
        }
        if (delivery.equals("pushed_artifact") && artifact.isEmpty()) {
            throw new InvalidDocumentException(path + ".artifact: is required when delivery is pushed_artifact");
        }
        if (!delivery.equals("pushed_artifact") && artifact.isPresent()) {
            throw new InvalidDocumentException(path + ".artifact: is only allowed when delivery is pushed_artifact");
        }
        Optional<String> binary = optionalString(o, "binary", path + ".binary");
        if (binary.isPresent()) {
            checkBinary(binary.get(), delivery, path + ".binary");
        } else if (delivery.equals("os_package")) {
            throw new InvalidDocumentException(path + ".binary: is required when delivery is os_package");
        }
        List<String> args = stringList(o, "args", path + ".args", null);
        Map<String, String> env = stringMap(o, "env", path + ".env", ENV_NAME);
        String config = config(o, path + ".config");
        List<String> capabilities = stringList(o, "capabilities", path + ".capabilities", CAPABILITY);
        if (Set.copyOf(capabilities).size() != capabilities.size()) {
            throw new InvalidDocumentException(path + ".capabilities: lists a capability twice");
        }
        Resources resources = resources(o, path + ".resources", strict, warnings);
        return new Assignment(id, version, enabled, kind, delivery, artifact, binary, args, env, config,
                capabilities, resources);
    }

    private static void checkBinary(String binary, String delivery, String path) throws InvalidDocumentException {
        if (delivery.equals("os_package")) {
            if (!binary.startsWith("/") || binary.contains("/../") || binary.endsWith("/..") || binary.contains("//")
                    || binary.contains("/./") || binary.indexOf('\0') >= 0) {
                throw new InvalidDocumentException(path + ": \"" + binary
                        + "\" must be an absolute, normalised path for os_package delivery");
            }
            return;
        }
        for (String segment : binary.split("/", -1)) {
            if (!PATH_SEGMENT.matcher(segment).matches()) {
                throw new InvalidDocumentException(path + ": \"" + binary
                        + "\" must be a relative path inside the artifact (no '..', no leading '/')");
            }
        }
    }

    private static Optional<ArtifactRef> artifact(JsonObject parent, String path, boolean strict,
                                                  List<String> warnings) throws InvalidDocumentException {
        JsonElement e = parent.get("artifact");
        if (e == null || e.isJsonNull()) {
            return Optional.empty();
        }
        JsonObject o = object(e, path);
        checkFields(o, path + ".", ARTIFACT_FIELDS, strict, warnings);
        String url = requiredString(o, "url", path);
        if (!(url.startsWith("file:") || url.startsWith("https:"))) {
            throw new InvalidDocumentException(path + ".url: \"" + url + "\" must be a file: or https: URL");
        }
        String sha = requiredString(o, "sha256", path).toLowerCase(java.util.Locale.ROOT);
        if (!SHA256.matcher(sha).matches()) {
            throw new InvalidDocumentException(path + ".sha256: \"" + sha + "\" is not 64 hex digits");
        }
        String signature = optionalString(o, "signature", path + ".signature").orElse("");
        if (!signature.isBlank()) {
            // checked here, not first at staging: the document is refused before anything happens
            Optional<String> bad = signatureProblem(signature.strip());
            if (bad.isPresent()) {
                throw new InvalidDocumentException(path + ".signature: " + bad.get());
            }
        }
        Optional<String> key = optionalString(o, "key", path + ".key");
        if (key.isPresent() && !KEY_ID.matcher(key.get()).matches()) {
            throw new InvalidDocumentException(path + ".key: \"" + key.get() + "\" is not a valid key id");
        }
        return Optional.of(new ArtifactRef(url, sha, signature, key));
    }

    /** What is wrong with a base64 Ed25519 signature (64 bytes), naming the first bad character; empty if nothing. */
    static Optional<String> signatureProblem(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean base64 = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
                    || c == '=';
            if (!base64) {
                return Optional.of("'" + (Character.isISOControl(c) || Character.isWhitespace(c)
                        ? String.format("\\u%04x", (int) c) : String.valueOf(c)) + "' at position " + (i + 1)
                        + " is not a base64 character");
            }
        }
        byte[] bytes;
        try {
            bytes = java.util.Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            return Optional.of("is not valid base64 (" + e.getMessage() + ")");
        }
        return bytes.length == 64 ? Optional.empty()
                : Optional.of("decodes to " + bytes.length + " bytes; an Ed25519 signature is 64");
    }

    private static Resources resources(JsonObject parent, String path, boolean strict, List<String> warnings)
            throws InvalidDocumentException {
        JsonElement e = parent.get("resources");
        if (e == null || e.isJsonNull()) {
            return Resources.NONE;
        }
        JsonObject o = object(e, path);
        checkFields(o, path + ".", RESOURCE_FIELDS, strict, warnings);
        OptionalDouble cpu = OptionalDouble.empty();
        JsonElement c = o.get("cpu_max_percent");
        if (c != null && !c.isJsonNull()) {
            double v = number(c, path + ".cpu_max_percent").doubleValue();
            if (!(v > 0 && v <= 100_000)) {
                throw new InvalidDocumentException(path + ".cpu_max_percent: " + c + " must be above 0");
            }
            cpu = OptionalDouble.of(v);
        }
        return new Resources(cpu, positiveLong(o, "memory_max_bytes", path), positiveLong(o, "tasks_max", path));
    }

    private static String config(JsonObject parent, String path) throws InvalidDocumentException {
        JsonElement e = parent.get("config");
        if (e == null || e.isJsonNull()) {
            return "{}";
        }
        return canonical(object(e, path)).toString();
    }

    private static AddonId addonId(String value, String path) throws InvalidDocumentException {
        if (!AddonId.isValid(value)) {
            throw new InvalidDocumentException(path + ": \"" + value + "\" is not a valid add-on id"
                    + " (lower-case letters, digits, _ and -, at most 63, starting with a letter or digit)");
        }
        return new AddonId(value);
    }

    private static boolean inheritsBlank(JsonElement e) {
        return e.isJsonNull()
                || (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() && e.getAsString().isEmpty())
                || (e.isJsonArray() && e.getAsJsonArray().isEmpty());
    }

}
