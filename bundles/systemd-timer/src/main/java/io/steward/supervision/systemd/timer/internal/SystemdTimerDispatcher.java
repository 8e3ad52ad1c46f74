package io.steward.supervision.systemd.timer.internal;

import io.steward.delivery.ArtifactStager;
import io.steward.privileged.UnitInstaller;
import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.annotations.SupervisionConcurrent;
import io.steward.supervision.annotations.SupervisionKind;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionDispatcher;
import io.steward.supervision.spi.SupervisionException;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.units.internal.UnitSupervisor;
import java.time.Duration;
import org.osgi.framework.BundleContext;
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
 * Dispatcher of kind {@code systemd_timer}. Configuration PID {@value #PID}. Reads systemd through
 * {@link SystemdManager}, changes the host through {@link UnitInstaller}, stages through
 * {@link ArtifactStager}. Calls for different add-ons run at once (see {@link UnitSupervisor#apply}).
 * Deactivation detaches: the units keep running under systemd and the next instance adopts them from
 * the durable record.
 */
@Component(service = SupervisionDispatcher.class, configurationPid = SystemdTimerDispatcher.PID)
@SupervisionKind("systemd_timer")
@SupervisionConcurrent
@Designate(ocd = SystemdTimerDispatcher.Config.class)
public final class SystemdTimerDispatcher implements SupervisionDispatcher {
    static final String PID = "io.steward.supervision.systemd.timer";
    static final String KIND = "systemd_timer";
    private static final Logger LOG = LoggerFactory.getLogger(SystemdTimerDispatcher.class);

    @ObjectClassDefinition(name = "systemd_timer dispatcher")
    public @interface Config {
        @AttributeDefinition(description = "Seconds to wait for one systemd job (start, stop, restart)")
        int job_timeout_seconds() default 60;
    }

    private final UnitSupervisor units;

    @Activate
    public SystemdTimerDispatcher(@Reference SystemdManager systemd, @Reference UnitInstaller installer,
            @Reference ArtifactStager stager, BundleContext context, Config config) {
        this(systemd, installer, stager, HostLayout.from(context::getProperty), config.job_timeout_seconds());
    }

    /** Outside OSGi (tests, benchmarks). */
    public SystemdTimerDispatcher(SystemdManager systemd, UnitInstaller installer, ArtifactStager stager, HostLayout layout,
            int jobTimeoutSeconds) {
        if (jobTimeoutSeconds < 1) {
            throw new IllegalArgumentException("job.timeout.seconds must be at least 1: " + jobTimeoutSeconds);
        }
        this.units = new UnitSupervisor(KIND, systemd, installer, stager, layout, Duration.ofSeconds(jobTimeoutSeconds));
        LOG.info("Kind {} ready (unit dir {}, job timeout {}s)", KIND, layout.unitDir(), jobTimeoutSeconds);
    }

    @Deactivate
    void deactivate() {
        LOG.info("Kind {} detached; its units keep running under systemd", KIND);
    }

    @Override
    public SupervisionStatus apply(AddonRecord addon) throws SupervisionException {
        return units.apply(addon);
    }

    @Override
    public SupervisionStatus adopt(AddonRecord addon) throws SupervisionException {
        return units.adopt(addon);
    }

    @Override
    public void remove(AddonId id) throws SupervisionException {
        units.remove(id);
    }

    @Override
    public SupervisionStatus status(AddonId id) throws SupervisionException {
        return units.status(id);
    }
}
