package io.steward.itests;

import static io.steward.itests.Assignments.configToggle;
import static io.steward.itests.Assignments.document;
import static io.steward.itests.Assignments.nextRevision;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.mavenBundle;

import io.steward.supervision.SupervisionState;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.felix.hc.api.Result;
import org.apache.felix.hc.api.execution.HealthCheckExecutionResult;
import org.apache.felix.hc.api.execution.HealthCheckExecutor;
import org.apache.felix.hc.api.execution.HealthCheckSelector;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.util.tracker.ServiceTracker;

/**
 * Steward's health as the real Apache Felix Health Check executor (org.apache.felix.healthcheck.core) sees it,
 * with no glue: the agent's check and the check of kind config_toggle are found by tag, OK once an add-on is
 * ready; a source in error makes the agent's check WARN; the kind's bundle stopped makes its check WARN.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HealthIT extends PlatformTestSupport {
    private static final String ID = "flow-export";

    @Configuration
    @Override
    public Option[] config() throws IOException {
        List<Option> options = new ArrayList<>(List.of(super.config()));
        options.add(mavenBundle("org.apache.felix", "org.apache.felix.healthcheck.api").versionAsInProject());
        // the executor and what its manifest requires
        options.add(mavenBundle("org.osgi", "org.osgi.service.event").versionAsInProject());
        options.add(mavenBundle("jakarta.servlet", "jakarta.servlet-api").versionAsInProject());
        options.add(mavenBundle("org.osgi", "org.osgi.service.servlet").versionAsInProject());
        options.add(mavenBundle("org.apache.felix", "org.apache.felix.healthcheck.core").versionAsInProject());
        options.add(bundle(reactorBundle("bundle.health", "health", "io.steward.health").toURI().toString()));
        return options.toArray(new Option[0]);
    }

    @Test
    public void theFelixExecutorSeesTheAgentAndEachKindByTag() throws Exception {
        writeAssignments(document(nextRevision("health"), configToggle(ID, true, "flow-export")));
        awaitState(ID, SupervisionState.READY);
        await("the agent's and config_toggle's checks are OK", () ->
                status("steward.agent").equals(Optional.of(Result.Status.OK))
                        && status("steward.kind.config_toggle").equals(Optional.of(Result.Status.OK)));
        List<HealthCheckExecutionResult> all = executor().execute(HealthCheckSelector.tags("steward"));
        assertTrue(names(all).toString(), names(all).containsAll(List.of("Steward agent", "Steward kind config_toggle")));

        // a malformed document: the last valid one stays in effect, the agent warns
        Files.writeString(assignmentFile(), "{ not json");
        reconcileNow();
        await("the agent's check warns about the source in error", () ->
                status("steward.agent").equals(Optional.of(Result.Status.WARN)));
        writeAssignments(document(nextRevision("health-again"), configToggle(ID, true, "flow-export")));
        reconcileNow();
        await("the agent's check is OK again", () -> status("steward.agent").equals(Optional.of(Result.Status.OK)));

        Bundle toggle = installedBundle(WiringIT.CONFIG_TOGGLE_BUNDLE);
        toggle.stop();
        try {
            reconcileNow();
            await("config_toggle's check warns: no bundle serves the kind", () ->
                    status("steward.kind.config_toggle").equals(Optional.of(Result.Status.WARN)));
        } finally {
            toggle.start();
        }
        awaitState(ID, SupervisionState.READY);
    }

    private HealthCheckExecutor executor() {
        ServiceTracker<HealthCheckExecutor, HealthCheckExecutor> t = new ServiceTracker<>(context, HealthCheckExecutor.class, null);
        t.open();
        try {
            HealthCheckExecutor e = t.waitForService(DEADLINE.toMillis());
            assertTrue("the Felix Health Check executor is registered", e != null);
            return e;
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        } finally {
            t.close();
        }
    }

    /** The status the executor reports for the one check tagged {@code tag}. */
    private Optional<Result.Status> status(String tag) {
        List<HealthCheckExecutionResult> results = executor().execute(HealthCheckSelector.tags(tag));
        assertTrue("at most one check is tagged " + tag + ": " + names(results), results.size() <= 1);
        return results.stream().findFirst().map(r -> r.getHealthCheckResult().getStatus());
    }

    private static List<String> names(List<HealthCheckExecutionResult> results) {
        return results.stream().map(r -> r.getHealthCheckMetadata().getName()).toList();
    }
}
