package io.steward.shell.internal;

import static io.steward.shell.internal.Values.deploy;
import static io.steward.shell.internal.Values.ready;
import static io.steward.shell.internal.Values.report;
import static io.steward.shell.internal.Values.status;
import static io.steward.shell.internal.Values.step;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.deploy.DeployFolder;
import io.steward.supervision.AssignmentDocument;
import io.steward.supervision.CommandResult;
import io.steward.supervision.PlanStep.Action;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.spi.AssignmentSource;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * The launcher's one-shot {@code apply}, {@code plan} and {@code status} in a real Felix framework, whose
 * properties say which command runs, against a fake supervision service and fake sources: the exit codes and
 * texts of README "Commands" (0 converged, 1 not converged or failed, 2 invalid input and nothing changed).
 */
class OneShotCommandTest {
    private static final AssignmentSource VALID = () -> new AssignmentSource.Snapshot("file:/srv/a.json",
            Optional.of(AssignmentDocument.EMPTY), Optional.empty(), List.of(), Instant.EPOCH);
    private static final AssignmentSource REFUSED = () -> new AssignmentSource.Snapshot("file:/srv/bad.json",
            Optional.empty(), Optional.of("/srv/bad.json was refused: addons[0].id: \"../x\" is not a valid add-on id"),
            List.of(), Instant.EPOCH);

    @TempDir
    Path dir;

    private final FakeSupervision supervision = new FakeSupervision();
    private Framework framework;
    private OneShotCommand command;

    @AfterEach
    void stop() throws Exception {
        if (command != null) {
            command.deactivate();
        }
        if (framework != null) {
            framework.stop();
            framework.waitForStop(10_000);
        }
    }

    private BundleContext start(String steward, boolean json) throws Exception {
        Map<String, String> properties = new HashMap<>(Map.of(Constants.FRAMEWORK_STORAGE, dir.resolve("felix").toString(),
                Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT,
                "steward.data", dir.resolve("data").toString(), "steward.json", Boolean.toString(json)));
        if (steward != null) {
            properties.put("steward.command", steward);
        }
        framework = ServiceLoader.load(FrameworkFactory.class).findFirst().orElseThrow().newFramework(properties);
        framework.start();
        return framework.getBundleContext();
    }

    private CommandResult run(String steward, boolean json, List<AssignmentSource> sources, DeployFolder deploy)
            throws Exception {
        BundleContext context = start(steward, json);
        command = new OneShotCommand(context, supervision, sources, deploy);
        try {
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(20))
                    .pollInSameThread().until(() -> !results(context).isEmpty());
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("no result of steward " + steward + " within 30 s", e);
        }
        ServiceReference<?> r = results(context).get(0);
        return new CommandResult((Integer) r.getProperty(CommandResult.EXIT), (String) r.getProperty(CommandResult.STDOUT),
                (String) r.getProperty(CommandResult.STDERR));
    }

    private static List<ServiceReference<?>> results(BundleContext context) throws InvalidSyntaxException {
        ServiceReference<?>[] refs = context.getServiceReferences((String) null, "(" + CommandResult.EXIT + "=*)");
        return refs == null ? List.of() : List.of(refs);
    }

    @Test
    void applyThatConvergesExitsZero() throws Exception {
        supervision.reconcile = CompletableFuture.completedFuture(report("r1",
                List.of(step("a", "config_toggle", Action.INSTALL, "not installed yet")),
                List.of(ready("a", "config_toggle")), List.of()));
        CommandResult r = run("apply", false, List.of(VALID), null);
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(Render.applyText(supervision.reconcile.get()), r.stdout());
        assertTrue(r.stdout().endsWith("converged in 12 ms"), r.stdout());
        assertEquals("", r.stderr());
        assertEquals(List.of("reconcile"), supervision.calls());
    }

    @Test
    void applyThatDoesNotConvergeExitsOneNamingEachAddonAndWarning() throws Exception {
        supervision.reconcile = CompletableFuture.completedFuture(report("r1", List.of(),
                List.of(ready("a", "config_toggle"),
                        status("b", "systemd_service", SupervisionState.FAILED, "2", "1", "exited with status 3"),
                        status("gone", "sidecar", SupervisionState.FAILED, null, null, "not assigned any more")),
                List.of("source file:/srv/o.json: override ignored")));
        CommandResult r = run("apply", false, List.of(VALID), null);
        assertEquals(1, r.exit());
        assertEquals("steward: warning: source file:/srv/o.json: override ignored\n"
                + "steward: add-on b is failed: exited with status 3", r.stderr(), "an add-on no longer assigned is not");
    }

    @Test
    void applySaysASidecarItStartedRunsUnsupervised() throws Exception {
        supervision.reconcile = CompletableFuture.completedFuture(report("r1", List.of(),
                List.of(ready("probe", "sidecar"), ready("web", "sidecar")), List.of()));
        CommandResult r = run("apply", false, List.of(VALID), null);
        assertEquals(0, r.exit());
        assertEquals("steward: note: sidecar probe, web keeps running unsupervised (no restart on a crash) until "
                + "'steward run' starts and adopts it", r.stderr());
    }

    @Test
    void anInvalidDocumentExitsTwoAndNothingIsReconciled() throws Exception {
        CommandResult r = run("apply", false, List.of(VALID, REFUSED), null);
        assertEquals(new CommandResult(2, "", "steward: /srv/bad.json was refused: addons[0].id: \"../x\" is not a "
                + "valid add-on id"), r);
        assertEquals(List.of(), supervision.calls(), "nothing changed");
    }

    @Test
    void withJsonARefusalIsAlsoAnErrorObjectOnStdout() throws Exception {
        CommandResult r = run("plan", true, List.of(REFUSED), null);
        assertEquals(2, r.exit());
        assertEquals("{\"ok\":false,\"error\":\"/srv/bad.json was refused: addons[0].id: \\\"../x\\\" is not a valid "
                + "add-on id\"}\n", r.stdout());
        assertEquals("steward: /srv/bad.json was refused: addons[0].id: \"../x\" is not a valid add-on id", r.stderr());
        assertEquals(List.of(), supervision.calls());
    }

    @Test
    void withoutAnySourceApplyExitsTwo() throws Exception {
        CommandResult r = run("apply", false, List.of(), null);
        assertEquals(new CommandResult(2, "", "steward: no assignment source is available (is bundle "
                + "io.steward.source.file installed?)"), r);
    }

    @Test
    void aPassThatFailsExitsOneWithItsCause() throws Exception {
        supervision.reconcile = CompletableFuture.failedFuture(new IllegalStateException("the ledger is locked"));
        CommandResult r = run("apply", false, List.of(VALID), null);
        assertEquals(new CommandResult(1, "", "steward: apply failed: the ledger is locked"), r);
    }

    @Test
    void planPrintsTheStepsAndExitsZeroWithoutReconciling() throws Exception {
        supervision.plan = CompletableFuture.completedFuture(report("r9",
                List.of(step("a", "sidecar", Action.REMOVE, "no longer assigned")), List.of(), List.of("w")));
        CommandResult r = run("plan", true, List.of(VALID), null);
        assertEquals(new CommandResult(0, Render.planJson(supervision.plan.get()), "steward: warning: w"), r);
        assertTrue(r.stdout().contains("\"action\":\"remove\""), r.stdout());
        assertEquals(List.of("plan"), supervision.calls());
    }

    @Test
    void statusSaysWhetherAnAgentRunsAndWhatDeployTakes() throws Exception {
        supervision.plan = CompletableFuture.completedFuture(report("r", List.of(), List.of(ready("a", "sidecar")),
                List.of()));
        CommandResult r = run("status", false, List.of(REFUSED), deploy(false, List.of(Values.quarantined(1))));
        assertEquals(0, r.exit(), "status reports, it does not judge; a source in error is a warning");
        assertEquals("agent: not running; the states below are as last recorded\n"
                + "deploy/: UNSIGNED KINDS ALLOWED (steward run --unsigned-kinds): any jar there runs inside the agent;"
                + " 1 jar quarantined (steward:kinds)\n"
                + Render.statusTable(supervision.plan.get().statuses()), r.stdout());
        assertEquals("", r.stderr());
    }

    @Test
    void statusJsonNamesTheRunningAgent() throws Exception {
        supervision.plan = CompletableFuture.completedFuture(report("r", List.of(), List.of(), List.of()));
        Path lock = dir.resolve("data/state/agent.lock");
        Files.createDirectories(lock.getParent());
        try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock held = ch.lock()) {
            ch.write(ByteBuffer.wrap("pid 4242 agent since 2026-12-01T10:00:00Z".getBytes()));
            CommandResult r = run("status", true, List.of(VALID), deploy(true, List.of()));
            assertEquals("{\"agent\":{\"running\":true,\"pid\":4242,\"since\":\"2026-12-01T10:00:00Z\"},"
                    + "\"deploy\":{\"verify\":true,\"trust\":[\"/opt/steward/etc/deploy-trust\","
                    + "\"/etc/steward/deploy-trust\"],\"quarantined\":[]},\"addons\":[]}", r.stdout());
        }
    }

    @Test
    void anAgentOrACommandAnotherBundleServesGetsNoResultFromThisOne() throws Exception {
        for (String other : new String[] {null, "pack"}) {
            BundleContext context = start(other, false);
            List<String> registered = new CopyOnWriteArrayList<>();
            context.addServiceListener(e -> registered.add(String.valueOf(e.getServiceReference()
                    .getProperty(CommandResult.STDERR))), "(" + CommandResult.EXIT + "=*)");
            command = new OneShotCommand(context, supervision, List.of(VALID), null);
            command.deactivate();              // joins a worker had there been one
            command = null;
            assertEquals(List.of(), registered, "steward.command=" + other);
            assertEquals(List.of(), supervision.calls());
            framework.stop();
            framework.waitForStop(10_000);
            framework = null;
        }
    }
}
