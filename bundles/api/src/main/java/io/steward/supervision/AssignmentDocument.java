package io.steward.supervision;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A validated assignment document: at most one assignment per add-on id, in document order.
 *
 * @param revision opaque revision string, echoed in status; empty when the document has none
 * @param addons   the assignments
 */
public record AssignmentDocument(String revision, List<Assignment> addons) {
    /** The empty document. */
    public static final AssignmentDocument EMPTY = new AssignmentDocument("", List.of());

    public AssignmentDocument {
        Objects.requireNonNull(revision, "revision");
        addons = List.copyOf(addons);
        Set<AddonId> seen = new HashSet<>();
        for (Assignment a : addons) {
            if (!seen.add(a.id())) {
                throw new IllegalArgumentException("add-on " + a.id() + " is assigned twice");
            }
        }
    }

    /** The assignment of one add-on, if the document has it. */
    public Optional<Assignment> find(AddonId id) {
        return addons.stream().filter(a -> a.id().equals(id)).findFirst();
    }
}
