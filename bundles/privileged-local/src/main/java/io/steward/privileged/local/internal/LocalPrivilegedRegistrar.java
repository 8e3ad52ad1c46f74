package io.steward.privileged.local.internal;

import io.steward.privileged.PrivilegedOperations;
import io.steward.privileged.ProcessIdentity;
import io.steward.privileged.capabilities.LocalPrivilegedOperations;
import java.util.Hashtable;
import java.util.OptionalLong;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers the in-process {@link PrivilegedOperations} when, and only when, the agent's effective uid
 * is 0 (read from {@code /proc/self/status}, not from {@code user.name}, which any {@code -D} can set).
 * A component without a service, so that a non-root agent simply has no such service from this bundle
 * and nothing shows up as unsatisfied. The registration is undone in {@link #deactivate()}.
 */
@Component(immediate = true)
public final class LocalPrivilegedRegistrar {
    private static final Logger LOG = LoggerFactory.getLogger(LocalPrivilegedRegistrar.class);

    private final ServiceRegistration<PrivilegedOperations> registration;

    @Activate
    public LocalPrivilegedRegistrar(BundleContext context) {
        OptionalLong uid = ProcessIdentity.effectiveUid();
        if (uid.isPresent() && uid.getAsLong() == 0) {
            Hashtable<String, Object> properties = new Hashtable<>();
            properties.put("privileged.mode", "in-process");
            registration = context.registerService(PrivilegedOperations.class, new LocalPrivilegedOperations(), properties);
            LOG.info("In-process privileged operations registered (the agent runs as root)");
        } else {
            registration = null;
            LOG.info("In-process privileged operations not registered: the agent runs as uid {}",
                    uid.isPresent() ? uid.getAsLong() : "unknown");
        }
    }

    @Deactivate
    void deactivate() {
        if (registration != null) {
            try {
                registration.unregister();
            } catch (IllegalStateException e) {
                // already gone with the bundle
            }
        }
    }

}
