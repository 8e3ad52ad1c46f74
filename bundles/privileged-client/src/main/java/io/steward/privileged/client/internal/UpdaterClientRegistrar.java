package io.steward.privileged.client.internal;

import io.steward.observe.StewardObserver;
import io.steward.privileged.PrivilegedOperations;
import io.steward.privileged.ProcessIdentity;
import io.steward.privileged.UnitInstaller;
import io.steward.privileged.client.UpdaterClient;
import io.steward.privileged.protocol.Protocol;
import java.nio.file.Path;
import java.util.Hashtable;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.FieldOption;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers the updater's client as {@link PrivilegedOperations} and {@link UnitInstaller} when, and only when,
 * the agent's effective uid is not 0 (read from {@code /proc/self/status}, as {@code io.steward.privileged.local}
 * and the in-process unit installer of {@code io.steward.systemd.dbus} decide the opposite). So exactly one
 * provider of each service exists, and none shows up as unsatisfied. The socket is the framework property
 * {@value Protocol#SOCKET_PROPERTY} (default {@value Protocol#DEFAULT_SOCKET}); nothing is connected until the
 * first call. The registration is undone in {@link #deactivate()}.
 */
@Component(immediate = true)
public final class UpdaterClientRegistrar {
    private static final Logger LOG = LoggerFactory.getLogger(UpdaterClientRegistrar.class);

    private final ServiceRegistration<?> registration;

    /** Metrics count calls and refusals here (whiteboard); handed to the client. */
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            fieldOption = FieldOption.UPDATE)
    private final List<StewardObserver> observers = new CopyOnWriteArrayList<>();

    @Activate
    public UpdaterClientRegistrar(BundleContext context) {
        this(context, Path.of("/proc/self/status"));
    }

    /** For tests: the uid is read from {@code procStatus}. */
    UpdaterClientRegistrar(BundleContext context, Path procStatus) {
        OptionalLong uid = ProcessIdentity.effectiveUid(procStatus);
        if (uid.isPresent() && uid.getAsLong() == 0) {
            registration = null;
            LOG.info("steward-updater client not registered: the agent runs as root and works in-process");
            return;
        }
        String configured = context.getProperty(Protocol.SOCKET_PROPERTY);
        Path socket = Path.of(configured == null || configured.isBlank() ? Protocol.DEFAULT_SOCKET : configured.trim())
                .toAbsolutePath().normalize();
        Hashtable<String, Object> properties = new Hashtable<>();
        properties.put("privileged.mode", "updater");
        properties.put(Protocol.SOCKET_PROPERTY, socket.toString());
        UpdaterClient client = new UpdaterClient(socket);
        client.observers(observers);
        registration = context.registerService(new String[] {PrivilegedOperations.class.getName(),
                UnitInstaller.class.getName()}, client, properties);
        LOG.info("Privileged work goes to the steward-updater at {} (the agent runs as uid {})", socket,
                uid.isPresent() ? uid.getAsLong() : "unknown");
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
