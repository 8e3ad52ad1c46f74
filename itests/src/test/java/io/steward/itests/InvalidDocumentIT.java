package io.steward.itests;

import static io.steward.itests.Assignments.configToggle;
import static io.steward.itests.Assignments.document;
import static io.steward.itests.Assignments.nextRevision;
import static org.junit.Assert.assertEquals;

import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/** Bad input changes nothing that was working (PRODUCT §7.8), and the source's error is visible. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class InvalidDocumentIT extends PlatformTestSupport {
    private static final String FLOW = "flow-export";
    private static final String TAP = "packet-tap";

    @Before
    public void setUp() throws Exception {
        String revision = nextRevision("valid");
        writeAssignments(document(revision,
                configToggle(FLOW, true, "flow-export"),
                configToggle(TAP, true, "packet-capture")));
        awaitState(FLOW, SupervisionState.READY);
        awaitState(TAP, SupervisionState.READY);
        awaitCapability(FLOW);
        awaitCapability(TAP);
        await("plan() works on revision " + revision + " without a warning about the file", () -> {
            ReconcileReport plan = planNow();
            return plan.revision().equals(revision) && fileWarnings(plan).isEmpty();
        });
    }

    @Test
    public void malformedJsonChangesNothing() throws Exception {
        assertRefusedWithoutChange("{\"revision\":\"broken\",\"addons\":[{\"id\":");
    }

    @Test
    public void hostileAddonIdChangesNothing() throws Exception {
        assertRefusedWithoutChange(document(nextRevision("hostile"),
                configToggle(FLOW, true, "flow-export"),
                configToggle("../x", true, "escape")));
    }

    private void assertRefusedWithoutChange(String badDocument) throws Exception {
        Map<String, String> before = summary(supervision().statuses());

        writeAssignments(badDocument);
        await("plan() warnings mention " + assignmentFile().getFileName(),
                () -> !fileWarnings(planNow()).isEmpty());

        ReconcileReport pass = reconcileNow();
        assertEquals("statuses after a reconcile of the bad document", before, summary(pass.statuses()));
        assertEquals("statuses from SupervisionService", before, summary(supervision().statuses()));
        assertEquals(1, capabilities(FLOW).size());
        assertEquals(1, capabilities(TAP).size());
        assertEquals("nothing was removed: " + auditLines(), List.of(), auditLines(FLOW, a -> a.contains("remove")));
        assertEquals("nothing was removed: " + auditLines(), List.of(), auditLines(TAP, a -> a.contains("remove")));
    }

    /** Warnings that name the assignment file. */
    private List<String> fileWarnings(ReconcileReport report) {
        String name = assignmentFile().getFileName().toString();
        return report.warnings().stream().filter(w -> w.contains(name)).toList();
    }

    /** id → state/desired/active, the parts a refused document must not change. */
    private static Map<String, String> summary(List<SupervisionStatus> statuses) {
        Map<String, String> summary = new TreeMap<>();
        for (SupervisionStatus s : statuses) {
            summary.put(s.id().value(), s.state().wireName() + " desired=" + s.desiredVersion().orElse("-")
                    + " active=" + s.activeVersion().orElse("-"));
        }
        return summary;
    }
}
