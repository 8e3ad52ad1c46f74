package io.steward.supervision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The id and version rules of PRODUCT §2: both become path segments on the host. */
class AddonIdAndVersionsTest {
    private static final String ID_63 = "a" + "b".repeat(62);
    private static final String VERSION_128 = "1" + "0".repeat(127);

    @Test
    void idsThatAreSafePathSegmentsAreAccepted() {
        for (String ok : List.of("a", "0", "flow-export", "net_probe2", "9-lives", ID_63)) {
            assertTrue(AddonId.isValid(ok), ok);
            assertEquals(ok, new AddonId(ok).value());
            assertEquals(ok, new AddonId(ok).toString(), "logs and the shell print the bare id");
        }
    }

    @Test
    void anythingElseIsRefusedWithOneSentenceNamingTheValue() {
        for (String bad : List.of("", "../x", "-x", "_x", "Flow", "a b", "a/b", "a.b", "é", ID_63 + "c", "x\n")) {
            assertFalse(AddonId.isValid(bad), bad);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new AddonId(bad));
            assertEquals("\"" + bad + "\" is not a valid add-on id", e.getMessage());
        }
        assertFalse(AddonId.isValid(null));
        assertEquals("\"null\" is not a valid add-on id",
                assertThrows(IllegalArgumentException.class, () -> new AddonId(null)).getMessage());
    }

    @Test
    void idsCompareByValueAndOrderLexically() {
        assertEquals(new AddonId("x"), new AddonId("x"));
        TreeSet<AddonId> sorted = new TreeSet<>(List.of(new AddonId("b"), new AddonId("a-1"), new AddonId("a")));
        assertEquals(List.of("a", "a-1", "b"), sorted.stream().map(AddonId::value).toList());
    }

    @Test
    void versionsMayUseDotsPlusAndCaseButMustStartWithALetterOrDigit() {
        for (String ok : List.of("1", "1.0.0", "2.0.0-rc.1", "1.0+build.7", "V2", "2026_12", VERSION_128)) {
            assertTrue(Versions.isValid(ok), ok);
        }
        for (String bad : List.of("", ".", "..", ".1", "-1", "+1", "1/2", "1 0", "1\u00e9", VERSION_128 + "0")) {
            assertFalse(Versions.isValid(bad), bad);
        }
        assertFalse(Versions.isValid(null));
    }
}
