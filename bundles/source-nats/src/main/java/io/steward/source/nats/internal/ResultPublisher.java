package io.steward.source.nats.internal;

import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.PublishOptions;
import io.nats.client.api.PublishAck;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.ResultSink;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The NATS results transport ({@link ResultSink}): each spooled record is published to the JetStream stream
 * {@value #STREAM} on {@code steward.results.<hostId>.<addonId>} with {@code Nats-Msg-Id
 * <hostId>/<addonId>/<recordId>}, and {@link #accept} returns only after the stream acknowledged it (stored),
 * so core deletes a spool file only once all its records are in the stream; a record offered again within the
 * stream's duplicate window is dropped by JetStream. The stream is the operator's ({@link #ensureStream},
 * {@code steward fleet put --create-buckets}); an agent's user needs no right to create it.
 */
final class ResultPublisher implements ResultSink {
    static final String STREAM = "steward-results";
    static final String SUBJECT_PREFIX = "steward.results.";
    /** Long enough to cover a broker outage and an agent restart: duplicates within it are dropped. */
    static final Duration DUPLICATE_WINDOW = Duration.ofHours(1);

    private final String hostId;
    private volatile JetStream jetStream;     // null while the link is down

    ResultPublisher(String hostId) {
        this.hostId = hostId;
    }

    /** The link is up: publish on {@code connection}. */
    void up(Connection connection) throws IOException {
        jetStream = connection.jetStream();
    }

    /** The link is down: refuse at once, the spool keeps the records. */
    void down() {
        jetStream = null;
    }

    static String subject(String hostId, AddonId addon) {
        return SUBJECT_PREFIX + hostId + "." + addon.value();
    }

    @Override
    public void accept(AddonId addon, String recordId, String json) throws IOException {
        JetStream js = jetStream;
        if (js == null) {
            throw new IOException("not connected to NATS");
        }
        PublishOptions options = PublishOptions.builder().expectedStream(STREAM)
                .messageId(hostId + "/" + addon.value() + "/" + recordId).build();
        try {
            PublishAck ack = js.publish(subject(hostId, addon), json.getBytes(StandardCharsets.UTF_8), options);
            if (ack.hasError()) {
                throw new IOException("stream " + STREAM + " did not store the record: " + ack.getError());
            }
        } catch (JetStreamApiException | IOException e) {
            throw new IOException("stream " + STREAM + " did not store the record (permission denied, no such stream "
                    + "or unreachable: " + e.getMessage() + ")", e);
        }
    }

    /** The operator's side: creates the results stream when missing ({@code replicas} copies, file storage). */
    static void ensureStream(Connection connection, int replicas) throws IOException, JetStreamApiException {
        JetStreamManagement jsm = connection.jetStreamManagement();
        if (!jsm.getStreamNames().contains(STREAM)) {
            jsm.addStream(StreamConfiguration.builder().name(STREAM).subjects(SUBJECT_PREFIX + ">")
                    .storageType(StorageType.File).replicas(replicas).duplicateWindow(DUPLICATE_WINDOW).build());
        }
    }
}
