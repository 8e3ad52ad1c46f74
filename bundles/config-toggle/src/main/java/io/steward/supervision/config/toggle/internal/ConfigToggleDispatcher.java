package io.steward.supervision.config.toggle.internal;

import io.steward.supervision.AddonCapability;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.annotations.SupervisionKind;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionDispatcher;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

/**
 * Dispatcher of kind {@code config_toggle}: no process, no files. While an add-on is applied, an
 * {@link AddonCapability} service announces its capabilities (properties {@code addon.id} and
 * {@code capabilities}) for the appliance's components to bind to; removal unregisters it.
 * <p>
 * The capability lives in this bundle's registrations, so stopping or updating the bundle takes it
 * down with the bundle (core reports the add-ons {@code detached}); {@code adopt} registers it again.
 */
@Component(service = SupervisionDispatcher.class)
@SupervisionKind("config_toggle")
public final class ConfigToggleDispatcher implements SupervisionDispatcher {
    static final String KIND = "config_toggle";

    private record Capability(AddonId addon, String version, List<String> capabilities, String configJson)
            implements AddonCapability {
    }

    private record Toggle(Assignment assignment, ServiceRegistration<AddonCapability> registration) {
    }

    private final BundleContext context;
    private final Map<AddonId, Toggle> toggles = new ConcurrentHashMap<>();

    @Activate
    public ConfigToggleDispatcher(BundleContext context) {
        this.context = context;
    }

    @Deactivate
    void deactivate() {
        toggles.values().forEach(t -> unregister(t.registration()));
        toggles.clear();
    }

    @Override
    public synchronized SupervisionStatus apply(AddonRecord addon) {
        Assignment a = addon.assignment();
        Toggle existing = toggles.get(a.id());
        if (existing == null || !existing.assignment().equals(a)) {
            Hashtable<String, Object> properties = new Hashtable<>();
            properties.put(AddonCapability.ADDON_ID, a.id().value());
            properties.put(AddonCapability.CAPABILITIES, a.capabilities().toArray(String[]::new));
            properties.put("addon.version", a.version());
            ServiceRegistration<AddonCapability> registration = context.registerService(AddonCapability.class,
                    new Capability(a.id(), a.version(), a.capabilities(), a.configJson()), properties);
            toggles.put(a.id(), new Toggle(a, registration));
            if (existing != null) {
                unregister(existing.registration());   // the new one is up first: no gap for consumers
            }
        }
        return status(a.id());
    }

    @Override
    public SupervisionStatus adopt(AddonRecord addon) {
        return apply(addon);
    }

    @Override
    public synchronized void remove(AddonId id) {
        Toggle t = toggles.remove(id);
        if (t != null) {
            unregister(t.registration());
        }
    }

    @Override
    public SupervisionStatus status(AddonId id) {
        Toggle t = toggles.get(id);
        if (t == null) {
            return SupervisionStatus.of(id, KIND, SupervisionState.PENDING, Optional.empty(),
                    "capability not switched on in this agent");
        }
        List<String> caps = t.assignment().capabilities();
        return SupervisionStatus.of(id, KIND, SupervisionState.READY, Optional.of(t.assignment().version()),
                caps.isEmpty() ? "switched on" : "capabilities on: " + String.join(", ", caps));
    }

    private static void unregister(ServiceRegistration<?> registration) {
        try {
            registration.unregister();
        } catch (IllegalStateException e) {
            // already gone with the bundle
        }
    }
}
