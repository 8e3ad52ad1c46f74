package io.steward.supervision.sidecar.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class NotifyMessageTest {
    private static NotifyMessage parse(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        return NotifyMessage.parse(b, b.length);
    }

    @Test
    void readsTheKeysSupervisionActsOn() {
        NotifyMessage m = parse("READY=1\nSTATUS=serving 3 clients\nMAINPID=42\nWATCHDOG=1\nBARRIER=1\n");
        assertTrue(m.ready());
        assertTrue(m.watchdog());
        assertFalse(m.stopping());
        assertEquals(Optional.of("serving 3 clients"), m.status());
        NotifyMessage other = parse("STOPPING=1\nRELOADING=1\nWATCHDOG=trigger\nWATCHDOG_USEC=2000000\nEXTEND_TIMEOUT_USEC=5000000");
        assertTrue(other.stopping());
        assertTrue(other.reloading());
        assertTrue(other.watchdogTrigger());
        assertFalse(other.watchdog());
        assertEquals(OptionalLong.of(2_000_000), other.watchdogUsec());
        assertEquals(OptionalLong.of(5_000_000), other.extendTimeoutUsec());
    }

    @Test
    void ignoresWhatItDoesNotUnderstand() {
        NotifyMessage m = parse("READY=0\ngarbage\n=x\nWATCHDOG_USEC=abc\nSTATUS=a\u0007b");
        assertFalse(m.ready());
        assertEquals(OptionalLong.empty(), m.watchdogUsec());
        assertEquals(Optional.of("a b"), m.status());
        assertEquals(NotifyMessage.MAX_STATUS, parse("STATUS=" + "x".repeat(5000)).status().orElseThrow().length());
    }
}
