package io.steward.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.AssignmentCodec.Parsed;
import io.steward.supervision.AssignmentDocument;
import io.steward.supervision.InvalidDocumentException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;

/**
 * Jazzer target: the assignment document codec and the local override merge ({@link GsonAssignmentCodec};
 * docs/testing.md "Fuzzing"). The input is a document, optionally followed by a NUL byte and a local override.
 * <p>
 * Oracle: {@code parse} and {@code applyOverride} throw nothing but the documented refusal,
 * {@link InvalidDocumentException}, whose message is one line; a document the strict parser accepts is accepted
 * by the lenient one without warnings and is equal; parse ∘ render is the identity (the document rendered from
 * {@code toJson} of its assignments parses to an equal document, {@code fromJson(toJson(a))} equals {@code a} and
 * fingerprints agree); a refused override changes nothing (the document is still what it was), and an accepted
 * one leaves every add-on it does not name as it was and is itself render-stable.
 */
class AssignmentCodecFuzzTest {
    private static final AtomicLong EXECUTIONS = new AtomicLong();
    private final GsonAssignmentCodec codec = new GsonAssignmentCodec();

    @FuzzTest
    @DictionaryEntries({"\"revision\"", "\"addons\"", "\"id\"", "\"version\"", "\"enabled\"", "\"supervision\"",
        "\"delivery\"", "\"artifact\"", "\"url\"", "\"sha256\"", "\"signature\"", "\"key\"", "\"binary\"", "\"args\"",
        "\"env\"", "\"config\"", "\"capabilities\"", "\"resources\"", "\"cpu_max_percent\"", "\"memory_max_bytes\"",
        "\"tasks_max\"", "\"sidecar\"", "\"agent_sidecar\"", "\"systemd_service\"", "\"config_toggle\"",
        "\"pushed_artifact\"", "\"compiled_in\"", "\"os_package\"", "null", "true", "false", "\"\"", "\"..\"",
        "1e400", "1e99999", "-0", "\\u0000"})
    void codecRefusesCleanlyAndRendersStably(byte[] input) throws InvalidDocumentException {
        EXECUTIONS.incrementAndGet();
        int nul = indexOf(input, (byte) 0);
        String documentText = new String(input, 0, nul < 0 ? input.length : nul, StandardCharsets.UTF_8);
        AssignmentDocument document;
        try {
            document = codec.parse(documentText, true).document();
        } catch (InvalidDocumentException e) {
            assertOneLine(e);
            try {
                codec.parse(documentText, false);
            } catch (InvalidDocumentException lenient) {
                assertOneLine(lenient);
            }
            return;
        }
        Parsed lenient = codec.parse(documentText, false);
        assertEquals(document, lenient.document(), "strict and lenient agree on an accepted document");
        assertEquals(java.util.List.of(), lenient.warnings());
        assertRenderStable(document);
        if (nul < 0) {
            return;
        }
        String overrideText = new String(input, nul + 1, input.length - nul - 1, StandardCharsets.UTF_8);
        String before = render(document);
        Parsed merged;
        try {
            merged = codec.applyOverride(document, overrideText);
        } catch (InvalidDocumentException e) {
            assertOneLine(e);
            assertEquals(before, render(document), "a refused override changes nothing");
            return;
        }
        assertEquals(before, render(document), "the merge does not touch its input");
        AssignmentDocument result = merged.document();
        assertEquals(document.revision(), result.revision());
        Set<AddonId> named = named(overrideText);
        for (Assignment a : document.addons()) {
            if (!named.contains(a.id())) {
                assertEquals(a, result.addons().stream().filter(b -> b.id().equals(a.id())).findFirst().orElseThrow(),
                        "an add-on the override does not name is unchanged");
            }
        }
        assertRenderStable(result);
    }

    private void assertRenderStable(AssignmentDocument document) throws InvalidDocumentException {
        for (Assignment a : document.addons()) {
            Assignment again = codec.fromJson(codec.toJson(a));
            assertEquals(a, again, "fromJson(toJson(a)) == a");
            assertEquals(codec.fingerprint(a), codec.fingerprint(again));
        }
        assertEquals(document, codec.parse(render(document), true).document(), "parse(render(d)) == d");
    }

    private String render(AssignmentDocument d) {
        JsonObject o = new JsonObject();
        o.addProperty("revision", d.revision());
        JsonArray addons = new JsonArray();
        d.addons().forEach(a -> addons.add(codec.toJson(a)));
        o.add("addons", addons);
        return o.toString();
    }

    /** The ids an override names (any entry whose "id" is a valid id string may have changed that add-on). */
    private static Set<AddonId> named(String overrideText) {
        Set<AddonId> ids = new HashSet<>();
        for (var e : com.google.gson.JsonParser.parseString(overrideText).getAsJsonObject().getAsJsonArray("addons")) {
            var id = e.getAsJsonObject().get("id");
            if (id != null && id.isJsonPrimitive() && id.getAsJsonPrimitive().isString()
                    && AddonId.isValid(id.getAsString())) {
                ids.add(new AddonId(id.getAsString()));
            }
        }
        return ids;
    }

    private static void assertOneLine(InvalidDocumentException e) {
        String m = e.getMessage();
        assertTrue(m != null && !m.isBlank(), "a refusal says why");
        assertFalse(m.contains("\n") || m.contains("\r"), "a refusal is one line: " + m);
    }

    private static int indexOf(byte[] b, byte x) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] == x) {
                return i;
            }
        }
        return -1;
    }

    @AfterAll
    static void report() {
        System.out.println("fuzz: AssignmentCodecFuzzTest " + EXECUTIONS.get() + " executions");
    }
}
