package io.steward.privileged;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.Resources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Who the process is, and what a systemd kind asks the installer for. */
class PrivilegedValuesTest {
    @TempDir
    Path dir;

    @Test
    void theEffectiveUidIsTheSecondFieldOfUid() throws IOException {
        Path status = dir.resolve("status");
        Files.writeString(status, "Name:\tjava\nUmask:\t0022\nUid:\t1000\t0\t1000\t1000\nGid:\t0\t0\t0\t0\n");
        assertEquals(OptionalLong.of(0), ProcessIdentity.effectiveUid(status), "setuid: real 1000, effective 0");
        Files.writeString(status, "Uid:\t7\n");
        assertEquals(OptionalLong.empty(), ProcessIdentity.effectiveUid(status));
        Files.writeString(status, "Name:\tjava\n");
        assertEquals(OptionalLong.empty(), ProcessIdentity.effectiveUid(status));
        Files.writeString(status, "Uid:\tx\ty\n");
        assertEquals(OptionalLong.empty(), ProcessIdentity.effectiveUid(status));
        assertEquals(OptionalLong.empty(), ProcessIdentity.effectiveUid(dir.resolve("missing")));
    }

    @Test
    void thisProcessIsReadFromProc() throws IOException {
        String uidLine = Files.readAllLines(Path.of("/proc/self/status")).stream()
                .filter(l -> l.startsWith("Uid:")).findFirst().orElseThrow();
        long effective = Long.parseLong(uidLine.substring(4).trim().split("\\s+")[1]);
        assertEquals(OptionalLong.of(effective), ProcessIdentity.effectiveUid());
        assertEquals(effective == 0, ProcessIdentity.isRoot());
    }

    @Test
    void anInstallRequestNamesItsPrimaryAmongItsUnitsAndAPositiveTimeout() {
        AddonId id = new AddonId("x");
        List<String> units = List.of("steward-x.timer", "steward-x.service");
        UnitInstallRequest r = new UnitInstallRequest(id, dir, units, "steward-x.timer", Resources.NONE, false,
                Duration.ofSeconds(1));
        assertEquals(units, r.units());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new UnitInstallRequest(id, dir,
                units, "steward-y.service", Resources.NONE, false, Duration.ofSeconds(1)));
        assertEquals("primary unit steward-y.service is not among [steward-x.timer, steward-x.service]",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new UnitInstallRequest(id, dir, units,
                "steward-x.timer", Resources.NONE, false, Duration.ZERO));
        assertEquals("jobTimeout must be positive: PT0S", e.getMessage());
    }

    @Test
    void anInstallationIsUnchangedOnlyWhenNothingWasDone() {
        assertTrue(new UnitInstallation(List.of("u"), List.of(), false, false, "none", "active").unchanged());
        assertFalse(new UnitInstallation(List.of("u"), List.of("u"), false, false, "none", "").unchanged());
        assertFalse(new UnitInstallation(List.of("u"), List.of(), true, false, "none", "").unchanged());
        assertFalse(new UnitInstallation(List.of("u"), List.of(), false, true, "none", "").unchanged());
        assertFalse(new UnitInstallation(List.of("u"), List.of(), false, false, "restart", "").unchanged());
    }
}
