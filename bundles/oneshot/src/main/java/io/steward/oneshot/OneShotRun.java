package io.steward.oneshot;

import io.steward.supervision.CommandResult;
import java.util.function.Supplier;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

/**
 * One run of a one-shot command ({@code steward.command}): the work runs once on its own daemon thread, off the
 * component's activation, and its {@link CommandResult} is registered as the service the launcher waits for.
 * {@link #close()} (from the component's deactivation) interrupts the work and withdraws the result.
 */
public final class OneShotRun {
    private final BundleContext context;
    private final Thread worker;
    private volatile ServiceRegistration<?> result;

    /** Starts {@code work} on a thread named {@code threadName}; a work that throws is a failure (exit 1). */
    public OneShotRun(BundleContext context, String threadName, Supplier<CommandResult> work) {
        this.context = context;
        this.worker = new Thread(() -> publish(outcome(threadName, work)), threadName);
        worker.setDaemon(true);
        worker.start();
    }

    private static CommandResult outcome(String threadName, Supplier<CommandResult> work) {
        try {
            return work.get();
        } catch (RuntimeException e) {
            return new CommandResult(1, "", "steward: " + threadName + " failed: " + e);
        }
    }

    private void publish(CommandResult outcome) {
        try {
            result = context.registerService(Object.class, new Object(), outcome.serviceProperties());
        } catch (IllegalStateException e) {
            // the framework is stopping; nobody is waiting any more
        }
    }

    /** Interrupts the work (waiting up to 5 s for it) and withdraws its result. */
    public void close() throws InterruptedException {
        worker.interrupt();
        worker.join(5000);
        ServiceRegistration<?> r = result;
        if (r != null) {
            try {
                r.unregister();
            } catch (IllegalStateException e) {
                // gone with the bundle
            }
        }
    }
}
