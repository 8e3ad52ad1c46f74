package io.steward.supervision.sidecar.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Files2Test {
    @TempDir
    Path dir;

    @Test
    void nestedObjectsMergeKeyByKey() {   // upstream gap 23: the merge was shallow
        JsonObject defaults = Files2.object("{\"log\":{\"level\":\"info\",\"format\":\"json\"},\"ports\":[1,2],"
                + "\"probe\":{\"interval\":30,\"targets\":{\"a\":1}},\"gone\":true}", "defaults");
        JsonObject override = Files2.object("{\"log\":{\"level\":\"debug\"},\"ports\":[3],"
                + "\"probe\":{\"targets\":{\"b\":2}},\"gone\":null,\"new\":{\"x\":null,\"y\":1}}", "override");
        JsonObject merged = Files2.mergeConfig(defaults, override);
        assertEquals(Files2.object("{\"log\":{\"level\":\"debug\",\"format\":\"json\"},\"ports\":[3],"
                + "\"probe\":{\"interval\":30,\"targets\":{\"a\":1,\"b\":2}},\"new\":{\"y\":1}}", "expected"), merged);
        assertEquals("info", defaults.getAsJsonObject("log").get("level").getAsString(), "inputs are not modified");
    }

    @Test
    void atomicWritesAreOwnerOnly() throws Exception {
        Path target = dir.resolve("sub/config.json");
        Files2.writeAtomically(target, "{}".getBytes());
        Files2.writeAtomically(target, "{\"a\":1}".getBytes());
        assertEquals("{\"a\":1}", Files.readString(target));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
        assertFalse(Files.exists(dir.resolve("sub/.config.json.tmp")));
    }

    @Test
    void rotationCopiesTruncatesAndKeepsN() throws Exception {
        Path log = dir.resolve("stdout.log");
        Files.writeString(log, "small");
        assertFalse(Files2.rotate(log, 1024, 2));
        for (int round = 1; round <= 3; round++) {
            Files.writeString(log, ("round " + round + "\n").repeat(300));
            assertTrue(Files2.rotate(log, 1024, 2));
            assertEquals(0, Files.size(log));
            assertTrue(Files.readString(dir.resolve("stdout.log.1")).startsWith("round " + round));
        }
        assertTrue(Files.readString(dir.resolve("stdout.log.2")).startsWith("round 2"));
        assertFalse(Files.exists(dir.resolve("stdout.log.3")));
    }
}
