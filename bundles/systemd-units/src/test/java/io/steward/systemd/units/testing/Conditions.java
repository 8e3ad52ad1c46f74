package io.steward.systemd.units.testing;

import java.time.Instant;
import java.util.function.BooleanSupplier;

/** Waiting for what systemd does asynchronously (a timer firing, a unit settling): a condition with a deadline. */
public final class Conditions {
    private Conditions() {
    }

    /** Polls {@code condition} until it holds; fails naming {@code what} after 30 s. */
    public static void await(String what, BooleanSupplier condition) throws InterruptedException {
        Instant deadline = Instant.now().plusSeconds(30);
        while (!condition.getAsBoolean()) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(100);     // polling a condition with a deadline, not a fixed wait
        }
    }
}
