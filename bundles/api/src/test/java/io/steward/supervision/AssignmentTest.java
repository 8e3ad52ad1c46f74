package io.steward.supervision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** Assignment, the document that holds them, and the resource limits. */
class AssignmentTest {
    static Assignment assignment(String id, String version) {
        return new Assignment(new AddonId(id), version, true, "sidecar", "compiled_in", Optional.empty(),
                Optional.empty(), List.of(), Map.of(), "{}", List.of(), Resources.NONE);
    }

    @Test
    void anInvalidVersionIsRefusedWithOneSentence() {
        for (String bad : List.of("", "../1", "1 0")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> assignment("x", bad));
            assertEquals("\"" + bad + "\" is not a valid version", e.getMessage());
        }
        assertEquals("\"null\" is not a valid version",
                assertThrows(IllegalArgumentException.class, () -> assignment("x", null)).getMessage());
    }

    @Test
    void collectionsAreCopiedSoTheCallerCannotChangeIt() {
        List<String> args = new ArrayList<>(List.of("-v"));
        Map<String, String> env = new HashMap<>(Map.of("A", "1"));
        List<String> caps = new ArrayList<>(List.of("cap_net_raw"));
        Assignment a = new Assignment(new AddonId("x"), "1", true, "sidecar", "compiled_in", Optional.empty(),
                Optional.of("run"), args, env, "{}", caps, Resources.NONE);
        args.add("-q");
        env.put("B", "2");
        caps.clear();
        assertEquals(List.of("-v"), a.args());
        assertEquals(Map.of("A", "1"), a.env());
        assertEquals(List.of("cap_net_raw"), a.capabilities());
        assertThrows(UnsupportedOperationException.class, () -> a.args().add("x"));
    }

    @Test
    void withEnabledChangesOnlyEnabled() {
        Assignment a = assignment("x", "1");
        Assignment off = a.withEnabled(false);
        assertFalse(off.enabled());
        assertNotEquals(a, off);
        assertEquals(a, off.withEnabled(true));
    }

    @Test
    void aDocumentAssignsEachIdOnceInDocumentOrder() {
        AssignmentDocument d = new AssignmentDocument("r1", List.of(assignment("b", "1"), assignment("a", "2")));
        assertEquals(List.of("b", "a"), d.addons().stream().map(x -> x.id().value()).toList());
        assertEquals("2", d.find(new AddonId("a")).orElseThrow().version());
        assertEquals(Optional.empty(), d.find(new AddonId("c")));
        assertTrue(AssignmentDocument.EMPTY.addons().isEmpty());
        assertEquals("", AssignmentDocument.EMPTY.revision());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new AssignmentDocument("r2", List.of(assignment("a", "1"), assignment("a", "2"))));
        assertEquals("add-on a is assigned twice", e.getMessage());
    }

    @Test
    void resourcesAreEmptyOnlyWithoutAnyLimit() {
        assertTrue(Resources.NONE.isEmpty());
        assertFalse(new Resources(OptionalDouble.of(50), OptionalLong.empty(), OptionalLong.empty()).isEmpty());
        assertFalse(new Resources(OptionalDouble.empty(), OptionalLong.of(1), OptionalLong.empty()).isEmpty());
        assertFalse(new Resources(OptionalDouble.empty(), OptionalLong.empty(), OptionalLong.of(8)).isEmpty());
    }
}
