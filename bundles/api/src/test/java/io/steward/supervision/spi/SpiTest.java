package io.steward.supervision.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The record a dispatcher is handed and the failure it reports. */
class SpiTest {
    @Test
    void aRecordNamesItsCurrentLinkAndSpoolInsideItsHome() {
        Assignment a = new Assignment(new AddonId("probe"), "1", true, "systemd_timer", "compiled_in",
                Optional.empty(), Optional.empty(), List.of(), Map.of(), "{}", List.of(), Resources.NONE);
        HostLayout layout = HostLayout.from(Map.of(HostLayout.DATA, "/d")::get);
        AddonRecord r = new AddonRecord(a, layout.addonHome(a.id()), 7);
        assertEquals(new AddonId("probe"), r.id());
        assertEquals(Path.of("/d/addons/probe/current"), r.current());
        assertEquals(layout.addonSpool(a.id()), r.spool(), "the kind and the agent agree on the spool");
    }

    @Test
    void aFailureKeepsItsDispositionMessageAndCause() {
        IOException cause = new IOException("disk full");
        SupervisionException e = new SupervisionException(Disposition.TRANSIENT, "add-on x: stage failed: disk full",
                cause);
        assertEquals(Disposition.TRANSIENT, e.disposition());
        assertEquals("add-on x: stage failed: disk full", e.getMessage());
        assertSame(cause, e.getCause());
        assertEquals(Disposition.PERMANENT, new SupervisionException(Disposition.PERMANENT, "m").disposition());
        assertEquals("disposition",
                assertThrows(NullPointerException.class, () -> new SupervisionException(null, "m")).getMessage());
    }
}
