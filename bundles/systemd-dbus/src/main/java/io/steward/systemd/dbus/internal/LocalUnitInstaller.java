package io.steward.systemd.dbus.internal;

import io.steward.privileged.ProcessIdentity;
import io.steward.privileged.UnitInstaller;
import io.steward.supervision.HostLayout;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.install.SystemdUnitInstaller;
import java.time.Duration;
import java.util.Hashtable;
import java.util.OptionalLong;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The in-process {@link UnitInstaller}, used when the agent runs as root: {@link SystemdUnitInstaller}
 * (bundles/systemd-install, embedded) with its configuration, PID {@value #PID}.
 * <p>
 * Like {@code io.steward.privileged.local}, it registers its {@link UnitInstaller} service only when the agent's
 * effective uid is 0 (read from {@code /proc/self/status}); a non-root agent gets the updater's client instead
 * ({@code io.steward.privileged.client}), and nothing shows up as unsatisfied.
 */
@Component(service = {}, immediate = true, configurationPid = LocalUnitInstaller.PID)   // registers itself: root only
@Designate(ocd = LocalUnitInstaller.Config.class)
public final class LocalUnitInstaller extends SystemdUnitInstaller {
    static final String PID = "io.steward.systemd.installer";
    private static final Logger LOG = LoggerFactory.getLogger(LocalUnitInstaller.class);

    @ObjectClassDefinition(name = "Steward in-process unit installer")
    public @interface Config {
        @AttributeDefinition(description = "Milliseconds a started service must stay active (same main process) "
                + "before it counts as running; catches programs that exit right after starting. Applies to "
                + "Type=simple, exec and idle services: notify, forking, oneshot and dbus ones prove their start")
        long confirm_millis() default 300;

        @AttributeDefinition(description = "Refuse to run unless the agent is root (the unit directory is root's)")
        boolean require_root() default true;
    }

    /** The service registration; null when the agent is not root. */
    private final ServiceRegistration<UnitInstaller> registration;

    @Activate
    public LocalUnitInstaller(@Reference SystemdManager systemd, BundleContext context, Config config) {
        super(systemd, HostLayout.from(context::getProperty), Duration.ofMillis(config.confirm_millis()));
        OptionalLong uid = config.require_root() ? ProcessIdentity.effectiveUid() : OptionalLong.of(0);
        if (uid.isPresent() && uid.getAsLong() == 0) {
            Hashtable<String, Object> properties = new Hashtable<>();
            properties.put("privileged.mode", "in-process");
            registration = context.registerService(UnitInstaller.class, this, properties);
        } else {
            registration = null;
            LOG.info("In-process unit installer not registered: the agent runs as uid {} (the updater's client "
                    + "installs units)", uid.isPresent() ? uid.getAsLong() : "unknown");
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
