package io.steward.itests;

import static io.steward.itests.Assignments.configToggle;
import static io.steward.itests.Assignments.document;
import static io.steward.itests.Assignments.nextRevision;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.supervision.AddonCapability;
import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.ServiceReference;
import org.osgi.util.tracker.ServiceTracker;

/**
 * The {@code config_toggle} kind end to end: a watched file drives add-ons to {@code ready} and
 * their capability services appear; the kind bundle stopped, restarted and updated; an add-on disabled.
 * Every test sets up its own assignments; the framework is shared by the class.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ConfigToggleIT extends PlatformTestSupport {
    private static final String FLOW = "flow-export";
    private static final String TAP = "packet-tap";

    @Before
    public void setUp() throws Exception {
        // a test that failed halfway may have left the kind bundle stopped
        Bundle toggle = installedBundle(WiringIT.CONFIG_TOGGLE_BUNDLE);
        if (toggle.getState() != Bundle.ACTIVE) {
            toggle.start();
        }
    }

    /** Writes a document with both add-ons enabled and waits until both are ready with their capability. */
    private void givenTwoReadyAddons() throws Exception {
        writeAssignments(document(nextRevision("two"),
                configToggle(FLOW, true, "flow-export"),
                configToggle(TAP, true, "packet-capture", "pcap-ring")));
        awaitState(FLOW, SupervisionState.READY);
        awaitState(TAP, SupervisionState.READY);
        awaitCapability(FLOW);
        awaitCapability(TAP);
    }

    @Test
    public void twoAddonsBecomeReadyAndPublishTheirCapabilities() throws Exception {
        givenTwoReadyAddons();

        SupervisionStatus flow = supervision().status(new AddonId(FLOW)).orElseThrow();
        assertEquals("config_toggle", flow.kind());
        assertEquals(Optional.of("1.0.0"), flow.desiredVersion());
        assertEquals(Optional.of("1.0.0"), flow.activeVersion());

        ServiceReference<AddonCapability> ref = awaitCapability(FLOW);
        assertEquals(FLOW, ref.getProperty(AddonCapability.ADDON_ID));
        assertArrayEquals(new String[] {"flow-export"}, (String[]) ref.getProperty(AddonCapability.CAPABILITIES));
        AddonCapability capability = context.getService(ref);
        try {
            assertEquals(new AddonId(FLOW), capability.addon());
            assertEquals("1.0.0", capability.version());
            assertEquals(List.of("flow-export"), capability.capabilities());
            JsonObject config = JsonParser.parseString(capability.configJson()).getAsJsonObject();
            assertEquals(30, config.get("interval_seconds").getAsInt());
        } finally {
            context.ungetService(ref);
        }
        assertArrayEquals(new String[] {"packet-capture", "pcap-ring"},
                (String[]) awaitCapability(TAP).getProperty(AddonCapability.CAPABILITIES));

        // what an appliance's DS component would bind to: a target filter on the capability
        assertEquals(FLOW, trackCapability("flow-export"));
        assertEquals(TAP, trackCapability("pcap-ring"));

        assertFalse("audit.jsonl has a line for installing " + FLOW + ": " + auditLines(),
                auditLines(FLOW, a -> !a.contains("remove")).isEmpty());
        assertFalse("audit.jsonl has a line for installing " + TAP + ": " + auditLines(),
                auditLines(TAP, a -> !a.contains("remove")).isEmpty());
        assertTrue("SupervisionService.audit shows " + FLOW,
                supervision().audit(50).records().stream().anyMatch(r -> r.addon().equals(FLOW)));
        assertEquals("audit chain intact", Optional.empty(), supervision().audit(50).brokenAt());
    }

    /** Opens a tracker on {@code (capabilities=<capability>)} and returns the addon.id of what it finds. */
    private String trackCapability(String capability) throws Exception {
        String filter = "(&(objectClass=" + AddonCapability.class.getName() + ")(capabilities=" + capability + "))";
        ServiceTracker<AddonCapability, AddonCapability> tracker =
                new ServiceTracker<>(context, FrameworkUtil.createFilter(filter), null);
        tracker.open();
        try {
            assertNotNull("a tracker on " + filter + " finds a service", tracker.waitForService(DEADLINE.toMillis()));
            assertEquals("services matching " + filter, 1, tracker.size());
            return (String) tracker.getServiceReference().getProperty(AddonCapability.ADDON_ID);
        } finally {
            tracker.close();
        }
    }

    @Test
    public void stoppingTheKindBundleDetachesAndAKindBundleBackAdopts() throws Exception {
        givenTwoReadyAddons();
        reconcileNow(); // every pass requested so far has run: the ledger is settled
        Map<String, String> ledgerBefore = installedRecords(ledger());
        Map<String, Integer> othersBefore = otherBundleStates();
        Object coreServiceId = supervisionServiceId();
        Bundle toggle = installedBundle(WiringIT.CONFIG_TOGGLE_BUNDLE);


        toggle.stop();
        try {
            awaitState(FLOW, SupervisionState.DETACHED);
            awaitState(TAP, SupervisionState.DETACHED);
            reconcileNow();
            assertEquals("no AddonCapability service is left", List.of(), capabilities(null));
            assertTrue("kind config_toggle is gone from kinds(): " + supervision().kinds(),
                    supervision().kinds().stream().noneMatch(k -> k.kind().equals("config_toggle")));
            assertEquals("the other bundles are untouched", othersBefore, otherBundleStates());
            assertEquals("core was not restarted", coreServiceId, supervisionServiceId());
            Map<String, String> ledgerAfterDetach = installedRecords(ledger());
            assertEquals("what the ledger records as installed is unchanged by the detach",
                    ledgerBefore, ledgerAfterDetach);
        } finally {
            toggle.start();
        }
        awaitState(FLOW, SupervisionState.READY);
        awaitState(TAP, SupervisionState.READY);
        long firstId = (Long) awaitCapability(FLOW).getProperty(Constants.SERVICE_ID);
        awaitCapability(TAP);

        toggle.update();
        await("the updated bundle is ACTIVE", () -> toggle.getState() == Bundle.ACTIVE);
        // the update unregisters and re-registers the dispatcher: a new capability registration proves adoption ran
        await(FLOW + " has a capability registered by the updated bundle", () -> {
            List<ServiceReference<AddonCapability>> refs = capabilities(FLOW);
            return refs.size() == 1 && !refs.get(0).getProperty(Constants.SERVICE_ID).equals(firstId);
        });
        awaitCapability(TAP);
        awaitState(FLOW, SupervisionState.READY);
        awaitState(TAP, SupervisionState.READY);
        assertEquals("the other bundles are untouched", othersBefore, otherBundleStates());
        assertEquals("core was not restarted", coreServiceId, supervisionServiceId());

        // the ledger records the detached state (and `steward status` shows it), but what it says is
        // installed was checked above to be untouched: a detach changes nothing on the host
    }

    @Test
    public void disablingOneAddonRemovesItAndUnregistersItsCapability() throws Exception {
        givenTwoReadyAddons();
        int removalsBefore = auditLines(TAP, a -> a.contains("remove")).size();

        writeAssignments(document(nextRevision("one-disabled"),
                configToggle(FLOW, true, "flow-export"),
                configToggle(TAP, false, "packet-capture", "pcap-ring")));
        awaitRemovedOrGone(TAP);
        awaitNoCapability(TAP);

        assertEquals(Optional.of(SupervisionState.READY), state(FLOW));
        assertEquals(FLOW, trackCapability("flow-export"));
        assertEquals("audit.jsonl has a new remove line for " + TAP + ": " + auditLines(),
                removalsBefore + 1, auditLines(TAP, a -> a.contains("remove")).size());
        assertNotEquals(Optional.of(SupervisionState.READY), state(TAP));
    }

    /** The {@code installed} record of every ledger file, by id: the part a detach must never touch. */
    private static Map<String, String> installedRecords(Path ledgerDir) throws IOException {
        Map<String, String> installed = new TreeMap<>();
        try (java.util.stream.Stream<Path> files = Files.list(ledgerDir)) {
            for (Path f : files.toList()) {
                JsonObject o = JsonParser.parseString(Files.readString(f, StandardCharsets.UTF_8)).getAsJsonObject();
                installed.put(f.getFileName().toString(), String.valueOf(o.get("installed")));
            }
        }
        return installed;
    }

    private Map<String, Integer> otherBundleStates() {
        Map<String, Integer> states = new TreeMap<>();
        for (Bundle b : context.getBundles()) {
            if (!WiringIT.CONFIG_TOGGLE_BUNDLE.equals(b.getSymbolicName())) {
                states.put(b.getBundleId() + ":" + b.getSymbolicName() + ":" + b.getLastModified(), b.getState());
            }
        }
        return states;
    }

    private Object supervisionServiceId() {
        ServiceReference<SupervisionService> ref = context.getServiceReference(SupervisionService.class);
        assertNotNull("SupervisionService is registered", ref);
        return ref.getProperty(Constants.SERVICE_ID);
    }
}
