package io.steward.supervision.spi;

import io.steward.supervision.AssignmentDocument;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A source of desired state (a watched file, later a control plane). Registered as a service;
 * {@code core} reads every source on each pass and the union is the desired set. A source that
 * changes calls {@link io.steward.supervision.SupervisionService#reconcileSoon()}.
 */
@ConsumerType
public interface AssignmentSource {

    /**
     * What a source holds now.
     *
     * @param name      the source, for messages ({@code file:/etc/steward/assignments.json})
     * @param document  the last valid document, empty if the source never had one
     * @param error     why the source's latest input was refused, if it was
     * @param warnings  non-fatal problems of the latest input
     * @param changedAt when the snapshot last changed
     */
    record Snapshot(String name, Optional<AssignmentDocument> document, Optional<String> error,
                    List<String> warnings, Instant changedAt) {
        public Snapshot {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(document, "document");
            Objects.requireNonNull(error, "error");
            warnings = List.copyOf(warnings);
            Objects.requireNonNull(changedAt, "changedAt");
        }
    }

    /** The source's current snapshot; must not block. */
    Snapshot snapshot();
}
