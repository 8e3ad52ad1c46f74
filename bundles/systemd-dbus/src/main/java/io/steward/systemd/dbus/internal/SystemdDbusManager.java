package io.steward.systemd.dbus.internal;

import io.steward.systemd.SystemdManager;
import io.steward.systemd.bus.DbusSystemdManager;
import java.time.Duration;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The {@link SystemdManager} service: {@link DbusSystemdManager} (bundles/systemd-bus, embedded) with its
 * configuration, PID {@value #PID}. Talks to {@code steward.systemd.bus}, else {@code DBUS_SYSTEM_BUS_ADDRESS},
 * else the system bus; disconnects in {@code deactivate}.
 */
@Component(service = SystemdManager.class, configurationPid = SystemdDbusManager.PID)
@Designate(ocd = SystemdDbusManager.Config.class)
public final class SystemdDbusManager extends DbusSystemdManager {
    static final String PID = "io.steward.systemd.dbus";
    static final String DEFAULT_BUS = "unix:path=/run/dbus/system_bus_socket";

    @ObjectClassDefinition(name = "Steward systemd over D-Bus")
    public @interface Config {
        @AttributeDefinition(description = "Milliseconds to wait for the reply of one D-Bus call")
        long call_timeout_millis() default 10_000;
    }

    @Activate
    public SystemdDbusManager(BundleContext context, Config config) {
        super(busAddress(context.getProperty(BUS_PROPERTY), System.getenv("DBUS_SYSTEM_BUS_ADDRESS")),
                Duration.ofMillis(config.call_timeout_millis()));
    }

    /** The bus to use: the framework property, else the environment, else the system bus. */
    static String busAddress(String property, String environment) {
        if (property != null && !property.isBlank()) {
            return property.trim();
        }
        if (environment != null && !environment.isBlank()) {
            return environment.trim();
        }
        return DEFAULT_BUS;
    }

    @Deactivate
    @Override
    public void close() {
        super.close();
    }
}
