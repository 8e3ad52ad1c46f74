package io.steward.systemd.bus;

import java.util.function.Supplier;

/**
 * Runs an idempotent action on behalf of every caller that needs "a run that starts after my request",
 * such as a daemon reload after writing unit files: callers that arrive while a run is in progress wait
 * and share the next run, so N concurrent callers cost two runs, not N. A failed run fails only its own
 * caller; the waiters start another.
 *
 * @param <E> the action's checked exception
 */
final class GroupCommit<E extends Exception> {
    @FunctionalInterface
    interface Action<E extends Exception> {
        void run() throws E;
    }

    private final Supplier<E> interrupted;
    private long started;       // guarded by this, like the two below
    private long succeeded;     // the ticket of the last run that succeeded
    private boolean running;

    GroupCommit(Supplier<E> interrupted) {
        this.interrupted = interrupted;
    }

    void run(Action<E> action) throws E {
        long ticket;
        synchronized (this) {
            long needed = started + 1;      // the first run to start from now on covers this request
            while (running && succeeded < needed) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw interrupted.get();
                }
            }
            if (succeeded >= needed) {
                return;
            }
            running = true;
            ticket = ++started;
        }
        boolean ok = false;
        try {
            action.run();
            ok = true;
        } finally {
            synchronized (this) {
                running = false;
                if (ok) {
                    succeeded = ticket;
                }
                notifyAll();
            }
        }
    }
}
