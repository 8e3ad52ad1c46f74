package io.steward.itests;

import static io.steward.itests.Assignments.configToggle;
import static io.steward.itests.Assignments.document;
import static io.steward.itests.Assignments.nextRevision;
import static org.junit.Assert.assertTrue;

import io.steward.supervision.SupervisionState;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/** The {@code steward:*} Gogo commands, run through a CommandProcessor session as a console would. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ShellIT extends PlatformTestSupport {
    private static final String FLOW = "flow-export";

    @Before
    public void setUp() throws Exception {
        writeAssignments(document(nextRevision("shell"), configToggle(FLOW, true, "flow-export")));
        awaitState(FLOW, SupervisionState.READY);
        awaitCapability(FLOW);
        await("the steward:* commands are registered", () -> {
            try {
                Shell.run(context, "steward:kinds");
                return true;
            } catch (AssertionError e) {
                return false;
            }
        });
    }

    private String run(String command) {
        return Shell.run(context, command);
    }

    private static void assertMentions(String command, String output, String... words) {
        for (String word : words) {
            assertTrue("'" + command + "' output mentions " + word + ": <" + output + ">", output.contains(word));
        }
    }

    @Test
    public void readCommandsShowTheAddon() {
        assertMentions("steward:list", run("steward:list"), FLOW, "ready");
        assertMentions("steward:status flow-export", run("steward:status flow-export"), FLOW, "ready");
        assertMentions("steward:kinds", run("steward:kinds"), "config_toggle", WiringIT.CONFIG_TOGGLE_BUNDLE);
        assertMentions("steward:plan", run("steward:plan"), FLOW);
        assertMentions("steward:reconcile", run("steward:reconcile"), FLOW);
        assertMentions("steward:audit 5", run("steward:audit 5"), FLOW);
    }

    @Test
    public void disableAndEnableHoldTheAddon() throws Exception {
        try {
            assertMentions("steward:disable flow-export", run("steward:disable flow-export"), FLOW);
            awaitState(FLOW, SupervisionState.HELD);
            awaitNoCapability(FLOW);
            String list = run("steward:list");
            assertTrue("steward:list shows " + FLOW + " held: <" + list + ">",
                    list.lines().anyMatch(l -> l.startsWith(FLOW + " ") && l.contains(" held ")));
        } finally {
            assertMentions("steward:enable flow-export", run("steward:enable flow-export"), FLOW);
        }
        awaitState(FLOW, SupervisionState.READY);
        awaitCapability(FLOW);
        assertMentions("steward:status flow-export", run("steward:status flow-export"), FLOW, "ready");
    }
}
