package io.steward.supervision.ephemeral.helper.internal;

import io.steward.delivery.Activation;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.privileged.PrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * The program a helper runs and the directories it needs: a pushed artifact staged, activated, checked (and its
 * file capabilities granted) and committed, or an os_package's binary; the spool. Called under the dispatcher's lock.
 */
final class HelperPrograms {

    private final ArtifactStager stager;
    /** The dispatcher's optional, dynamic reference: read at each use. */
    private final Supplier<PrivilegedOperations> privileged;

    HelperPrograms(ArtifactStager stager, Supplier<PrivilegedOperations> privileged) {
        this.stager = stager;
        this.privileged = privileged;
    }

    /** The spool the runs write results into (runs are the agent's user: nothing wider than 0700). */
    static void createSpool(AddonRecord addon) throws SupervisionException {
        try {
            Files.createDirectories(addon.spool());
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + addon.id() + ": apply failed: cannot "
                    + "create its spool " + addon.spool() + ": " + e.getMessage(), e);
        }
    }

    /** stage → activate → check the program (and grant capabilities) → commit; rolls back on failure. */
    Path stageAndActivate(AddonRecord addon) throws SupervisionException {
        AddonId id = addon.id();
        StagedArtifact staged;
        Activation activation;
        try {
            staged = stager.stage(addon);
            activation = stager.activate(addon, staged);
        } catch (RuntimeException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": staging failed: " + e, e);
        }
        try {
            Path executable = executable(addon, staged);
            activation.commit();
            return executable;
        } catch (SupervisionException | RuntimeException e) {
            SupervisionException failure = e instanceof SupervisionException se ? se
                    : new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": activation failed: " + e, e);
            try {
                activation.rollback();
            } catch (SupervisionException | RuntimeException r) {
                failure.addSuppressed(r);
            }
            throw failure;
        }
    }

    /** The program to run for a staged version: {@code current/<binary>}, or the path capabilities were granted on. */
    Path executable(AddonRecord addon, StagedArtifact staged) throws SupervisionException {
        Assignment a = addon.assignment();
        String binary = a.binary().orElse(staged.manifest().binary());
        Path inVersion = staged.directory().resolve(binary).normalize();
        if (!inVersion.startsWith(staged.directory()) || !Files.isRegularFile(inVersion, LinkOption.NOFOLLOW_LINKS)
                || !Files.isExecutable(inVersion)) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + a.id() + ": activation failed: "
                    + binary + " is not an executable file in version " + staged.manifest().version());
        }
        if (a.capabilities().isEmpty()) {
            // through current: a run follows what current points at, including after a rollback
            return addon.current().resolve(binary);
        }
        PrivilegedOperations p = privileged.get();
        if (p == null) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + a.id() + ": granting capabilities "
                    + a.capabilities() + " failed: no privileged-operations service is registered");
        }
        try {
            return p.grantCapabilities(a.id(), staged, binary, a.capabilities());
        } catch (RuntimeException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + a.id() + ": granting capabilities "
                    + a.capabilities() + " failed: " + e, e);
        }
    }

    /** os_package: the package put the program in place; file capabilities are the package's business. */
    static Path packaged(Assignment a) throws SupervisionException {
        Path executable = Path.of(a.binary().orElseThrow(() -> new SupervisionException(Disposition.PERMANENT,
                "add-on " + a.id() + ": apply failed: delivery os_package needs a binary path")));
        if (!Files.isRegularFile(executable) || !Files.isExecutable(executable)) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + a.id() + ": apply failed: "
                    + executable + " is not an executable file (is its package installed?)");
        }
        return executable;
    }
}
