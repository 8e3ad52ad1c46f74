package io.steward.supervision;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Where Steward keeps things (PRODUCT §4), as the bundles read it from framework properties. */
class HostLayoutTest {
    @Test
    void withoutPropertiesTheProductDefaultsApply() {
        HostLayout l = HostLayout.from(k -> null);
        assertEquals(Path.of("/var/lib/steward"), l.data());
        assertEquals(Path.of("/etc/steward"), l.etc());
        assertEquals(Path.of("/etc/steward/trust"), l.trust());
        assertEquals(Path.of("/etc/systemd/system"), l.unitDir());
        assertEquals(Path.of("/usr/lib/steward/addons"), l.privilegedRoot());
    }

    @Test
    void blankPropertiesAreAbsentAndTrustFollowsEtc() {
        Map<String, String> p = Map.of(HostLayout.ETC, "/opt/s/etc", HostLayout.DATA, "  ", HostLayout.UNIT_DIR, "");
        HostLayout l = HostLayout.from(p::get);
        assertEquals(Path.of("/var/lib/steward"), l.data());
        assertEquals(Path.of("/opt/s/etc/trust"), l.trust());
        assertEquals(Path.of("/etc/systemd/system"), l.unitDir());
    }

    @Test
    void pathsAreMadeAbsoluteAndNormalised() {
        Map<String, String> p = Map.of("steward.data", "rel/../data", "steward.trust", "/k/./t",
                "steward.privileged.root", "/p//q/");
        HostLayout l = HostLayout.from(p::get);
        assertEquals(Path.of("").toAbsolutePath().resolve("data"), l.data());
        assertEquals(Path.of("/k/t"), l.trust());
        assertEquals(Path.of("/p/q"), l.privilegedRoot());
    }

    @Test
    void anAddonsDirectoriesAreUnderData() {
        HostLayout l = HostLayout.from(Map.of(HostLayout.DATA, "/d")::get);
        AddonId id = new AddonId("probe");
        assertEquals(Path.of("/d/state"), l.state());
        assertEquals(Path.of("/d/addons/probe"), l.addonHome(id));
        assertEquals(Path.of("/d/addons/probe/spool"), l.addonSpool(id));
    }
}
