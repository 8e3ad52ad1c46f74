package io.steward.supervision.systemd.timer.internal;

import io.steward.delivery.ArtifactStager;
import io.steward.privileged.UnitInstaller;
import io.steward.supervision.HostLayout;
import io.steward.supervision.annotations.SupervisionConcurrent;
import io.steward.supervision.annotations.SupervisionKind;
import io.steward.supervision.spi.SupervisionDispatcher;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.units.UnitKindDispatcher;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Dispatcher of kind {@code systemd_timer}. Configuration PID {@value #PID}. The work is the systemd kinds'
 * shared {@link UnitKindDispatcher}; this bundle is the kind's own component, updated on its own.
 */
@Component(service = SupervisionDispatcher.class, configurationPid = SystemdTimerDispatcher.PID)
@SupervisionKind(SystemdTimerDispatcher.KIND)
@SupervisionConcurrent
@Designate(ocd = SystemdTimerDispatcher.Config.class)
public final class SystemdTimerDispatcher extends UnitKindDispatcher {
    static final String PID = "io.steward.supervision.systemd.timer";
    static final String KIND = "systemd_timer";

    @ObjectClassDefinition(name = "systemd_timer dispatcher")
    public @interface Config {
        @AttributeDefinition(description = "Seconds to wait for one systemd job (start, stop, restart)")
        int job_timeout_seconds() default 60;
    }

    @Activate
    public SystemdTimerDispatcher(@Reference SystemdManager systemd, @Reference UnitInstaller installer,
            @Reference ArtifactStager stager, BundleContext context, Config config) {
        this(systemd, installer, stager, HostLayout.from(context::getProperty), config.job_timeout_seconds());
    }

    /** Outside OSGi (tests, benchmarks). */
    public SystemdTimerDispatcher(SystemdManager systemd, UnitInstaller installer, ArtifactStager stager, HostLayout layout,
            int jobTimeoutSeconds) {
        super(KIND, systemd, installer, stager, layout, jobTimeoutSeconds);
    }

    @Deactivate
    void deactivate() {
        detached();
    }
}
