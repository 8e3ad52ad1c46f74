package io.steward.supervision;

import java.time.Instant;
import java.util.Objects;

/**
 * One change Steward made to the host, as kept in the hash-chained audit log.
 *
 * @param seq    position in the log, from 1
 * @param at     when
 * @param addon  the add-on concerned
 * @param action what was done ({@code install}, {@code update}, {@code remove}, …)
 * @param detail one sentence
 */
public record AuditRecord(long seq, Instant at, String addon, String action, String detail) {
    public AuditRecord {
        Objects.requireNonNull(at, "at");
        Objects.requireNonNull(addon, "addon");
        Objects.requireNonNull(action, "action");
        Objects.requireNonNull(detail, "detail");
    }
}
