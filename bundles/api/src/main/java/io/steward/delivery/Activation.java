package io.steward.delivery;

import io.steward.supervision.spi.SupervisionException;
import java.nio.file.Path;
import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The result of pointing {@code current} at a staged version, with the means to undo it. A kind calls
 * {@link #commit()} once the add-on is up, or {@link #rollback()} if a later step failed.
 */
@ProviderType
public interface Activation {
    /** The staged version now behind {@code current}. */
    StagedArtifact staged();

    /** The version directory {@code current} pointed at before, if any. */
    Optional<Path> previous();

    /**
     * Restores the previous {@code current} (or removes {@code current} after a first install). Refuses,
     * rather than leave a dangling link, when the previous target no longer exists.
     */
    void rollback() throws SupervisionException;

    /** Keeps the new version and applies the retention policy to older ones. */
    void commit() throws SupervisionException;
}
