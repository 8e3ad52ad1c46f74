package io.steward.delivery.artifacts;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import io.steward.delivery.AddonManifest;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.Versions;
import java.io.StringReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/** Parses {@code addon.json} (PRODUCT §3) and checks it against the artifact and the assignment. */
public final class Manifests {
    public static final String STEP = "manifest";
    private static final Gson GSON = new Gson();
    private static final Map<String, String> KIND_ALIASES = Map.of("agent_sidecar", "sidecar");

    private Manifests() {
    }

    /** Thrown with a cause that completes "addon.json …". */
    public static final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;

        public Invalid(String message) {
            super(message);
        }
    }

    public static AddonManifest parse(byte[] bytes) throws Invalid {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new Invalid("addon.json is not UTF-8");
        }
        JsonElement root;
        try {
            JsonReader reader = new JsonReader(new StringReader(text));
            reader.setStrictness(Strictness.STRICT);
            root = JsonParser.parseReader(reader);
        } catch (JsonParseException | StackOverflowError e) {
            String m = String.valueOf(e.getMessage());
            // gson prefixes the cause's class and appends a troubleshooting link
            m = m.replaceFirst("^[\\w.]+Exception: ", "").replaceFirst("(?s)\\s*See https://.*$", "")
                    .replaceFirst("Use JsonReader.setStrictness\\(Strictness.LENIENT\\) to accept malformed JSON ", "malformed JSON ");
            throw new Invalid("addon.json is not valid JSON (" + m + ")");
        }
        if (!root.isJsonObject()) {
            throw new Invalid("addon.json is not a JSON object");
        }
        JsonObject o = root.getAsJsonObject();
        String id = string(o, "id");
        String version = string(o, "version");
        String supervision = string(o, "supervision");
        String binary = string(o, "binary");
        if (!AddonId.isValid(id)) {
            throw new Invalid("addon.json id \"" + ArtifactReader.printable(id) + "\" is not a valid add-on id");
        }
        if (!Versions.isValid(version)) {
            throw new Invalid("addon.json version \"" + ArtifactReader.printable(version) + "\" is not a valid version");
        }
        try {
            if (!ArtifactReader.normalise(binary).equals(binary)) {
                throw new Invalid("addon.json binary \"" + ArtifactReader.printable(binary)
                        + "\" is not a plain relative path");
            }
        } catch (Streams.Refusal e) {
            throw new Invalid("addon.json binary \"" + ArtifactReader.printable(binary)
                    + "\" is not a plain relative path inside the artifact");
        }
        List<String> units = strings(o, "units");
        List<String> capabilities = strings(o, "capabilities");
        Optional<String> config = o.has("config") && !o.get("config").isJsonNull()
                ? Optional.of(string(o, "config")) : Optional.empty();
        Map<String, String> parameters = new TreeMap<>();
        for (Map.Entry<String, JsonElement> e : o.entrySet()) {
            if (!Set.of("id", "version", "supervision", "binary", "units", "capabilities", "config").contains(e.getKey())) {
                parameters.put(e.getKey(), GSON.toJson(e.getValue()));
            }
        }
        return new AddonManifest(id, version, supervision, binary, units, capabilities, config, parameters);
    }

    /**
     * The manifest must describe the assigned add-on (id, version, kind, binary) and every file it names
     * must be a regular file of the artifact.
     */
    public static void check(AddonManifest m, Assignment a, Set<String> files) throws Invalid {
        if (!m.id().equals(a.id().value())) {
            throw new Invalid("addon.json id \"" + m.id() + "\" does not match the assignment's \"" + a.id() + "\"");
        }
        if (!m.version().equals(a.version())) {
            throw new Invalid("addon.json version \"" + m.version() + "\" does not match the assignment's \""
                    + a.version() + "\"");
        }
        if (!canonicalKind(m.supervision()).equals(canonicalKind(a.kind()))) {
            throw new Invalid("addon.json supervision \"" + ArtifactReader.printable(m.supervision())
                    + "\" does not match the assignment's \"" + a.kind() + "\"");
        }
        if (a.binary().isPresent() && !a.binary().get().equals(m.binary())) {
            throw new Invalid("addon.json binary \"" + m.binary() + "\" does not match the assignment's \""
                    + a.binary().get() + "\"");
        }
        checkFiles(m, files);
    }

    /** Every file the manifest names is a regular file of the artifact. */
    public static void checkFiles(AddonManifest m, Set<String> files) throws Invalid {
        if (!files.contains(m.binary())) {
            throw new Invalid("the declared binary \"" + m.binary() + "\" is missing from the artifact");
        }
        for (String unit : m.units()) {
            if (!files.contains(unit)) {
                throw new Invalid("unit \"" + ArtifactReader.printable(unit) + "\" named in addon.json is missing from the artifact");
            }
        }
        if (m.config().isPresent() && !files.contains(m.config().get())) {
            throw new Invalid("config file \"" + ArtifactReader.printable(m.config().get())
                    + "\" named in addon.json is missing from the artifact");
        }
    }

    public static String canonicalKind(String kind) {
        return KIND_ALIASES.getOrDefault(kind, kind);
    }

    private static String string(JsonObject o, String field) throws Invalid {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            throw new Invalid("addon.json has no \"" + field + "\"");
        }
        if (!(e instanceof JsonPrimitive p) || !p.isString() || p.getAsString().isEmpty()) {
            throw new Invalid("addon.json \"" + field + "\" is not a non-empty string");
        }
        return p.getAsString();
    }

    private static List<String> strings(JsonObject o, String field) throws Invalid {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return List.of();
        }
        if (!(e instanceof JsonArray array)) {
            throw new Invalid("addon.json \"" + field + "\" is not an array of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonElement item : array) {
            if (!(item instanceof JsonPrimitive p) || !p.isString()) {
                throw new Invalid("addon.json \"" + field + "\" is not an array of strings");
            }
            out.add(p.getAsString());
        }
        return out;
    }
}
