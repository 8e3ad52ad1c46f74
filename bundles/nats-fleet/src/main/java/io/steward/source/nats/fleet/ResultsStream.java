package io.steward.source.nats.fleet;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import java.io.IOException;
import java.time.Duration;

/**
 * The JetStream stream the agents publish their spooled results to: its name and subjects, shared by the agent's
 * publisher and the operator's {@link FleetController}, which creates it.
 */
public final class ResultsStream {
    public static final String STREAM = "steward-results";
    public static final String SUBJECT_PREFIX = "steward.results.";
    /** Long enough to cover a broker outage and an agent restart: duplicates within it are dropped. */
    public static final Duration DUPLICATE_WINDOW = Duration.ofHours(1);

    private ResultsStream() {
    }

    /** The operator's side: creates the results stream when missing ({@code replicas} copies, file storage). */
    public static void ensure(Connection connection, int replicas) throws IOException, JetStreamApiException {
        JetStreamManagement jsm = connection.jetStreamManagement();
        if (!jsm.getStreamNames().contains(STREAM)) {
            jsm.addStream(StreamConfiguration.builder().name(STREAM).subjects(SUBJECT_PREFIX + ">")
                    .storageType(StorageType.File).replicas(replicas).duplicateWindow(DUPLICATE_WINDOW).build());
        }
    }
}
