package io.steward.itests;

import static io.steward.itests.Assignments.configToggle;
import static io.steward.itests.Assignments.document;
import static io.steward.itests.Assignments.nextRevision;

import io.steward.supervision.SupervisionState;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;

/**
 * The file source coming up with a document already in place — at agent boot ({@code steward run}
 * on a configured host) and when its bundle is restarted — is reconciled at once, not only at the
 * periodic pass ({@code interval.seconds}, default 30 s). Uses the source's default configuration.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class SourceLifecycleIT extends PlatformTestSupport {
    private static final String FLOW = "flow-export";
    private static final String TAP = "packet-tap";
    private static final String SOURCE_BUNDLE = "io.steward.source.file";
    /** Well below interval.seconds: only a pass triggered by a source or a dispatcher is this fast. */
    private static final Duration FAST = Duration.ofSeconds(10);

    @Override
    protected boolean fastPolling() {
        return false;
    }

    @Override
    protected void beforeBoot(Path data, Path etc) throws IOException {
        Files.writeString(etc.resolve("assignments.json"),
                document("boot", configToggle(FLOW, true, "flow-export")), StandardCharsets.UTF_8);
    }

    private void awaitReadyFast(String id) {
        awaitState(FAST, id, SupervisionState.READY);
    }

    @Test
    public void aDocumentPresentAtBootIsApplied() {
        awaitReadyFast(FLOW);
        awaitCapability(FLOW);
    }

    @Test
    public void aDocumentChangedWhileTheSourceBundleWasStoppedIsAppliedWhenItStarts() throws Exception {
        awaitReadyFast(FLOW);
        Bundle source = installedBundle(SOURCE_BUNDLE);
        source.stop();
        try {
            writeAssignments(document(nextRevision("while-stopped"),
                    configToggle(FLOW, true, "flow-export"), configToggle(TAP, true, "packet-capture")));
        } finally {
            source.start();
        }
        awaitReadyFast(TAP);
        awaitCapability(TAP);
        awaitReadyFast(FLOW);
    }
}
