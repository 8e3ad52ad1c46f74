package io.steward.supervision.systemd.service.internal;

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
 * Dispatcher of kind {@code systemd_service}. Configuration PID {@value #PID}. The work is the systemd kinds'
 * shared {@link UnitKindDispatcher}; this bundle is the kind's own component, updated on its own.
 */
@Component(service = SupervisionDispatcher.class, configurationPid = SystemdServiceDispatcher.PID)
@SupervisionKind(SystemdServiceDispatcher.KIND)
@SupervisionConcurrent
@Designate(ocd = SystemdServiceDispatcher.Config.class)
public final class SystemdServiceDispatcher extends UnitKindDispatcher {
    static final String PID = "io.steward.supervision.systemd.service";
    static final String KIND = "systemd_service";

    @ObjectClassDefinition(name = "systemd_service dispatcher")
    public @interface Config {
        @AttributeDefinition(description = "Seconds to wait for one systemd job (start, stop, restart)")
        int job_timeout_seconds() default 60;
    }

    @Activate
    public SystemdServiceDispatcher(@Reference SystemdManager systemd, @Reference UnitInstaller installer,
            @Reference ArtifactStager stager, BundleContext context, Config config) {
        this(systemd, installer, stager, HostLayout.from(context::getProperty), config.job_timeout_seconds());
    }

    /** Outside OSGi (tests, benchmarks). */
    public SystemdServiceDispatcher(SystemdManager systemd, UnitInstaller installer, ArtifactStager stager, HostLayout layout,
            int jobTimeoutSeconds) {
        super(KIND, systemd, installer, stager, layout, jobTimeoutSeconds);
    }

    @Deactivate
    void deactivate() {
        detached();
    }
}
