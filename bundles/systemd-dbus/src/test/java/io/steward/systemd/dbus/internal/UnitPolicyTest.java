package io.steward.systemd.dbus.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.privileged.UnitPolicy;
import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** The checks the in-process installer and the root updater share. */
class UnitPolicyTest {
    private static final AddonId ID = new AddonId("netprobe");
    private static final HostLayout LAYOUT = new HostLayout(Path.of("/var/lib/steward"), Path.of("/etc/steward"),
            Path.of("/etc/steward/trust"), Path.of("/etc/systemd/system"), Path.of("/usr/lib/steward/addons"));

    @Test
    void namesFollowTheConvention() {
        assertTrue(UnitPolicy.isOwnedName(ID, "steward-netprobe.service"));
        assertTrue(UnitPolicy.isOwnedName(ID, "steward-netprobe.timer"));
        assertTrue(UnitPolicy.isOwnedName(ID, "steward-netprobe-scan.service"));
        assertFalse(UnitPolicy.isOwnedName(ID, "ssh.service"));
        assertFalse(UnitPolicy.isOwnedName(ID, "steward-other.service"));
        assertFalse(UnitPolicy.isOwnedName(ID, "steward-netprobe.socket"));
        assertFalse(UnitPolicy.isOwnedName(ID, "steward-netprobe-.service"));
        assertFalse(UnitPolicy.isOwnedName(ID, "steward-netprobe-a/../b.service"));
        assertFalse(UnitPolicy.isOwnedName(ID, "steward-netprobe-x@.service"));
        assertFalse(UnitPolicy.isOwnedName(ID, "steward-netproberx.service"));
        SupervisionException e = assertThrows(SupervisionException.class, () -> UnitPolicy.checkName(ID, "ssh.service"));
        assertEquals(Disposition.PERMANENT, e.disposition());
    }

    @Test
    void addonsThatCouldClaimOneUnitNameShareAClaimKey() {
        // steward-a-b-x.service is a name of a (suffix b-x) and of a-b (suffix x)
        assertTrue(UnitPolicy.isOwnedName(new AddonId("a"), "steward-a-b-x.service"));
        assertTrue(UnitPolicy.isOwnedName(new AddonId("a-b"), "steward-a-b-x.service"));
        assertEquals(UnitPolicy.claimKey(new AddonId("a")), UnitPolicy.claimKey(new AddonId("a-b")));
        assertEquals(UnitPolicy.claimKey(new AddonId("a")), UnitPolicy.claimKey(new AddonId("a-b-c")));
        assertTrue(UnitPolicy.claimLock(new AddonId("a")) == UnitPolicy.claimLock(new AddonId("a-b")));
        assertFalse(UnitPolicy.claimKey(new AddonId("a")).equals(UnitPolicy.claimKey(new AddonId("ab"))));
        assertFalse(UnitPolicy.claimKey(new AddonId("a_b")).equals(UnitPolicy.claimKey(new AddonId("a"))));
    }

    @Test
    void commandPathsSkipPrefixesAndQuotes() {
        assertEquals(Optional.of("/bin/x"), UnitPolicy.commandPath("-/bin/x --a"));
        assertEquals(Optional.of("/bin/x"), UnitPolicy.commandPath("+@/bin/x argv0"));
        assertEquals(Optional.of("/opt/a b/x"), UnitPolicy.commandPath("!!\"/opt/a b/x\" y"));
        assertEquals(Optional.empty(), UnitPolicy.commandPath(""));
    }

    @Test
    void execIntoTheDataDirectoryIsRefusedAlsoAcrossContinuationsAndDotDot() throws Exception {
        Map<String, String> ok = new LinkedHashMap<>();
        ok.put("steward-netprobe.service", "[Service]\nExecStart=/usr/lib/steward/addons/netprobe/current/netprobe\n");
        UnitPolicy.validate(LAYOUT, ID, ok, "steward-netprobe.service");

        for (String exec : new String[] {"ExecStart=/var/lib/steward/addons/netprobe/current/netprobe",
                "ExecStartPre=-/usr/lib/../../var/lib/steward/x", "ExecStop= \\\n  \"/var/lib/steward/state/x\" y",
                "Environment=\"LD_PRELOAD=/var/lib/steward/evil.so\""}) {
            Map<String, String> units = Map.of("steward-netprobe.service", "[Service]\nExecStart=/bin/true\n" + exec + "\n");
            SupervisionException e = assertThrows(SupervisionException.class,
                    () -> UnitPolicy.validate(LAYOUT, ID, units, "steward-netprobe.service"), exec);
            assertEquals(Disposition.PERMANENT, e.disposition());
        }
    }

    @Test
    void aTimerMustStartAShippedService() throws Exception {
        assertEquals("steward-netprobe.service", UnitPolicy.timerTarget("steward-netprobe.timer", "[Timer]\nOnCalendar=daily\n"));
        assertEquals("steward-netprobe-run.service",
                UnitPolicy.timerTarget("steward-netprobe.timer", "[Timer]\nUnit=steward-netprobe-run.service\n"));
        Map<String, String> units = new LinkedHashMap<>();
        units.put("steward-netprobe.timer", "[Timer]\nOnCalendar=daily\nUnit=ssh.service\n");
        units.put("steward-netprobe.service", "[Service]\nExecStart=/bin/true\n");
        assertThrows(SupervisionException.class, () -> UnitPolicy.validate(LAYOUT, ID, units, "steward-netprobe.timer"));
        units.put("steward-netprobe.timer", "[Timer]\nOnCalendar=daily\n");
        UnitPolicy.validate(LAYOUT, ID, units, "steward-netprobe.timer");
    }

    @Test
    void aPrivilegedRootInsideTheDataDirectoryIsRefused() {
        HostLayout bad = new HostLayout(Path.of("/var/lib/steward"), Path.of("/etc/steward"), Path.of("/t"),
                Path.of("/etc/systemd/system"), Path.of("/var/lib/steward/priv"));
        assertThrows(SupervisionException.class, () -> UnitPolicy.validate(bad, ID,
                Map.of("steward-netprobe.service", "[Service]\nExecStart=/bin/true\n"), "steward-netprobe.service"));
    }

    @Test
    void placeholdersAndResources() {
        assertEquals("ExecStart=/usr/lib/steward/addons/netprobe/current/bin --c /var/lib/steward/addons/netprobe/config.json",
                UnitPolicy.render("ExecStart=@ADDON_HOME@/bin --c @ADDON_CONFIG@", UnitPolicy.placeholders(LAYOUT, ID)));
        assertEquals(Optional.empty(), UnitPolicy.resourcesDropIn(Resources.NONE));
        String dropIn = UnitPolicy.resourcesDropIn(new Resources(OptionalDouble.of(12.5), OptionalLong.of(1024),
                OptionalLong.empty())).orElseThrow();
        assertTrue(dropIn.contains("[Service]\nCPUQuota=13%\nMemoryMax=1024\n"), dropIn);
    }

    @Test
    void unitObjectPathsUseSdBusEscaping() {
        assertEquals("/org/freedesktop/systemd1/unit/steward_2dnetprobe_2eservice", Bus.unitPath("steward-netprobe.service"));
        assertEquals("/org/freedesktop/systemd1/unit/_31x_5fy_2etimer", Bus.unitPath("1x_y.timer"));
    }
}
