package io.steward.systemd.units;

import io.steward.delivery.ArtifactStager;
import io.steward.privileged.UnitInstaller;
import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionDispatcher;
import io.steward.supervision.spi.SupervisionException;
import io.steward.systemd.SystemdManager;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the two systemd kinds' dispatchers share: each is this, for its kind, behind its own DS component (its
 * annotations, configuration PID and metatype stay in the kind's bundle). Reads systemd through
 * {@link SystemdManager}, changes the host through {@link UnitInstaller}, stages through {@link ArtifactStager};
 * calls for different add-ons run at once (see {@link UnitSupervisor#apply}). Deactivation detaches: the units keep
 * running under systemd and the next instance adopts them from the durable record.
 */
public abstract class UnitKindDispatcher implements SupervisionDispatcher {
    private static final Logger LOG = LoggerFactory.getLogger(UnitKindDispatcher.class);

    private final String kind;
    private final UnitSupervisor units;

    protected UnitKindDispatcher(String kind, SystemdManager systemd, UnitInstaller installer, ArtifactStager stager,
            HostLayout layout, int jobTimeoutSeconds) {
        if (jobTimeoutSeconds < 1) {
            throw new IllegalArgumentException("job.timeout.seconds must be at least 1: " + jobTimeoutSeconds);
        }
        this.kind = kind;
        this.units = new UnitSupervisor(kind, systemd, installer, stager, layout, Duration.ofSeconds(jobTimeoutSeconds));
        LOG.info("Kind {} ready (unit dir {}, job timeout {}s)", kind, layout.unitDir(), jobTimeoutSeconds);
    }

    /** For the component's deactivation. */
    protected final void detached() {
        LOG.info("Kind {} detached; its units keep running under systemd", kind);
    }

    @Override
    public final SupervisionStatus apply(AddonRecord addon) throws SupervisionException {
        return units.apply(addon);
    }

    @Override
    public final SupervisionStatus adopt(AddonRecord addon) throws SupervisionException {
        return units.adopt(addon);
    }

    @Override
    public final void remove(AddonId id) throws SupervisionException {
        units.remove(id);
    }

    @Override
    public final SupervisionStatus status(AddonId id) throws SupervisionException {
        return units.status(id);
    }
}
