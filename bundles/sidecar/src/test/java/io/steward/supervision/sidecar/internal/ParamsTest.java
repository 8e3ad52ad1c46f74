package io.steward.supervision.sidecar.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ParamsTest {
    private final Params defaults = Params.defaults(Duration.ofSeconds(30), Duration.ofSeconds(10));

    @Test
    void defaultsApplyWhenTheManifestSaysNothing() {
        Params p = Params.fromManifest(Map.of("requires", "[\"x\"]"), defaults);
        assertFalse(p.mustNotify());
        assertEquals(Duration.ofSeconds(30), p.startTimeout());
        assertEquals(Duration.ofSeconds(10), p.stopGrace());
        assertEquals(Duration.ZERO, p.watchdog());
        assertEquals("HUP", p.reloadSignal());
        assertEquals(Set.of(125), p.permanentExitCodes());
    }

    @Test
    void manifestFieldsOverrideTheDefaults() {
        Params p = Params.fromManifest(Map.of("notify", "true", "start_timeout_seconds", "5",
                "stop_grace_seconds", "0.5", "watchdog_seconds", "2", "reload_signal", "\"SIGUSR1\"",
                "permanent_exit_codes", "[3, 125]"), defaults);
        assertTrue(p.mustNotify());
        assertEquals(Duration.ofSeconds(5), p.startTimeout());
        assertEquals(Duration.ofMillis(500), p.stopGrace());
        assertEquals(Duration.ofSeconds(2), p.watchdog());
        assertEquals("USR1", p.reloadSignal());
        assertEquals(Set.of(3, 125), p.permanentExitCodes());
        assertEquals(p, Params.fromJson(p.toJson()));
    }

    @Test
    void reloadSignalNoneMeansRestart() {
        assertEquals("", Params.fromManifest(Map.of("reload_signal", "\"none\""), defaults).reloadSignal());
        assertEquals("HUP", Params.fromManifest(Map.of("reload_signal", "\"hup\""), defaults).reloadSignal());
    }

    @Test
    void malformedParametersAreRefusedByName() {
        for (Map.Entry<String, String> bad : Map.of("notify", "\"yes\"", "start_timeout_seconds", "0",
                "watchdog_seconds", "-1", "reload_signal", "\"KILL\"", "permanent_exit_codes", "[256]",
                "stop_grace_seconds", "{", "start_timeout_seconds ", "1").entrySet()) {
            if (bad.getKey().endsWith(" ")) {
                continue;
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Params.fromManifest(Map.of(bad.getKey(), bad.getValue()), defaults), bad.toString());
            assertTrue(e.getMessage().contains(bad.getKey()), e.getMessage());
        }
    }

    /** gson throws on exponents of 10,000 and more where an int is asked for: the refusal still names the key. */
    @Test
    void numbersBeyondGsonsLimitsAreRefusedByName() {
        for (String key : new String[] {"permanent_exit_codes", "start_timeout_seconds"}) {
            String value = key.equals("permanent_exit_codes") ? "[1e99999]" : "1e99999";
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Params.fromManifest(Map.of(key, value), defaults));
            assertEquals(IllegalArgumentException.class, e.getClass(), e.toString());
            assertTrue(e.getMessage().startsWith("manifest parameter " + key + " must"), e.getMessage());
        }
    }
}
