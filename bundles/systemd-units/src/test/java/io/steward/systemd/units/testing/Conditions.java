package io.steward.systemd.units.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/** Waiting for what systemd does asynchronously (a timer firing, a unit settling): a condition with a deadline. */
public final class Conditions {
    private Conditions() {
    }

    /** Polls {@code condition} until it holds; fails naming {@code what} after 30 s. */
    public static void await(String what, BooleanSupplier condition) throws InterruptedException {
        try {
            Awaitility.await(what).atMost(Duration.ofSeconds(30)).pollDelay(Duration.ZERO)
                    .pollInterval(Duration.ofMillis(100)).pollInSameThread().until(condition::getAsBoolean);
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("timed out waiting until " + what, e);
        }
    }
}
