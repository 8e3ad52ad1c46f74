package io.steward.source.signed;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import io.steward.delivery.trust.Ed25519;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One signed assignment value, exactly as a remote source carries it:
 * {@code {"format":"steward-assignment-v1","host":H,"serial":N,"document":TEXT,"key":K,"signature":S}}.
 * The signature is Ed25519 over {@link #statement()}, so {@code openssl pkeyutl -sign -rawin} makes one.
 * Parsing is strict: every field required, no other field, {@code serial} a whole number from 1 to 2^53.
 *
 * @param host      the host id the document is for
 * @param serial    increases with every document published for the host
 * @param document  the assignment document's JSON text
 * @param key       the trust-store key id that signed it
 * @param signature base64 of the 64-byte Ed25519 signature
 */
public record SignedAssignment(String host, long serial, String document, String key, String signature) {
    public static final String FORMAT = "steward-assignment-v1";
    /** JSON numbers are doubles for most tools: a serial stays exact up to here. */
    public static final long MAX_SERIAL = 1L << 53;
    private static final com.google.gson.TypeAdapter<JsonElement> ELEMENTS = new com.google.gson.Gson().getAdapter(JsonElement.class);
    private static final Set<String> FIELDS = Set.of("format", "host", "serial", "document", "key", "signature");
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9_-]{1,128}");
    private static final Pattern KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    public SignedAssignment {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(document, "document");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(signature, "signature");
    }

    /** Whether {@code id} can be a host id: it becomes a NATS subject token and a key, so no dots or wildcards. */
    public static boolean validHostId(String id) {
        return id != null && HOST.matcher(id).matches();
    }

    /** The UTF-8 bytes the signature covers. */
    public byte[] statement() {
        return statement(host, serial, documentSha256());
    }

    static byte[] statement(String host, long serial, String sha256) {
        return (FORMAT + "\n" + host + "\n" + serial + "\n" + sha256 + "\n").getBytes(StandardCharsets.UTF_8);
    }

    /** SHA-256 (hex) of the document's UTF-8 bytes. */
    public String documentSha256() {
        return sha256(document.getBytes(StandardCharsets.UTF_8));
    }

    /** Signs {@code document} for {@code host} at {@code serial} with {@code privateKey}, trusted as {@code keyId}. */
    public static SignedAssignment sign(String host, long serial, String document, String keyId, PrivateKey privateKey) {
        if (!validHostId(host) || serial < 1 || serial > MAX_SERIAL || !KEY.matcher(keyId).matches()) {
            throw new IllegalArgumentException("host, serial or key id out of range: " + host + ", " + serial + ", " + keyId);
        }
        byte[] sig = Ed25519.sign(privateKey, statement(host, serial, sha256(document.getBytes(StandardCharsets.UTF_8))));
        return new SignedAssignment(host, serial, document, keyId, Base64.getEncoder().encodeToString(sig));
    }

    /** The value's JSON text (fields in the documented order). */
    public String toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("format", FORMAT);
        o.addProperty("host", host);
        o.addProperty("serial", serial);
        o.addProperty("document", document);
        o.addProperty("key", key);
        o.addProperty("signature", signature);
        return o.toString();
    }

    /**
     * Reads a value; checks its shape only, not its signature ({@link SignedDocumentGate} does).
     *
     * @throws RefusedValueException naming the first thing wrong with it
     */
    public static SignedAssignment parse(byte[] value, int maxBytes) throws RefusedValueException {
        if (value == null || value.length == 0) {
            throw new RefusedValueException("the value is empty");
        }
        if (value.length > maxBytes) {
            throw new RefusedValueException("the value is " + value.length + " bytes, more than the limit of " + maxBytes);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(value)).toString();
        } catch (CharacterCodingException e) {
            throw new RefusedValueException("the value is not UTF-8 text");
        }
        JsonObject o;
        try {
            JsonReader reader = new JsonReader(new StringReader(text));
            reader.setStrictness(Strictness.STRICT);
            // the adapter, not JsonParser.parseReader: that one reads leniently whatever the reader says
            JsonElement e = ELEMENTS.read(reader);
            if (reader.peek() != com.google.gson.stream.JsonToken.END_DOCUMENT) {
                throw new RefusedValueException("the value has data after its JSON object");
            }
            if (!e.isJsonObject()) {
                throw new RefusedValueException("the value is not a JSON object");
            }
            o = e.getAsJsonObject();
        } catch (JsonParseException | IOException | IllegalStateException e) {
            throw new RefusedValueException("the value is not valid JSON (" + firstLine(e.getMessage()) + ")");
        }
        for (String name : o.keySet()) {
            if (!FIELDS.contains(name)) {
                throw new RefusedValueException("the value has an unknown field '" + name + "'");
            }
        }
        String format = string(o, "format");
        if (!format.equals(FORMAT)) {
            throw new RefusedValueException("the value's format is '" + format + "', not " + FORMAT);
        }
        String host = string(o, "host");
        if (!validHostId(host)) {
            throw new RefusedValueException("the value's host '" + host + "' is not a valid host id");
        }
        long serial = serial(o);
        String document = string(o, "document");
        String key = string(o, "key");
        if (!KEY.matcher(key).matches()) {
            throw new RefusedValueException("the value's key '" + key + "' is not a valid key id");
        }
        String signature = string(o, "signature");
        byte[] sig;
        try {
            sig = Base64.getDecoder().decode(signature);
        } catch (IllegalArgumentException e) {
            throw new RefusedValueException("the value's signature is not base64");
        }
        if (sig.length != Ed25519.SIGNATURE_BYTES) {
            throw new RefusedValueException("the value's signature is " + sig.length + " bytes, an Ed25519 signature is 64");
        }
        return new SignedAssignment(host, serial, document, key, signature);
    }

    private static String string(JsonObject o, String name) throws RefusedValueException {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            throw new RefusedValueException("the value has no '" + name + "' (it is not signed as " + FORMAT + ")");
        }
        if (!(e instanceof JsonPrimitive p) || !p.isString()) {
            throw new RefusedValueException("the value's '" + name + "' is not a string");
        }
        return p.getAsString();
    }

    private static long serial(JsonObject o) throws RefusedValueException {
        JsonElement e = o.get("serial");
        if (e == null || e.isJsonNull()) {
            throw new RefusedValueException("the value has no 'serial'");
        }
        if (!(e instanceof JsonPrimitive p) || !p.isNumber()) {
            throw new RefusedValueException("the value's serial is not a number");
        }
        BigDecimal d;
        try {
            d = new BigDecimal(p.getAsString());
        } catch (NumberFormatException ex) {
            throw new RefusedValueException("the value's serial is not a number");
        }
        if (d.signum() <= 0 || d.stripTrailingZeros().scale() > 0 || d.compareTo(BigDecimal.valueOf(MAX_SERIAL)) > 0) {
            throw new RefusedValueException("the value's serial " + p.getAsString() + " is not a whole number from 1 to 2^53");
        }
        return d.longValueExact();
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    private static String firstLine(String s) {
        return s == null ? "malformed" : s.lines().findFirst().orElse("malformed");
    }
}
