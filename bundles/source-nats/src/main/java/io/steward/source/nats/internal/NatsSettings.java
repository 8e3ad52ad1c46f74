package io.steward.source.nats.internal;

import io.steward.source.signed.HostId;
import io.steward.supervision.HostLayout;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * The NATS source's configuration, resolved and checked: the PID's values, else the framework
 * properties {@code steward.nats.servers} and {@code steward.host.id}, else the host's machine id. A
 * wrong value is an {@link IllegalArgumentException} with one sentence (the component then does not
 * activate, and SCR logs it).
 */
record NatsSettings(String hostId, String bucket, String key, String statusBucket, Path trust, Path cacheFile,
                    Duration resync, Duration heartbeat, int statusMaxBytes, NatsLink.Settings link) {
    static final String SERVERS_PROPERTY = "steward.nats.servers";

    /** Empty when no server is configured: the source is off. */
    static Optional<NatsSettings> resolve(NatsSourceConfig c, Function<String, String> properties) throws IOException {
        List<String> servers = Arrays.stream(c.servers()).map(String::strip).filter(s -> !s.isEmpty()).toList();
        if (servers.isEmpty()) {
            String fromProperty = properties.apply(SERVERS_PROPERTY);
            servers = fromProperty == null ? List.of()
                    : Arrays.stream(fromProperty.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
        }
        if (servers.isEmpty()) {
            return Optional.empty();
        }
        String host = HostId.resolve("NATS source", c.host_id(), properties, Path.of(c.machine_id_file()));
        String key = c.key().isBlank() ? "host." + host : c.key().strip();
        HostLayout layout = HostLayout.from(properties);
        Path cache = c.cache_file().isBlank() ? layout.state().resolve("nats-assignment.json") : Path.of(c.cache_file());
        if (c.reconnect_wait_millis() < 1 || c.reconnect_max_millis() < c.reconnect_wait_millis() || c.resync_seconds() < 1
                || c.heartbeat_seconds() < 1 || c.status_max_bytes() < 1024 || c.max_value_bytes() < 1) {
            throw new IllegalArgumentException("NATS source: reconnect.wait.millis, resync.seconds and heartbeat.seconds must be"
                    + " at least 1, reconnect.max.millis at least reconnect.wait.millis, status.max.bytes at least 1024");
        }
        NatsLink.Settings link = new NatsLink.Settings(servers, "steward " + host,
                c.inbox_prefix().isBlank() ? "_INBOX_" + host : c.inbox_prefix(), file(c.credentials_file()),
                file(c.tls_keystore()), c.tls_keystore_password(), file(c.tls_truststore()), c.tls_truststore_password(),
                Duration.ofMillis(c.reconnect_wait_millis()), Duration.ofMillis(c.reconnect_max_millis()));
        return Optional.of(new NatsSettings(host, c.bucket(), key, c.status_bucket(), layout.trust(), cache,
                Duration.ofSeconds(c.resync_seconds()), Duration.ofSeconds(c.heartbeat_seconds()), c.status_max_bytes(), link));
    }

    private static Path file(String name) {
        return name == null || name.isBlank() ? null : Path.of(name.strip()).toAbsolutePath();
    }
}
