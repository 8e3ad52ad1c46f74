package io.steward.source.nats.internal;

import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.PublishOptions;
import io.nats.client.api.PublishAck;
import io.steward.source.nats.fleet.ResultsStream;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.ResultSink;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The NATS results transport ({@link ResultSink}): each spooled record is published to the JetStream stream
 * {@value #STREAM} on {@code steward.results.<hostId>.<addonId>} with {@code Nats-Msg-Id
 * <hostId>/<addonId>/<recordId>}, and {@link #accept} returns only after the stream acknowledged it (stored),
 * so core deletes a spool file only once all its records are in the stream; a record offered again within the
 * stream's duplicate window is dropped by JetStream. The stream is the operator's ({@link ResultsStream#ensure},
 * {@code steward fleet put --create-buckets}); an agent's user needs no right to create it.
 */
final class ResultPublisher implements ResultSink {
    static final String STREAM = ResultsStream.STREAM;
    static final String SUBJECT_PREFIX = ResultsStream.SUBJECT_PREFIX;

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
}
