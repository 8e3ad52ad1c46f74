package io.steward.supervision.ephemeral.helper.internal;

import java.util.concurrent.CompletableFuture;

/**
 * One run in flight, as seen by whoever may have to kill it (a removal, a bundle stop). The thread
 * that runs it attaches the process once started; {@link #abort()} may come before or after that.
 */
final class HelperRun {
    private final ProcessRunner runner;
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private Process process;        // guarded by this
    private boolean aborted;        // guarded by this

    HelperRun(ProcessRunner runner) {
        this.runner = runner;
    }

    /** Records the started process; false when the run was aborted meanwhile (the caller kills it). */
    synchronized boolean attach(Process started) {
        process = started;
        return !aborted;
    }

    /** Kills the run's process group, now or as soon as it is started. */
    void abort() {
        Process p;
        synchronized (this) {
            aborted = true;
            p = process;
        }
        if (p != null) {
            runner.killGroup(p);
        }
    }

    synchronized boolean aborted() {
        return aborted;
    }

    /** Completes when the run's thread is done with it (process gone, output drained). */
    CompletableFuture<Void> done() {
        return done;
    }

    void finish() {
        done.complete(null);
    }
}
