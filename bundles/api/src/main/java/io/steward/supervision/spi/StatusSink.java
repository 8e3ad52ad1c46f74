package io.steward.supervision.spi;

import io.steward.supervision.ReconcileReport;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Where an agent reports what it did: registered as a service (a fleet transport, a monitoring
 * exporter); {@code core} hands every sink the report of each pass of the agent. Sinks run on the
 * reconciler's thread, so {@link #passCompleted} must not block: a sink keeps the latest report and
 * sends it on its own thread, at its own rate. A sink that throws is logged and called again next pass.
 */
@ConsumerType
public interface StatusSink {

    /** A pass finished; {@code report} holds every add-on's status after it and the pass's warnings. */
    void passCompleted(ReconcileReport report);
}
