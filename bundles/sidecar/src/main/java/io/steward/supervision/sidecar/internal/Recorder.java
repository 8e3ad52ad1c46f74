package io.steward.supervision.sidecar.internal;

import com.google.gson.JsonObject;
import io.steward.supervision.AddonId;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes and reads an add-on's durable record ({@link SidecarRecords}) with the notify address it is bound to.
 * <p>
 * Threading: any thread; a caller that writes holds the add-on's monitor.
 */
final class Recorder {
    // the dispatcher's logger: log categories stay what they were before the dispatcher was split
    private static final Logger LOG = LoggerFactory.getLogger(SidecarDispatcher.class);

    private final SidecarRecords records;
    private final NotifySockets sockets;

    Recorder(SidecarRecords records, NotifySockets sockets) {
        this.records = records;
        this.sockets = sockets;
    }

    SidecarRecords records() {
        return records;
    }

    /** Caller holds {@code s}. */
    void persist(Supervised s) throws IOException {
        records.write(s, sockets.boundAddress(s.id));
    }

    void persistQuietly(Supervised s) {
        try {
            persist(s);
        } catch (IOException e) {
            // a write interrupted by deactivation (ClosedByInterruptException) has no message; the old record stays
            LOG.warn("Add-on {}: cannot write {}: {}", s.id, stateFile(s.id), e.getMessage() != null ? e.getMessage() : e);
        }
    }

    Optional<JsonObject> read(AddonId id) {
        return records.read(id);
    }

    Path stateFile(AddonId id) {
        return records.file(id);
    }
}
