package io.steward.supervision.spi;

import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import java.nio.file.Path;
import java.util.Objects;

/**
 * What a dispatcher needs to supervise one add-on.
 *
 * @param assignment the assignment (the add-on's kind has been normalised to its canonical spelling)
 * @param home       the add-on's directory under {@code <data>/addons}; {@code current} lives in it
 * @param generation grows on every change of the assignment Steward hands to dispatchers
 */
public record AddonRecord(Assignment assignment, Path home, long generation) {
    public AddonRecord {
        Objects.requireNonNull(assignment, "assignment");
        Objects.requireNonNull(home, "home");
    }

    /** Shortcut for {@code assignment().id()}. */
    public AddonId id() {
        return assignment.id();
    }

    /** The add-on's result spool, {@code <home>/spool} ({@link io.steward.supervision.HostLayout#addonSpool}). */
    public Path spool() {
        return home.resolve(io.steward.supervision.HostLayout.SPOOL);
    }

    /** The {@code current} link of the add-on. */
    public Path current() {
        return home.resolve("current");
    }
}
