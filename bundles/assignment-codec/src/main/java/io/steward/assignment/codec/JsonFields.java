package io.steward.assignment.codec;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import io.steward.supervision.InvalidDocumentException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Typed reads of a gson tree, each refusal naming the JSON path, what was expected and what was there
 * ({@code addons[0].enabled: expected true or false, got "yes"}). Why not gson's record binding: it reports
 * {@code Expected BOOLEAN but was STRING at path $.addons[0].enabled}, takes unknown fields silently and cannot say
 * "is required"; the document's contract (PRODUCT §2) is these sentences. Stateless.
 */
final class JsonFields {

    static final int MAX_DOCUMENT_CHARS = 16 * 1024 * 1024;

    private JsonFields() {
    }

    static OptionalLong positiveLong(JsonObject o, String field, String path) throws InvalidDocumentException {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return OptionalLong.empty();
        }
        Number n = number(e, path + "." + field);
        long v = n.longValue();
        if (v <= 0 || v != n.doubleValue()) {
            throw new InvalidDocumentException(path + "." + field + ": " + e + " must be a positive whole number");
        }
        return OptionalLong.of(v);
    }

    /** Sorts object keys recursively so that equal configs have equal text (and fingerprints). */
    static JsonElement canonical(JsonElement e) {
        if (e.isJsonObject()) {
            JsonObject sorted = new JsonObject();
            new TreeMap<>(e.getAsJsonObject().asMap()).forEach((k, v) -> sorted.add(k, canonical(v)));
            return sorted;
        }
        if (e.isJsonArray()) {
            JsonArray copy = new JsonArray();
            e.getAsJsonArray().forEach(v -> copy.add(canonical(v)));
            return copy;
        }
        return e;
    }

    static JsonObject rootObject(String json, String what) throws InvalidDocumentException {
        if (json.length() > MAX_DOCUMENT_CHARS) {
            throw new InvalidDocumentException(what + ": larger than " + MAX_DOCUMENT_CHARS + " characters");
        }
        JsonElement root;
        try {
            JsonReader reader = new JsonReader(new StringReader(json));
            reader.setStrictness(Strictness.STRICT);
            root = JsonParser.parseReader(reader);
            if (reader.peek() != com.google.gson.stream.JsonToken.END_DOCUMENT) {
                throw new InvalidDocumentException("$: " + what + " has text after the JSON value");
            }
        } catch (JsonParseException | java.io.IOException | IllegalStateException e) {
            throw new InvalidDocumentException("$: " + what + " is not valid JSON (" + rootCause(e) + ")", e);
        }
        if (!root.isJsonObject()) {
            throw new InvalidDocumentException("$: " + what + " must be a JSON object");
        }
        return root.getAsJsonObject();
    }

    static String rootCause(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        int see = message.indexOf("\nSee ");
        return see > 0 ? message.substring(0, see) : message;
    }

    static void checkFields(JsonObject o, String prefix, Set<String> known, boolean strict,
                                    List<String> warnings) throws InvalidDocumentException {
        for (String field : o.keySet()) {
            if (!known.contains(field)) {
                String message = prefix + field + ": unknown field";
                if (strict) {
                    throw new InvalidDocumentException(message);
                }
                warnings.add(message + " ignored");
            }
        }
    }

    static JsonObject object(JsonElement e, String path) throws InvalidDocumentException {
        if (e == null || !e.isJsonObject()) {
            throw new InvalidDocumentException(path + ": expected an object, got " + describe(e));
        }
        return e.getAsJsonObject();
    }

    static String requiredString(JsonObject o, String field, String path) throws InvalidDocumentException {
        return optionalString(o, field, path + "." + field)
                .orElseThrow(() -> new InvalidDocumentException(path + "." + field + ": is required"));
    }

    static Optional<String> optionalString(JsonObject o, String field, String path)
            throws InvalidDocumentException {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return Optional.empty();
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new InvalidDocumentException(path + ": expected a string, got " + describe(e));
        }
        return Optional.of(e.getAsString());
    }

    static Optional<Boolean> optionalBoolean(JsonObject o, String field, String path)
            throws InvalidDocumentException {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return Optional.empty();
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new InvalidDocumentException(path + ": expected true or false, got " + describe(e));
        }
        return Optional.of(e.getAsBoolean());
    }

    static Optional<JsonArray> optionalArray(JsonObject o, String field, String path)
            throws InvalidDocumentException {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return Optional.empty();
        }
        if (!e.isJsonArray()) {
            throw new InvalidDocumentException(path + ": expected an array, got " + describe(e));
        }
        return Optional.of(e.getAsJsonArray());
    }

    static Number number(JsonElement e, String path) throws InvalidDocumentException {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new InvalidDocumentException(path + ": expected a number, got " + describe(e));
        }
        try {
            return e.getAsBigDecimal();
        } catch (NumberFormatException tooLarge) {     // gson refuses exponents of 10,000 and more
            throw new InvalidDocumentException(path + ": the number is out of range");
        }
    }

    static List<String> stringList(JsonObject o, String field, String path, Pattern rule)
            throws InvalidDocumentException {
        Optional<JsonArray> array = optionalArray(o, field, path);
        List<String> values = new ArrayList<>();
        if (array.isPresent()) {
            for (int i = 0; i < array.get().size(); i++) {
                JsonElement e = array.get().get(i);
                String at = path + "[" + i + "]";
                if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                    throw new InvalidDocumentException(at + ": expected a string, got " + describe(e));
                }
                String v = e.getAsString();
                if (v.indexOf('\0') >= 0 || (rule != null && !rule.matcher(v).matches())) {
                    throw new InvalidDocumentException(at + ": \"" + v + "\" is not allowed here");
                }
                values.add(v);
            }
        }
        return values;
    }

    static Map<String, String> stringMap(JsonObject o, String field, String path, Pattern names)
            throws InvalidDocumentException {
        JsonElement e = o.get(field);
        Map<String, String> values = new TreeMap<>();
        if (e == null || e.isJsonNull()) {
            return values;
        }
        for (Map.Entry<String, JsonElement> entry : object(e, path).entrySet()) {
            String at = path + "." + entry.getKey();
            if (!names.matcher(entry.getKey()).matches()) {
                throw new InvalidDocumentException(at + ": \"" + entry.getKey() + "\" is not a valid variable name");
            }
            JsonElement v = entry.getValue();
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString() || v.getAsString().indexOf('\0') >= 0) {
                throw new InvalidDocumentException(at + ": expected a string, got " + describe(v));
            }
            values.put(entry.getKey(), v.getAsString());
        }
        return values;
    }

    static String describe(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return "null";
        }
        if (e.isJsonObject()) {
            return "an object";
        }
        if (e.isJsonArray()) {
            return "an array";
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        String text = p.toString();
        return text.length() > 40 ? text.substring(0, 40) + "…" : text;
    }
}
