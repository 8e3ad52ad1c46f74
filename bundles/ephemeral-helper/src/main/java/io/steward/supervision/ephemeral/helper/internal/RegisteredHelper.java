package io.steward.supervision.ephemeral.helper.internal;

import io.steward.helper.AddonHelper;
import io.steward.helper.HelperException;
import io.steward.helper.HelperRequest;
import io.steward.helper.HelperResult;
import io.steward.supervision.AddonId;
import java.util.Objects;

/** The {@link AddonHelper} service of one helper version. Thread-safe; runs on the caller's thread. */
final class RegisteredHelper implements AddonHelper {
    private final Invocation invocation;
    private final HelperRuns runs;
    private final ProcessRunner runner;

    RegisteredHelper(Invocation invocation, HelperRuns runs, ProcessRunner runner) {
        this.invocation = invocation;
        this.runs = runs;
        this.runner = runner;
    }

    @Override
    public AddonId addon() {
        return invocation.id();
    }

    @Override
    public String version() {
        return invocation.version();
    }

    @Override
    public HelperResult run(HelperRequest request) throws HelperException {
        Objects.requireNonNull(request, "request");
        HelperRun run = runs.begin();
        try {
            return runner.run(invocation, request, run);
        } finally {
            runs.end(run);
        }
    }

    @Override
    public String toString() {
        return "helper " + invocation.id() + " " + invocation.version();
    }
}
