package io.steward.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.AssignmentCodec.Parsed;
import io.steward.supervision.AssignmentDocument;
import io.steward.supervision.InvalidDocumentException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GsonAssignmentCodecTest {
    private final GsonAssignmentCodec codec = new GsonAssignmentCodec();

    static String doc(String addons) {
        return "{\"revision\":\"r1\",\"addons\":[" + addons + "]}";
    }

    static String toggle(String id, String version) {
        return "{\"id\":\"" + id + "\",\"version\":\"" + version + "\",\"supervision\":\"config_toggle\","
                + "\"capabilities\":[\"flow-export\"],\"config\":{\"b\":1,\"a\":{\"y\":2,\"x\":1}}}";
    }

    static final String SIDECAR = "{\"id\":\"netprobe\",\"version\":\"1.4.0\",\"supervision\":\"agent_sidecar\","
            + "\"artifact\":{\"url\":\"file:///srv/netprobe.tar.gz\",\"sha256\":\"" + "AB".repeat(32) + "\","
            + "\"signature\":\"" + "A".repeat(86) + "==\",\"key\":\"release-2026\"},\"binary\":\"bin/netprobe\",\"args\":[\"-v\"],"
            + "\"env\":{\"LOG_LEVEL\":\"info\"},\"resources\":{\"cpu_max_percent\":50,\"memory_max_bytes\":268435456,"
            + "\"tasks_max\":64}}";

    @Test
    void parsesAFullDocument() throws Exception {
        Parsed p = codec.parse(doc(toggle("flow-export", "1.0.0") + "," + SIDECAR), true);
        AssignmentDocument d = p.document();
        assertEquals("r1", d.revision());
        assertEquals(2, d.addons().size());
        Assignment toggle = d.addons().get(0);
        assertEquals("compiled_in", toggle.delivery());
        assertTrue(toggle.enabled());
        assertEquals("{\"a\":{\"x\":1,\"y\":2},\"b\":1}", toggle.configJson(), "config is canonical (sorted keys)");
        Assignment sidecar = d.addons().get(1);
        assertEquals("sidecar", sidecar.kind(), "agent_sidecar is an alias of sidecar");
        assertEquals("pushed_artifact", sidecar.delivery());
        assertEquals("ab".repeat(32), sidecar.artifact().orElseThrow().sha256(), "digest is lower-cased");
        assertEquals(64L, sidecar.resources().tasksMax().getAsLong());
        assertTrue(p.warnings().isEmpty());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "traversal id | {\"id\":\"../x\",\"version\":\"1\",\"supervision\":\"sidecar\"} | addons[0].id: \"../x\" is not a valid add-on id",
        "upper-case id | {\"id\":\"Net\",\"version\":\"1\",\"supervision\":\"sidecar\"} | addons[0].id: \"Net\" is not a valid add-on id",
        "missing id | {\"version\":\"1\",\"supervision\":\"sidecar\"} | addons[0].id: is required",
        "slash version | {\"id\":\"a\",\"version\":\"1/../2\",\"supervision\":\"config_toggle\"} | addons[0].version: \"1/../2\" is not a valid version",
        "dot version | {\"id\":\"a\",\"version\":\"..\",\"supervision\":\"config_toggle\"} | addons[0].version: \"..\" is not a valid version",
        "enabled string | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"config_toggle\",\"enabled\":\"yes\"} | addons[0].enabled: expected true or false, got \"yes\"",
        "unknown field | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"config_toggle\",\"colour\":1} | addons[0].colour: unknown field",
        "bad delivery | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"config_toggle\",\"delivery\":\"ftp\"} | addons[0].delivery: \"ftp\" is not one of",
        "pushed without artifact | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"sidecar\",\"delivery\":\"pushed_artifact\"} | addons[0].artifact: is required",
        "short sha | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"sidecar\",\"artifact\":{\"url\":\"file:///a\",\"sha256\":\"abc\"}} | addons[0].artifact.sha256: \"abc\" is not 64 hex digits",
        "http url | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"sidecar\",\"artifact\":{\"url\":\"http://x/a\",\"sha256\":\"" + "0000000000000000000000000000000000000000000000000000000000000000" + "\"}} | addons[0].artifact.url: \"http://x/a\" must be a file: or https: URL",
        "binary traversal | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"config_toggle\",\"binary\":\"../../bin/sh\"} | addons[0].binary: \"../../bin/sh\" must be a relative path",
        "os_package relative | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"sidecar\",\"delivery\":\"os_package\",\"binary\":\"bin/x\"} | addons[0].binary: \"bin/x\" must be an absolute",
        "env name | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"config_toggle\",\"env\":{\"A-B\":\"x\"}} | addons[0].env.A-B: \"A-B\" is not a valid variable name",
        "config array | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"config_toggle\",\"config\":[1]} | addons[0].config: expected an object, got an array",
        "negative memory | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"config_toggle\",\"resources\":{\"memory_max_bytes\":-1}} | addons[0].resources.memory_max_bytes: -1 must be a positive whole number",
        "number beyond gson's limits | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"config_toggle\",\"resources\":{\"memory_max_bytes\":2684315e454006}} | addons[0].resources.memory_max_bytes: the number is out of range",
        "kind name | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"Systemd Service\"} | addons[0].supervision: \"Systemd Service\" is not a valid kind name",
        "signature character | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"sidecar\",\"artifact\":{\"url\":\"file:///a\",\"sha256\":\"" + "0000000000000000000000000000000000000000000000000000000000000000" + "\",\"signature\":\"abc-def\"}} | addons[0].artifact.signature: '-' at position 4 is not a base64 character",
        "signature length | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"sidecar\",\"artifact\":{\"url\":\"file:///a\",\"sha256\":\"" + "0000000000000000000000000000000000000000000000000000000000000000" + "\",\"signature\":\"c2ln\"}} | addons[0].artifact.signature: decodes to 3 bytes; an Ed25519 signature is 64",
        "duplicate capability | {\"id\":\"a\",\"version\":\"1\",\"supervision\":\"config_toggle\",\"capabilities\":[\"x\",\"x\"]} | addons[0].capabilities: lists a capability twice",
    })
    void refusesWithThePathAndTheRule(String name, String addon, String expected) {
        InvalidDocumentException e = assertThrows(InvalidDocumentException.class, () -> codec.parse(doc(addon), true));
        assertTrue(e.getMessage().startsWith(expected), () -> "message was: " + e.getMessage());
    }

    @Test
    void refusesDuplicateIdsNamingBothPlaces() {
        InvalidDocumentException e = assertThrows(InvalidDocumentException.class,
                () -> codec.parse(doc(toggle("a", "1") + "," + toggle("b", "1") + "," + toggle("a", "2")), true));
        assertEquals("addons[2].id: \"a\" is assigned twice (first at addons[0])", e.getMessage());
    }

    @Test
    void refusesMalformedJsonAndTrailingText() {
        assertTrue(assertThrows(InvalidDocumentException.class, () -> codec.parse("{\"addons\":[", true))
                .getMessage().startsWith("$: document is not valid JSON"));
        assertTrue(assertThrows(InvalidDocumentException.class, () -> codec.parse("{} {}", true))
                .getMessage().startsWith("$: document"));
        assertEquals("$: document must be a JSON object",
                assertThrows(InvalidDocumentException.class, () -> codec.parse("[]", true)).getMessage());
    }

    /** Found by AssignmentCodecFuzzTest (corpus: crash-newline-in-a-field-name): a refusal was two lines. */
    @Test
    void refusalsAndWarningsQuotingTheDocumentStayOneLine() throws Exception {
        String doc = doc("{\"id\":\"a\",\"version\":\"1\",\"supervision\":\"config_toggle\",\"\\nabled\":1}");
        assertEquals("addons[0].\\u000aabled: unknown field",
                assertThrows(InvalidDocumentException.class, () -> codec.parse(doc, true)).getMessage());
        assertEquals(List.of("addons[0].\\u000aabled: unknown field ignored"), codec.parse(doc, false).warnings());
        assertEquals("addons[0].id: \"a\\u2028b\" is not a valid add-on id (lower-case letters, digits, _ and -, at "
                + "most 63, starting with a letter or digit)", assertThrows(InvalidDocumentException.class,
                () -> codec.applyOverride(AssignmentDocument.EMPTY, "{\"addons\":[{\"id\":\"a\u2028b\"}]}")).getMessage());
    }

    @Test
    void lenientModeWarnsAboutUnknownFields() throws Exception {
        Parsed p = codec.parse("{\"addons\":[], \"extra\": true}", false);
        assertEquals(1, p.warnings().size());
        assertEquals("extra: unknown field ignored", p.warnings().get(0));
        assertThrows(InvalidDocumentException.class, () -> codec.parse("{\"addons\":[], \"extra\": true}", true));
    }

    @Test
    void overridePatchesOnlyTheFieldsItSetsAndAppendsNewEntries() throws Exception {
        AssignmentDocument base = codec.parse(doc(toggle("a", "1.0") + "," + toggle("b", "1.0")), true).document();
        String override = "{\"addons\":[{\"id\":\"a\",\"version\":\"1.1\",\"capabilities\":[]},"
                + "{\"id\":\"b\",\"enabled\":false},{\"id\":\"\"},"
                + toggle("c", "3.0") + "]}";
        Parsed p = codec.applyOverride(base, override);
        AssignmentDocument merged = p.document();
        assertEquals(3, merged.addons().size());
        Assignment a = merged.find(new AddonId("a")).orElseThrow();
        assertEquals("1.1", a.version());
        assertEquals(java.util.List.of("flow-export"), a.capabilities(), "an empty list inherits");
        assertFalse(merged.find(new AddonId("b")).orElseThrow().enabled());
        assertTrue(merged.find(new AddonId("c")).orElseThrow().enabled(), "a new entry defaults to enabled");
        assertEquals(1, p.warnings().size(), "the entry without an id is ignored with a warning");
    }

    @Test
    void malformedOverrideIsAnError() throws Exception {
        AssignmentDocument base = codec.parse(doc(toggle("a", "1.0")), true).document();
        assertThrows(InvalidDocumentException.class, () -> codec.applyOverride(base, "{\"addons\":[{\"id\":\"../a\"}]}"));
        assertThrows(InvalidDocumentException.class, () -> codec.applyOverride(base, "not json"));
        assertThrows(InvalidDocumentException.class,
                () -> codec.applyOverride(base, "{\"addons\":[{\"id\":\"new\",\"version\":\"1\"}]}"),
                "a new entry must be complete");
    }

    @Test
    void fingerprintChangesWithAnyFieldAndRoundTripsThroughJson() throws Exception {
        Assignment a = codec.parse(doc(SIDECAR), true).document().addons().get(0);
        assertEquals(codec.fingerprint(a), codec.fingerprint(codec.fromJson(codec.toJson(a))));
        assertEquals(a, codec.fromJson(codec.toJson(a)));
        Assignment other = codec.parse(doc(SIDECAR.replace("\"-v\"", "\"-vv\"")), true).document().addons().get(0);
        assertNotEquals(codec.fingerprint(a), codec.fingerprint(other));
        assertNotEquals(codec.fingerprint(a), codec.fingerprint(a.withEnabled(false)));
    }
}
