package io.steward.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AuditTrail;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditLogTest {
    @TempDir
    Path dir;

    @Test
    void chainSurvivesReopeningAndDetectsEdits() throws Exception {
        AuditLog log = new AuditLog(dir, Clock.systemUTC());
        log.append("a", "install", "version 1");
        log.append("b", "install", "version 2");
        log = new AuditLog(dir, Clock.systemUTC());   // a restarted agent continues the chain
        log.append("a", "remove", "no longer assigned");

        AuditTrail trail = log.read(2);
        assertEquals(Optional.empty(), trail.brokenAt());
        assertEquals(2, trail.records().size());
        assertEquals(3, trail.records().get(1).seq());
        assertEquals("remove", trail.records().get(1).action());

        Path file = dir.resolve(AuditLog.FILE);
        List<String> lines = new ArrayList<>(Files.readAllLines(file, StandardCharsets.UTF_8));
        lines.set(1, lines.get(1).replace("version 2", "version 9"));
        Files.write(file, lines, StandardCharsets.UTF_8);
        assertEquals(Optional.of(3L), log.read(10).brokenAt(), "the record after the edited one no longer links");

        lines.remove(1);
        Files.write(file, lines, StandardCharsets.UTF_8);
        assertTrue(log.read(10).brokenAt().isPresent(), "a deleted record breaks the chain");
    }
}
