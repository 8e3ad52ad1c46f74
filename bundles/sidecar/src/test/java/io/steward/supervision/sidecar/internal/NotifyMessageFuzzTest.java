package io.steward.supervision.sidecar.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;

/**
 * Jazzer target: {@link NotifyMessage#parse}, the sd_notify datagram parser (docs/testing.md "Fuzzing").
 * <p>
 * Oracle: any datagram (any bytes, any length) parses without an exception — there is no refusal, unknown or
 * malformed assignments are ignored as systemd ignores them —; the status is printable (no control character,
 * at most {@link NotifyMessage#MAX_STATUS} code points, stripped); the intervals are positive; and
 * parse ∘ render is the identity on what was parsed (rendering the message as a datagram and reading it again
 * gives the same message).
 */
class NotifyMessageFuzzTest {
    private static final AtomicLong EXECUTIONS = new AtomicLong();

    @FuzzTest
    @DictionaryEntries({"READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1", "WATCHDOG=trigger", "STATUS=",
        "WATCHDOG_USEC=", "EXTEND_TIMEOUT_USEC=", "MAINPID=", "="})
    void parseNeverThrowsAndRenderingIsStable(byte[] datagram) {
        EXECUTIONS.incrementAndGet();
        NotifyMessage m = NotifyMessage.parse(datagram, datagram.length);
        m.status().ifPresent(s -> {
            assertTrue(s.codePoints().count() <= NotifyMessage.MAX_STATUS, s);
            assertTrue(s.codePoints().noneMatch(Character::isISOControl), s);
            assertEquals(s.strip(), s);
        });
        m.watchdogUsec().ifPresent(v -> assertTrue(v > 0));
        m.extendTimeoutUsec().ifPresent(v -> assertTrue(v > 0));
        byte[] rendered = render(m).getBytes(StandardCharsets.UTF_8);
        assertEquals(m, NotifyMessage.parse(rendered, rendered.length), "parse(render(m)) == m");
    }

    /** The datagram a program would send to say exactly {@code m}. */
    private static String render(NotifyMessage m) {
        StringBuilder b = new StringBuilder();
        if (m.ready()) {
            b.append("READY=1\n");
        }
        if (m.reloading()) {
            b.append("RELOADING=1\n");
        }
        if (m.stopping()) {
            b.append("STOPPING=1\n");
        }
        if (m.watchdog()) {
            b.append("WATCHDOG=1\n");
        }
        if (m.watchdogTrigger()) {
            b.append("WATCHDOG=trigger\n");
        }
        m.status().ifPresent(s -> b.append("STATUS=").append(s).append('\n'));
        m.watchdogUsec().ifPresent(v -> b.append("WATCHDOG_USEC=").append(v).append('\n'));
        m.extendTimeoutUsec().ifPresent(v -> b.append("EXTEND_TIMEOUT_USEC=").append(v).append('\n'));
        return b.toString();
    }

    @AfterAll
    static void report() {
        System.out.println("fuzz: NotifyMessageFuzzTest " + EXECUTIONS.get() + " executions");
    }
}
