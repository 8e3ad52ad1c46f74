package io.steward.supervision.config.toggle.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.steward.supervision.AddonCapability;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AddonRecord;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceEvent;
import org.osgi.framework.ServiceListener;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * The config_toggle dispatcher through the SPI, its capability services in a real Felix framework (storage in a
 * temporary directory), seen the way an appliance's component sees them: by a filter on the service registry.
 */
class ConfigToggleDispatcherTest {
    @TempDir
    Path storage;

    private Framework framework;
    private BundleContext context;
    private ConfigToggleDispatcher kind;

    @BeforeEach
    void start() throws Exception {
        framework = ServiceLoader.load(FrameworkFactory.class).findFirst().orElseThrow()
                .newFramework(Map.of(Constants.FRAMEWORK_STORAGE, storage.toString(),
                        Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT));
        framework.start();
        context = framework.getBundleContext();
        kind = new ConfigToggleDispatcher(context);
    }

    @AfterEach
    void stop() throws Exception {
        framework.stop();
        framework.waitForStop(10_000);
    }

    private AddonRecord record(String id, String version, List<String> capabilities, String config) {
        Assignment a = new Assignment(new AddonId(id), version, true, "config_toggle", "compiled_in",
                Optional.empty(), Optional.empty(), List.of(), Map.of(), config, capabilities, Resources.NONE);
        return new AddonRecord(a, HostLayout.from(k -> null).addonHome(a.id()), 1);
    }

    private Collection<ServiceReference<AddonCapability>> capabilities(String filter) throws Exception {
        return context.getServiceReferences(AddonCapability.class, filter);
    }

    private ServiceReference<AddonCapability> only(String filter) throws Exception {
        Collection<ServiceReference<AddonCapability>> refs = capabilities(filter);
        assertEquals(1, refs.size(), filter + ": " + refs);
        return refs.iterator().next();
    }

    @Test
    void applyRegistersTheCapabilityAnApplianceBindsToByFilter() throws Exception {
        SupervisionStatus s = kind.apply(record("flow-export", "1.0.0", List.of("flow-export", "pcap"),
                "{\"rate\":5}"));
        assertEquals(SupervisionState.READY, s.state());
        assertEquals("config_toggle", s.kind());
        assertEquals(Optional.of("1.0.0"), s.activeVersion());
        assertEquals("capabilities on: flow-export, pcap", s.detail());

        ServiceReference<AddonCapability> ref = only("(capabilities=pcap)");
        assertEquals("flow-export", ref.getProperty(AddonCapability.ADDON_ID));
        assertEquals("1.0.0", ref.getProperty("addon.version"));
        assertArrayEquals(new String[] {"flow-export", "pcap"}, (String[]) ref.getProperty("capabilities"));
        AddonCapability c = context.getService(ref);
        assertEquals(new AddonId("flow-export"), c.addon());
        assertEquals("1.0.0", c.version());
        assertEquals(List.of("flow-export", "pcap"), c.capabilities());
        assertEquals("{\"rate\":5}", c.configJson(), "the add-on's config reaches the appliance");
        context.ungetService(ref);
        assertEquals(0, capabilities("(capabilities=other)").size());
        assertEquals(s.detail(), kind.status(new AddonId("flow-export")).detail());
    }

    @Test
    void applyingTheSameAssignmentAgainChangesNothing() throws Exception {
        AddonRecord r = record("x", "1", List.of("a"), "{}");
        kind.apply(r);
        Object serviceId = only("(addon.id=x)").getProperty(Constants.SERVICE_ID);
        List<Integer> events = new ArrayList<>();
        ServiceListener listener = e -> events.add(e.getType());
        context.addServiceListener(listener, "(objectClass=" + AddonCapability.class.getName() + ")");
        assertEquals(SupervisionState.READY, kind.apply(r).state());
        assertEquals(SupervisionState.READY, kind.adopt(r).state());
        context.removeServiceListener(listener);
        assertEquals(List.of(), events, "no service event for consumers");
        assertEquals(serviceId, only("(addon.id=x)").getProperty(Constants.SERVICE_ID));
    }

    @Test
    void anUpdateRegistersTheNewServiceBeforeWithdrawingTheOld() throws Exception {
        kind.apply(record("x", "1", List.of("a"), "{}"));
        Object first = only("(addon.id=x)").getProperty(Constants.SERVICE_ID);
        List<String> events = new ArrayList<>();
        context.addServiceListener(e -> events.add((e.getType() == ServiceEvent.REGISTERED ? "registered "
                : e.getType() == ServiceEvent.UNREGISTERING ? "unregistering " : "modified ")
                + e.getServiceReference().getProperty("addon.version")),
                "(objectClass=" + AddonCapability.class.getName() + ")");

        SupervisionStatus s = kind.apply(record("x", "2", List.of("a", "b"), "{}"));
        assertEquals(Optional.of("2"), s.activeVersion());
        assertEquals(List.of("registered 2", "unregistering 1"), events, "no moment without the capability");
        ServiceReference<AddonCapability> now = only("(addon.id=x)");
        assertNotEquals(first, now.getProperty(Constants.SERVICE_ID));
        assertEquals("2", now.getProperty("addon.version"));
        assertNotNull(only("(capabilities=b)"));
    }

    @Test
    void removeWithdrawsTheCapabilityAndIsIdempotent() throws Exception {
        kind.apply(record("x", "1", List.of("a"), "{}"));
        kind.apply(record("y", "1", List.of("a"), "{}"));
        assertEquals(2, capabilities("(capabilities=a)").size());
        kind.remove(new AddonId("x"));
        assertEquals("y", only("(capabilities=a)").getProperty(AddonCapability.ADDON_ID));
        SupervisionStatus gone = kind.status(new AddonId("x"));
        assertEquals(SupervisionState.PENDING, gone.state());
        assertEquals("capability not switched on in this agent", gone.detail());
        assertEquals(Optional.empty(), gone.activeVersion());
        kind.remove(new AddonId("x"));
        kind.remove(new AddonId("never-applied"));
        assertEquals(1, capabilities(null).size());
    }

    @Test
    void anAddonWithoutCapabilitiesIsSwitchedOnAllTheSame() throws Exception {
        SupervisionStatus s = kind.apply(record("plain", "1", List.of(), "{}"));
        assertEquals(SupervisionState.READY, s.state());
        assertEquals("switched on", s.detail());
        assertArrayEquals(new String[0], (String[]) only("(addon.id=plain)").getProperty("capabilities"));
    }

    @Test
    void deactivationTakesTheCapabilitiesDownAndTheNextInstanceAdoptsThem() throws Exception {
        AddonRecord r = record("x", "1", List.of("a"), "{}");
        kind.apply(r);
        kind.deactivate();                       // the bundle stops or is updated
        assertEquals(0, capabilities(null).size());
        assertEquals(SupervisionState.PENDING, kind.status(r.id()).state());

        ConfigToggleDispatcher next = new ConfigToggleDispatcher(context);
        assertEquals(SupervisionState.READY, next.adopt(r).state());
        assertEquals("x", only("(capabilities=a)").getProperty(AddonCapability.ADDON_ID));
    }
}
