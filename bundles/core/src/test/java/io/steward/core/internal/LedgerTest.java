package io.steward.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LedgerTest {
    @TempDir
    Path state;

    private final GsonAssignmentCodec codec = new GsonAssignmentCodec();

    @Test
    void entriesAndHoldsSurviveAReloadAndAnAddonNamedHoldsDoesNotClash() throws Exception {
        Ledger ledger = Ledger.load(state, codec);
        Ledger.Entry entry = Ledger.Entry.fresh("config_toggle", Instant.parse("2026-01-01T00:00:00Z"));
        ledger.put(new AddonId("holds"), entry);
        ledger.put(new AddonId("b"), entry);
        ledger.hold(new AddonId("b"), true);
        ledger.remove(new AddonId("b"));

        Ledger again = Ledger.load(state, codec);
        assertEquals(Set.of(new AddonId("holds")), again.entries().keySet());
        assertEquals(entry, again.get(new AddonId("holds")).orElseThrow());
        assertEquals(Set.of(new AddonId("b")), again.holds(), "a hold outlives the add-on's entry");
    }

    @Test
    void aDamagedFileStopsTheLoadAndNamesTheFile() throws Exception {
        Ledger.load(state, codec).put(new AddonId("a"), Ledger.Entry.fresh("sidecar", Instant.now()));
        Files.writeString(state.resolve("ledger/a.json"), "{\"format\":1,\"kind\":");
        IOException e = assertThrows(IOException.class, () -> Ledger.load(state, codec));
        assertTrue(e.getMessage().contains("a.json is damaged"), e.getMessage());
    }
}
