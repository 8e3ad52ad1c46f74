package io.steward.shell.internal;

import static io.steward.shell.internal.Values.T;
import static io.steward.shell.internal.Values.deploy;
import static io.steward.shell.internal.Values.quarantined;
import static io.steward.shell.internal.Values.ready;
import static io.steward.shell.internal.Values.report;
import static io.steward.shell.internal.Values.status;
import static io.steward.shell.internal.Values.step;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonParser;
import io.steward.supervision.AuditRecord;
import io.steward.supervision.AuditTrail;
import io.steward.supervision.KindInfo;
import io.steward.supervision.PlanStep.Action;
import io.steward.supervision.SupervisionState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.stream.IntStream;
import org.apache.felix.gogo.runtime.CommandProcessorImpl;
import org.apache.felix.gogo.runtime.threadio.ThreadIOImpl;
import org.apache.felix.service.command.CommandSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@code steward:} commands run through a real Gogo runtime (so {@code --json} and the arguments are parsed as
 * an operator types them), against a fake {@link io.steward.supervision.SupervisionService}. The output formats
 * are README "Commands" and "--json formats".
 */
class StewardCommandsTest {
    private final FakeSupervision supervision = new FakeSupervision();
    private final StewardCommands commands = new StewardCommands(supervision);
    private ThreadIOImpl threadIo;
    private CommandProcessorImpl processor;
    private CommandSession session;

    @BeforeEach
    void gogo() {
        threadIo = new ThreadIOImpl();
        threadIo.start();
        processor = new CommandProcessorImpl(threadIo);
        processor.addCommand("steward", commands);
        session = processor.createSession(new ByteArrayInputStream(new byte[0]), new ByteArrayOutputStream(),
                new ByteArrayOutputStream());
    }

    @AfterEach
    void close() {
        session.close();
        processor.stop();
        threadIo.stop();
    }

    private String run(String line) throws Exception {
        return (String) session.execute(line);
    }

    /** A command's failure: Gogo prints {@code gogo: Failed: <sentence>}. */
    private String failure(String line) {
        StewardCommands.Failed e = assertThrows(StewardCommands.Failed.class, () -> session.execute(line), line);
        assertEquals("Failed", e.getClass().getSimpleName(), "the word Gogo prints");
        return e.getMessage();
    }

    @Test
    void listPrintsATableOrTheDocumentedJson() throws Exception {
        assertEquals("no add-ons", run("steward:list"));
        supervision.statuses = List.of(ready("a", "sidecar"),
                status("b-long", "systemd_timer", SupervisionState.FAILED, "2", null, "run failed"));
        assertEquals(""
                + "ID      KIND           STATE   DESIRED  ACTIVE  SINCE                 DETAIL\n"
                + "a       sidecar        ready   1.0.0    1.0.0   2026-12-01T10:00:00Z  running\n"
                + "b-long  systemd_timer  failed  2        -       2026-12-01T10:00:00Z  run failed", run("steward:list"));
        assertEquals("{\"addons\":["
                + "{\"id\":\"a\",\"kind\":\"sidecar\",\"state\":\"ready\",\"desired_version\":\"1.0.0\","
                + "\"active_version\":\"1.0.0\",\"detail\":\"running\",\"since\":\"2026-12-01T10:00:00Z\"},"
                + "{\"id\":\"b-long\",\"kind\":\"systemd_timer\",\"state\":\"failed\",\"desired_version\":\"2\","
                + "\"active_version\":null,\"detail\":\"run failed\",\"since\":\"2026-12-01T10:00:00Z\"}]}",
                run("steward:list --json"));
    }

    @Test
    void statusShowsOneAddonOrSaysInOneSentenceWhyNot() throws Exception {
        supervision.statuses = List.of(status("gone", "sidecar", SupervisionState.REMOVED, null, null, "removed"));
        assertEquals(""
                + "id:       gone\n"
                + "kind:     sidecar\n"
                + "state:    removed\n"
                + "desired:  -\n"
                + "active:   -\n"
                + "since:    2026-12-01T10:00:00Z\n"
                + "detail:   removed", run("steward:status gone"));
        assertEquals("{\"addons\":[{\"id\":\"gone\",\"kind\":\"sidecar\",\"state\":\"removed\",\"desired_version\":null,"
                + "\"active_version\":null,\"detail\":\"removed\",\"since\":\"2026-12-01T10:00:00Z\"}]}",
                run("steward:status --json gone"));
        assertEquals("no add-on other is known", failure("steward:status other"));
        assertEquals("\"Bad.Id\" is not a valid add-on id", failure("steward:status Bad.Id"));
    }

    @Test
    void kindsListTheBundlesAndWhatDeployQuarantined() throws Exception {
        assertEquals("no supervision kind has a dispatcher", run("steward:kinds"));
        supervision.kinds = List.of(new KindInfo("config_toggle", "io.steward.supervision.config.toggle", "0.1.0"),
                new KindInfo("sidecar", "io.steward.supervision.sidecar", "0.1.0.SNAPSHOT"));
        String table = ""
                + "KIND           BUNDLE                                VERSION\n"
                + "config_toggle  io.steward.supervision.config.toggle  0.1.0\n"
                + "sidecar        io.steward.supervision.sidecar        0.1.0.SNAPSHOT";
        assertEquals(table, run("steward:kinds"), "an embedding without deploy/ shows the kinds only");

        commands.deploy = deploy(true, IntStream.rangeClosed(1, 7).mapToObj(Values::quarantined).toList());
        assertEquals(table + "\n"
                + "Quarantined (not installed, in deploy/.quarantine/):\n"
                + "  2026-12-01T10:00:03Z  deploy/kind3.jar -> deploy/.quarantine/kind3.jar.20261207T011503Z: not signed\n"
                + "  2026-12-01T10:00:04Z  deploy/kind4.jar -> deploy/.quarantine/kind4.jar.20261207T011504Z: not signed\n"
                + "  2026-12-01T10:00:05Z  deploy/kind5.jar -> deploy/.quarantine/kind5.jar.20261207T011505Z: not signed\n"
                + "  2026-12-01T10:00:06Z  deploy/kind6.jar -> deploy/.quarantine/kind6.jar.20261207T011506Z: not signed\n"
                + "  2026-12-01T10:00:07Z  deploy/kind7.jar -> deploy/.quarantine/kind7.jar.20261207T011507Z: not signed\n"
                + "  (2 older, see kinds --json)", run("steward:kinds"), "the newest five, newest last");

        commands.deploy = deploy(true, List.of(quarantined(1)));
        assertEquals("{\"kinds\":[{\"kind\":\"config_toggle\",\"bundle\":\"io.steward.supervision.config.toggle\","
                + "\"version\":\"0.1.0\"},{\"kind\":\"sidecar\",\"bundle\":\"io.steward.supervision.sidecar\","
                + "\"version\":\"0.1.0.SNAPSHOT\"}],"
                + "\"deploy\":{\"verify\":true,\"trust\":[\"/opt/steward/etc/deploy-trust\",\"/etc/steward/deploy-trust\"],"
                + "\"quarantined\":[{\"jar\":\"kind1.jar\",\"moved_to\":\".quarantine/kind1.jar.20261207T011501Z\","
                + "\"reason\":\"not signed\",\"at\":\"2026-12-01T10:00:01Z\"}]}}", run("steward:kinds --json"));
    }

    @Test
    void planShowsOneStepPerAddonAndChangesNothing() throws Exception {
        supervision.plan = CompletableFuture.completedFuture(report("demo-1", List.of(
                step("a", "sidecar", Action.INSTALL, "not installed yet"),
                step("b-long", "systemd_timer", Action.KEEP, "installed as assigned")), List.of(), List.of("w1")));
        assertEquals(""
                + "revision demo-1\n"
                + "install  a       sidecar        not installed yet\n"
                + "keep     b-long  systemd_timer  installed as assigned\n"
                + "1 install, 1 keep", run("steward:plan"));
        assertEquals("{\"revision\":\"demo-1\",\"steps\":[{\"id\":\"a\",\"kind\":\"sidecar\",\"action\":\"install\","
                + "\"reason\":\"not installed yet\"},{\"id\":\"b-long\",\"kind\":\"systemd_timer\",\"action\":\"keep\","
                + "\"reason\":\"installed as assigned\"}],\"warnings\":[\"w1\"]}", run("steward:plan --json"));
        assertEquals(List.of("plan", "plan"), supervision.calls(), "a plan never reconciles");

        supervision.plan = CompletableFuture.completedFuture(report("", List.of(), List.of(), List.of()));
        assertEquals("nothing to do", run("steward:plan"));
    }

    @Test
    void reconcileReportsThePassAndWhetherItConverged() throws Exception {
        supervision.reconcile = CompletableFuture.completedFuture(report("r2",
                List.of(step("a", "sidecar", Action.UPDATE, "version 1.0.0 assigned")),
                List.of(ready("a", "sidecar")), List.of()));
        assertEquals(""
                + "revision r2\n"
                + "update  a  sidecar  version 1.0.0 assigned\n"
                + "1 update\n"
                + "ID  KIND     STATE  DESIRED  ACTIVE  SINCE                 DETAIL\n"
                + "a   sidecar  ready  1.0.0    1.0.0   2026-12-01T10:00:00Z  running\n"
                + "converged in 12 ms", run("steward:reconcile"));
        assertEquals("{\"revision\":\"r2\",\"converged\":true,\"steps\":[{\"id\":\"a\",\"kind\":\"sidecar\","
                + "\"action\":\"update\",\"reason\":\"version 1.0.0 assigned\"}],\"addons\":[{\"id\":\"a\","
                + "\"kind\":\"sidecar\",\"state\":\"ready\",\"desired_version\":\"1.0.0\",\"active_version\":\"1.0.0\","
                + "\"detail\":\"running\",\"since\":\"2026-12-01T10:00:00Z\"}],\"warnings\":[],\"took_ms\":12}",
                run("steward:reconcile --json"));

        supervision.reconcile = CompletableFuture.completedFuture(report("r3", List.of(),
                List.of(status("a", "sidecar", SupervisionState.BACKOFF, "1.0.0", "1.0.0", "crashed")), List.of()));
        String text = run("steward:reconcile");
        assertEquals("not converged in 12 ms", text.substring(text.lastIndexOf('\n') + 1));
        assertFalse(JsonParser.parseString(run("steward:reconcile --json")).getAsJsonObject()
                .get("converged").getAsBoolean());

        supervision.reconcile = CompletableFuture.failedFuture(new IllegalStateException("the ledger cannot be read"));
        assertEquals("the ledger cannot be read", failure("steward:reconcile"));
    }

    @Test
    void auditShowsTheTailAndWhetherTheChainHolds() throws Exception {
        supervision.audit = new AuditTrail(List.of(new AuditRecord(1, T, "a", "install", "installed 1.0.0"),
                new AuditRecord(2, T, "a", "remove", "removed")), Optional.empty());
        assertEquals(""
                + "1  2026-12-01T10:00:00Z  a  install  installed 1.0.0\n"
                + "2  2026-12-01T10:00:00Z  a  remove  removed\n"
                + "chain intact", run("steward:audit"));
        supervision.audit = new AuditTrail(List.of(), Optional.of(3L));
        assertEquals("chain BROKEN at record 3: the audit log was edited", run("steward:audit 5"));
        assertEquals(List.of("audit 20", "audit 5"), supervision.calls(), "20 records unless told");
    }

    @Test
    void enableAndDisableHoldOrReleaseAValidIdOnly() throws Exception {
        assertEquals("probe: held disabled; reconciling", run("steward:disable probe"));
        assertEquals("probe: hold released; reconciling", run("steward:enable probe"));
        assertEquals(List.of("setEnabled probe false", "setEnabled probe true"), supervision.calls());
        assertEquals("\"../x\" is not a valid add-on id", failure("steward:disable ../x"));
        assertEquals(2, supervision.calls().size(), "an invalid id changes nothing");
    }
}
