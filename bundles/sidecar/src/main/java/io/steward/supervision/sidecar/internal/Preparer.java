package io.steward.supervision.sidecar.internal;

import io.steward.delivery.Activation;
import io.steward.delivery.AddonManifest;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.privileged.PrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a new version ready to start: stages and activates a pushed artifact (rolled back when anything after
 * that fails), grants capabilities, reads the manifest's parameters and merges the config into a {@link Spec}.
 * <p>
 * Threading: the calling operation's thread, which holds the add-on.
 */
final class Preparer {
    // the dispatcher's logger: log categories stay what they were before the dispatcher was split
    private static final Logger LOG = LoggerFactory.getLogger(SidecarDispatcher.class);

    /** What {@link #prepare} made ready: the spec, the activation to commit or roll back, the config bytes. */
    record Prepared(Spec spec, Activation activation, byte[] config) {
    }

    private final ArtifactStager stager;
    private final Params defaults;
    private final Supplier<PrivilegedOperations> privileged;
    private final AddonFiles files;

    Preparer(ArtifactStager stager, Params defaults, Supplier<PrivilegedOperations> privileged, AddonFiles files) {
        this.stager = stager;
        this.defaults = defaults;
        this.privileged = privileged;
        this.files = files;
    }

    /** Stages and activates the artifact, grants capabilities, reads the parameters and merges the config. */
    Prepared prepare(AddonRecord record) throws SupervisionException {
        Assignment a = record.assignment();
        AddonId id = a.id();
        String fingerprint = Spec.fingerprint(a);
        switch (a.delivery()) {
            case "pushed_artifact" -> {
                StagedArtifact staged = stager.stage(record);
                Activation activation = stager.activate(record, staged);
                try {
                    AddonManifest m = staged.manifest();
                    Params params;
                    try {
                        params = Params.fromManifest(m.parameters(), defaults);
                    } catch (IllegalArgumentException e) {
                        throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": " + e.getMessage());
                    }
                    Path exec = record.current().resolve(m.binary());
                    if (!Files.isRegularFile(exec) || !Files.isExecutable(exec)) {
                        throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": its binary "
                                + m.binary() + " is not an executable file in the artifact");
                    }
                    if (!a.capabilities().isEmpty()) {
                        PrivilegedOperations p = privileged.get();
                        if (p == null) {
                            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + " needs capabilities "
                                    + a.capabilities() + " but no PrivilegedOperations service is registered"
                                    + " (the agent is not root and no updater is available)");
                        }
                        exec = p.grantCapabilities(id, staged, m.binary(), a.capabilities());
                    }
                    Optional<Path> defaultConfig = m.config().isPresent()
                            ? Optional.of(AddonFiles.inside(id, staged.directory(), m.config().get())) : Optional.empty();
                    byte[] config = files.mergedConfig(id, defaultConfig, a);
                    Spec spec = new Spec(id, a.version(), fingerprint, exec, a.args(), a.env(), params, a.resources(),
                            defaultConfig, Files2.sha256(config));
                    return new Prepared(spec, activation, config);
                } catch (SupervisionException | RuntimeException e) {
                    try {
                        activation.rollback();
                    } catch (SupervisionException r) {
                        LOG.warn("Add-on {}: rolling back current failed: {}", id, r.getMessage());
                    }
                    if (e instanceof SupervisionException se) {
                        throw se;
                    }
                    throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + e, e);
                }
            }
            case "os_package" -> {
                String binary = a.binary().orElseThrow(() -> new SupervisionException(Disposition.PERMANENT,
                        "add-on " + id + ": an os_package sidecar needs the absolute path of its program in binary"));
                Path exec = Path.of(binary);
                if (!exec.isAbsolute()) {
                    throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": binary \"" + binary
                            + "\" of an os_package sidecar must be an absolute path");
                }
                if (!a.capabilities().isEmpty()) {
                    throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": capabilities are granted"
                            + " only to pushed artifacts; an os_package sets its own");
                }
                byte[] config = files.mergedConfig(id, Optional.empty(), a);
                return new Prepared(new Spec(id, a.version(), fingerprint, exec, a.args(), a.env(), defaults,
                        a.resources(), Optional.empty(), Files2.sha256(config)), null, config);
            }
            default -> throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": a sidecar needs a"
                    + " program; delivery " + a.delivery() + " has none");
        }
    }
}
