package io.steward.audit;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Appends a change Steward made outside a reconcile pass (a jar of {@code deploy/} moved to quarantine) to the
 * hash-chained audit log that {@code core} keeps, so that log stays the one record of what changed. Provided by
 * {@code core}; returns at once, the line is written on the reconciler's queue.
 */
@ProviderType
public interface AuditSink {
    /** One line: {@code subject} names what it concerns (the {@code addon} field), {@code detail} is one sentence. */
    void record(String subject, String action, String detail);
}
