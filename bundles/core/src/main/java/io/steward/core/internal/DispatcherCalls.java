package io.steward.core.internal;

import io.steward.core.internal.DispatcherRegistry.Bound;
import io.steward.core.internal.DispatcherRegistry.DispatcherGone;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionDispatcher;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Call isolation: each dispatcher call runs on a thread of its own ({@code core-dispatch}) under the call
 * timeout, and whatever goes wrong in it comes back as a {@link SupervisionException} (or
 * {@link DispatcherGone}). Called from the reconcile thread and the workers of a pass.
 */
final class DispatcherCalls {
    @FunctionalInterface
    interface DispatcherCall<T> {
        T call(SupervisionDispatcher dispatcher) throws SupervisionException;
    }

    private final Duration callTimeout;
    // a thread per call in flight (a hung call must not hold up the next), idle ones end after 5 s
    private final ExecutorService calls = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 5, TimeUnit.SECONDS,
            new SynchronousQueue<>(), PassScheduler.named("core-dispatch"));

    DispatcherCalls(Duration callTimeout) {
        this.callTimeout = callTimeout;
    }

    <T> T call(Bound b, AddonId id, String operation, DispatcherCall<T> c) throws SupervisionException {
        // the dispatcher is got in the call: a kind's first activation is under the same timeout
        Future<T> future = calls.submit(() -> c.call(b.dispatcher()));
        try {
            return future.get(callTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof SupervisionException se) {
                throw se;
            }
            if (e.getCause() instanceof DispatcherGone gone) {
                throw gone;
            }
            // a buggy kind bundle, or one being deactivated under us
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + operation + " failed in "
                    + b.bundle() + ": " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + operation + " did not finish"
                    + " within " + callTimeout.toSeconds() + "s in " + b.bundle());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            future.cancel(true);
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + operation + " interrupted");
        }
    }

    void shutdownNow() {
        calls.shutdownNow();
    }
}
