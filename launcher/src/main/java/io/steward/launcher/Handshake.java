package io.steward.launcher;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceEvent;
import org.osgi.framework.ServiceListener;
import org.osgi.framework.ServiceReference;

/**
 * Waits for the result of a one-shot command. The shell bundle registers, when done, a service
 * (any object class) with the properties {@value #EXIT} (Integer 0/1/2), {@value #STDOUT} and
 * {@value #STDERR} (String). Thread-safe: the framework calls {@link #serviceChanged} on its
 * threads while the launcher waits in {@link #await}.
 */
final class Handshake implements ServiceListener {
    // the property names of io.steward.supervision.CommandResult: the launcher stays free of Steward classes
    static final String EXIT = "steward.command.exit";
    static final String STDOUT = "steward.command.stdout";
    static final String STDERR = "steward.command.stderr";
    static final String FILTER = "(" + EXIT + "=*)";

    /** What the command printed and its exit code. */
    record Result(int exit, String stdout, String stderr) {
    }

    private final CompletableFuture<Result> result = new CompletableFuture<>();

    private Handshake() {
    }

    /** Starts listening; call before the shell bundle starts. */
    static Handshake listen(BundleContext context) {
        Handshake handshake = new Handshake();
        try {
            context.addServiceListener(handshake, FILTER);
            // a result registered before the listener was added
            ServiceReference<?>[] existing = context.getServiceReferences((String) null, FILTER);
            if (existing != null && existing.length > 0) {
                handshake.accept(existing[0]);
            }
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(FILTER, e);
        }
        return handshake;
    }

    @Override
    public void serviceChanged(ServiceEvent event) {
        if (event.getType() == ServiceEvent.REGISTERED || event.getType() == ServiceEvent.MODIFIED) {
            accept(event.getServiceReference());
        }
    }

    private void accept(ServiceReference<?> reference) {
        result.complete(read(reference));
    }

    static Result read(ServiceReference<?> reference) {
        String stdout = text(reference.getProperty(STDOUT));
        String stderr = text(reference.getProperty(STDERR));
        Object exit = reference.getProperty(EXIT);
        if (exit instanceof Number number) {
            return new Result(number.intValue(), stdout, stderr);
        }
        try {
            return new Result(Integer.parseInt(String.valueOf(exit).strip()), stdout, stderr);
        } catch (NumberFormatException e) {
            return new Result(1, stdout, stderr + "steward: the command reported no valid exit code (" + exit + ")\n");
        }
    }

    private static String text(Object value) {
        return value == null ? "" : value.toString();
    }

    /** Ends the wait: the framework stopped before the command reported its result. */
    void frameworkStopped() {
        result.completeExceptionally(new LaunchException("the platform stopped before the command finished"));
    }

    /** The result, waiting at most {@code timeout}. */
    Result await(Duration timeout) throws LaunchException, InterruptedException {
        try {
            return result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new LaunchException("the command did not finish within " + timeout.toSeconds()
                    + " seconds (STEWARD_COMMAND_TIMEOUT)");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof LaunchException launch) {
                throw launch;
            }
            throw new LaunchException("the command failed: " + e.getCause(), e.getCause());
        }
    }
}
