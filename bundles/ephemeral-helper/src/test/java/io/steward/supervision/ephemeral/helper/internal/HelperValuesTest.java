package io.steward.supervision.ephemeral.helper.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.helper.HelperRequest;
import io.steward.helper.HelperResult;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The value types of {@code io.steward.helper}: validation, copies, equality. */
class HelperValuesTest {
    @Test
    void requestDefaultsAndCopies() {
        byte[] stdin = {1, 2, 3};
        HelperRequest r = HelperRequest.of("a", "b").withStdin(stdin);
        stdin[0] = 9;
        assertEquals(List.of("a", "b"), r.args());
        assertEquals(Map.of(), r.env());
        assertEquals(HelperRequest.DEFAULT_TIMEOUT, r.timeout());
        assertArrayEquals(new byte[] {1, 2, 3}, r.stdin());
        r.stdin()[0] = 9;
        assertArrayEquals(new byte[] {1, 2, 3}, r.stdin());
        assertEquals(r, HelperRequest.of("a", "b").withStdin(new byte[] {1, 2, 3}));
        assertEquals(r.hashCode(), HelperRequest.of("a", "b").withStdin(new byte[] {1, 2, 3}).hashCode());
        assertFalse(r.withEnv(Map.of("SECRET", "hunter2")).toString().contains("hunter2"));
    }

    @Test
    void requestRefusesWhatExecCannotCarry() {
        assertThrows(IllegalArgumentException.class, () -> HelperRequest.of("a\0b"));
        assertThrows(IllegalArgumentException.class, () -> HelperRequest.of().withEnv(Map.of("A=B", "x")));
        assertThrows(IllegalArgumentException.class, () -> HelperRequest.of().withEnv(Map.of("", "x")));
        assertThrows(IllegalArgumentException.class, () -> HelperRequest.of().withEnv(Map.of("A", "x\0")));
        assertThrows(IllegalArgumentException.class, () -> HelperRequest.of().withTimeout(Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> HelperRequest.of().withTimeout(Duration.ofSeconds(-1)));
        assertThrows(NullPointerException.class, () -> HelperRequest.of().withTimeout(null));
    }

    @Test
    void resultCopiesAndSummarises() {
        byte[] out = "hi\n".getBytes();
        HelperResult r = new HelperResult(0, out, new byte[0], Duration.ofMillis(5), false, false, true);
        out[0] = 'X';
        assertEquals("hi\n", r.stdoutText());
        assertTrue(r.succeeded());
        assertTrue(r.truncated());
        assertEquals(r, new HelperResult(0, "hi\n".getBytes(), new byte[0], Duration.ofMillis(5), false, false, true));
        assertFalse(new HelperResult(0, out, out, Duration.ZERO, true, false, false).succeeded());
        assertFalse(r.toString().contains("hi"));
    }
}
