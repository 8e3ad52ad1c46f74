package io.steward.supervision;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The tail of the audit log and whether its hash chain is intact.
 *
 * @param records     the last records, oldest first
 * @param brokenAt    the first record whose {@code prev} hash does not match its predecessor, if any
 */
public record AuditTrail(List<AuditRecord> records, Optional<Long> brokenAt) {
    public AuditTrail {
        records = List.copyOf(records);
        Objects.requireNonNull(brokenAt, "brokenAt");
    }
}
