package io.steward.helper;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a helper run is given and how it ended: validation, copies, and what the logs may show. */
class HelperValuesTest {
    @Test
    void aRequestRefusesWhatAnExecCannotCarryWithOneSentence() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HelperRequest.of("a\0b"));
        assertEquals("a helper argument contains a NUL character", e.getMessage());
        for (String name : List.of("", "A=B", "A\0")) {
            e = assertThrows(IllegalArgumentException.class, () -> HelperRequest.of().withEnv(Map.of(name, "v")));
            assertEquals("\"" + name.replace('\0', '?') + "\" is not a valid environment variable for a helper",
                    e.getMessage());
        }
        e = assertThrows(IllegalArgumentException.class, () -> HelperRequest.of().withEnv(Map.of("A", "x\0y")));
        assertEquals("\"A\" is not a valid environment variable for a helper", e.getMessage());
        for (Duration d : List.of(Duration.ZERO, Duration.ofSeconds(-1))) {
            e = assertThrows(IllegalArgumentException.class, () -> HelperRequest.of().withTimeout(d));
            assertEquals("a helper timeout must be positive, not " + d, e.getMessage());
        }
    }

    @Test
    void aRequestIsImmutableAndComparesStdinByContent() {
        byte[] in = "hello".getBytes(StandardCharsets.UTF_8);
        HelperRequest r = HelperRequest.of("x").withStdin(in);
        in[0] = 'J';
        byte[] out = r.stdin();
        out[1] = 'A';
        assertArrayEquals("hello".getBytes(StandardCharsets.UTF_8), r.stdin());
        assertEquals(HelperRequest.of("x").withStdin("hello"), r);
        assertEquals(HelperRequest.of("x").withStdin("hello").hashCode(), r.hashCode());
        assertNotEquals(HelperRequest.of("x").withStdin("hellO"), r);
        assertEquals(HelperRequest.DEFAULT_TIMEOUT, r.timeout());
        assertEquals(Duration.ofSeconds(30), HelperRequest.DEFAULT_TIMEOUT);
    }

    @Test
    void aRequestNeverPrintsVariableValuesOrStdin() {
        String s = HelperRequest.of("--go").withEnv(Map.of("TOKEN", "s3cr3t")).withStdin("password").toString();
        assertEquals("HelperRequest[args=[--go], env=[TOKEN], stdin=8 bytes, timeout=PT30S]", s);
    }

    @Test
    void aResultSaysWhetherItSucceededOrWasCut() {
        HelperResult ok = new HelperResult(0, "out".getBytes(StandardCharsets.UTF_8), new byte[0], Duration.ofMillis(5),
                false, false, false);
        assertTrue(ok.succeeded());
        assertFalse(ok.truncated());
        assertEquals("out", ok.stdoutText());
        assertFalse(new HelperResult(0, new byte[0], new byte[0], Duration.ZERO, true, false, false).succeeded(),
                "a run killed at its timeout did not succeed whatever its status");
        assertFalse(new HelperResult(1, new byte[0], new byte[0], Duration.ZERO, false, false, false).succeeded());
        assertTrue(new HelperResult(0, new byte[0], new byte[0], Duration.ZERO, false, false, true).truncated());
        assertTrue(new HelperResult(0, new byte[0], new byte[0], Duration.ZERO, false, true, false).truncated());
    }

    @Test
    void aResultCopiesItsOutputAndNeverPrintsIt() {
        byte[] err = "secret\n".getBytes(StandardCharsets.UTF_8);
        HelperResult r = new HelperResult(137, new byte[3], err, Duration.ofSeconds(2), true, true, false);
        err[0] = 'X';
        assertEquals("secret\n", r.stderrText());
        r.stderr()[0] = 'Y';
        assertEquals("secret\n", r.stderrText());
        assertEquals(new HelperResult(137, new byte[3], "secret\n".getBytes(StandardCharsets.UTF_8),
                Duration.ofSeconds(2), true, true, false), r);
        assertEquals("HelperResult[exitCode=137, timedOut=true, duration=PT2S, stdout=3 bytes (truncated), "
                + "stderr=7 bytes]", r.toString());
    }

    @Test
    void aHelperFailureCarriesItsReason() {
        HelperException e = new HelperException(HelperException.Reason.BUSY, "helper h: 4 runs in flight");
        assertEquals(HelperException.Reason.BUSY, e.reason());
        assertEquals("helper h: 4 runs in flight", e.getMessage());
        assertEquals("reason", assertThrows(NullPointerException.class, () -> new HelperException(null, "m"))
                .getMessage());
    }
}
