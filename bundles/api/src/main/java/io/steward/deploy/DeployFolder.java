package io.steward.deploy;

import java.nio.file.Path;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * What guards the agent's {@code deploy/} folder (the hot-swappable kind bundles): whether its jars must be
 * signed by a key of {@link #trust()}, and the jars moved to {@code deploy/.quarantine/} because they were not.
 * Provided by {@code io.steward.deploy}; the values are the running agent's (as it recorded them in its data
 * directory) when one runs.
 *

 */
@ProviderType
public interface DeployFolder {
    /** False only while the development switch lets unsigned jars in ({@code steward run --unsigned-kinds}). */
    boolean verifies();

    /** The directories of the keys (public keys or certificates, {@code *.pem}) trusted to sign kinds. */
    List<Path> trust();

    /** The jars quarantined so far, oldest first. */
    List<QuarantinedJar> quarantined();
}
