package io.steward.supervision.spi;

import io.steward.supervision.AddonId;
import java.io.IOException;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Where the results that timers and helpers leave in their spool go (a fleet transport): registered as a
 * service; {@code core} ingests each add-on's spool ({@code <data>/addons/<id>/spool/*.jsonl}) and hands every
 * record here, one at a time, on its own thread. Delivery is at least once: a spool file is deleted only after
 * every record in it was accepted, so after a failure or a restart the same records come again, with the same
 * {@code recordId}; a sink de-duplicates by it.
 */
@ConsumerType
public interface ResultSink {

    /**
     * Accepts one record durably (it survives this process and the sink's broker) before returning.
     *
     * @param addon    the add-on whose spool held it
     * @param recordId stable for the same line of the same file: {@code <file>:<line>:<hash>}
     * @param json     one JSON object, as the run wrote it (one line, strictly valid)
     * @throws IOException when it could not; the file stays in the spool and is offered again later
     */
    void accept(AddonId addon, String recordId, String json) throws IOException;
}
