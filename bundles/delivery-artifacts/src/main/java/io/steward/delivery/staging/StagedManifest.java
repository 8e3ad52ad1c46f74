package io.steward.delivery.staging;

import io.steward.delivery.AddonManifest;
import io.steward.delivery.artifacts.ArtifactReader;
import io.steward.delivery.artifacts.Failures;
import io.steward.delivery.artifacts.Limits;
import io.steward.delivery.artifacts.Manifests;
import io.steward.supervision.Assignment;
import io.steward.supervision.spi.SupervisionException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The {@code addon.json} of a staged version: parsed from what was just read, or read back from a version
 * directory, and checked against the assignment; every failure is the manifest step's. Stateless.
 */
final class StagedManifest {
    private StagedManifest() {
    }

    static AddonManifest checked(Failures fail, ArtifactReader.Result result, Assignment a)
            throws SupervisionException {
        if (result.manifest().isEmpty()) {
            throw fail.permanent(Manifests.STEP, "the artifact has no addon.json at its root");
        }
        try {
            AddonManifest m = Manifests.parse(result.manifest().get());
            Manifests.check(m, a, result.files());
            return m;
        } catch (Manifests.Invalid e) {
            throw fail.permanent(Manifests.STEP, e.getMessage());
        }
    }

    static AddonManifest read(Failures fail, Path dir) throws SupervisionException {
        try {
            Path file = dir.resolve(ArtifactReader.MANIFEST);
            if (Files.size(file) > Limits.MAX_MANIFEST_BYTES) {
                throw fail.permanent(Manifests.STEP, file + " is larger than " + Limits.MAX_MANIFEST_BYTES + " bytes");
            }
            return Manifests.parse(Files.readAllBytes(file));
        } catch (Manifests.Invalid e) {
            throw fail.permanent(Manifests.STEP, e.getMessage());
        } catch (IOException e) {
            throw fail.temporary(Manifests.STEP, "cannot read addon.json in " + dir + ": " + Failures.describe(e), e);
        }
    }

    /** The files a manifest names that exist as regular files in a staged directory. */
    static Set<String> presentFiles(Path dir, AddonManifest m) {
        Set<String> present = new HashSet<>();
        List<String> named = new ArrayList<>(m.units());
        named.add(m.binary());
        m.config().ifPresent(named::add);
        for (String name : named) {
            if (Files.isRegularFile(dir.resolve(name), LinkOption.NOFOLLOW_LINKS)) {
                present.add(name);
            }
        }
        return present;
    }
}
