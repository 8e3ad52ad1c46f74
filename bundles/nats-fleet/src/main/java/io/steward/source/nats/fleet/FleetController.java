package io.steward.source.nats.fleet;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.KeyValue;
import io.nats.client.KeyValueManagement;
import io.nats.client.api.KeyValueConfiguration;
import io.nats.client.api.KeyValueEntry;
import io.nats.client.api.StorageType;
import io.steward.source.signed.RefusedValueException;
import io.steward.source.signed.SignedAssignment;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The operator's side of the fleet transport: creates the buckets, signs and publishes a host's next
 * document, reads the hosts' statuses. Used by {@code steward fleet}, the tests and the benchmark.
 */
public final class FleetController {
    /** A refusal to publish: one sentence. */
    public static final class Conflict extends Exception {
        private static final long serialVersionUID = 1L;

        Conflict(String message) {
            super(message);
        }
    }

    /** What {@link #put} wrote. */
    public record Published(String host, long serial, long revision, String sha256) {
    }

    private final Connection connection;
    private final String bucket;
    private final String statusBucket;

    public FleetController(Connection connection, String bucket, String statusBucket) {
        this.connection = connection;
        this.bucket = bucket;
        this.statusBucket = statusBucket;
    }

    /**
     * Creates both buckets and the results stream when missing: {@code replicas} copies each (3 in a cluster),
     * file storage.
     */
    public void ensureBuckets(int replicas) throws IOException, JetStreamApiException {
        KeyValueManagement kvm = connection.keyValueManagement();
        List<String> existing = kvm.getBucketNames();
        for (String name : List.of(bucket, statusBucket)) {
            if (!existing.contains(name)) {
                kvm.create(KeyValueConfiguration.builder().name(name).maxHistoryPerKey(5).replicas(replicas)
                        .storageType(StorageType.File).build());
            }
        }
        ResultsStream.ensure(connection, replicas);
    }

    /**
     * Signs {@code document} for {@code host} with the serial after the highest one the key's history and
     * the host's status know (a deleted key does not reset it), and writes it with compare-and-set on the
     * key's last revision: of two operators publishing at once, one wins, the other gets {@link Conflict}
     * and nothing is written for it.
     */
    public Published put(String host, String document, String keyId, PrivateKey key)
            throws IOException, JetStreamApiException, Conflict, InterruptedException {
        String k = "host." + host;
        KeyValue kv = connection.keyValue(bucket);
        List<KeyValueEntry> history;
        try {
            history = kv.history(k);
        } catch (JetStreamApiException e) {
            history = List.of();
        }
        long lastRevision = history.isEmpty() ? 0 : history.get(history.size() - 1).getRevision();
        long serial = 0;
        for (KeyValueEntry e : history) {
            serial = Math.max(serial, serialIn(e.getValue()));
        }
        serial = Math.max(serial, status(host).map(FleetController::statusSerial).orElse(0L));
        SignedAssignment value = SignedAssignment.sign(host, serial + 1, document, keyId, key);
        byte[] bytes = value.toJson().getBytes(StandardCharsets.UTF_8);
        try {
            long revision = lastRevision == 0 ? kv.create(k, bytes) : kv.update(k, bytes, lastRevision);
            return new Published(host, serial + 1, revision, value.documentSha256());
        } catch (JetStreamApiException e) {
            if (e.getApiErrorCode() == 10071 || e.getApiErrorCode() == 10164) {     // wrong last sequence / key exists
                throw new Conflict("another writer changed " + bucket + "/" + k + " meanwhile; nothing was written,"
                        + " run the command again to sign the next serial");
            }
            throw e;
        }
    }

    private static long serialIn(byte[] value) {
        if (value == null || value.length == 0) {
            return 0;
        }
        try {
            return SignedAssignment.parse(value, Integer.MAX_VALUE).serial();
        } catch (RefusedValueException e) {
            return 0;       // not a signed document: it never took effect anywhere
        }
    }

    private static long statusSerial(byte[] status) {
        try {
            com.google.gson.JsonElement s = com.google.gson.JsonParser.parseString(new String(status, StandardCharsets.UTF_8))
                    .getAsJsonObject().get("serial");
            return s == null || s.isJsonNull() ? 0 : s.getAsLong();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /** Every host's status value, by host id. */
    public TreeMap<String, byte[]> statuses() throws IOException, JetStreamApiException, InterruptedException {
        KeyValue kv = connection.keyValue(statusBucket);
        TreeMap<String, byte[]> out = new TreeMap<>();
        List<String> keys;
        try {
            keys = new ArrayList<>(kv.keys());
        } catch (JetStreamApiException e) {
            keys = List.of();
        }
        for (String k : keys) {
            KeyValueEntry e = kv.get(k);
            if (e != null && e.getValue() != null && k.startsWith("host.")) {
                out.put(k.substring("host.".length()), e.getValue());
            }
        }
        return out;
    }

    /** One host's status value, if it wrote one. */
    public Optional<byte[]> status(String host) throws IOException, JetStreamApiException {
        KeyValueEntry e = connection.keyValue(statusBucket).get("host." + host);
        return e == null ? Optional.empty() : Optional.ofNullable(e.getValue());
    }
}
