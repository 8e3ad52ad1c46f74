package io.steward.source.nats.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Configuration PID {@code io.steward.source.nats}. Empty {@code servers} and {@code host.id} fall back
 * to the framework properties {@code steward.nats.servers} (comma-separated) and {@code steward.host.id}
 * that {@code steward run --nats URL --host-id ID} sets; with no server at all the source is off.
 */
@ObjectClassDefinition(name = "Steward NATS fleet transport",
        description = "Assignments in from a JetStream Key-Value bucket, status out to another")
public @interface NatsSourceConfig {
    @AttributeDefinition(description = "NATS server URLs (nats://host:4222, tls://host:4222); empty: steward.nats.servers")
    String[] servers() default {};

    @AttributeDefinition(description = "This host's id; empty: steward.host.id, else the first line of machine.id.file")
    String host_id() default "";

    @AttributeDefinition(description = "Where the host id comes from when none is given")
    String machine_id_file() default "/etc/machine-id";

    @AttributeDefinition(description = "A NATS credentials file (.creds: user JWT and NKey seed), re-read at every connect")
    String credentials_file() default "";

    @AttributeDefinition(description = "TLS: a key store (PKCS#12 or JKS) with the client certificate; empty: none")
    String tls_keystore() default "";

    @AttributeDefinition(description = "TLS: the key store's password", type = org.osgi.service.metatype.annotations.AttributeType.PASSWORD)
    String tls_keystore_password() default "";

    @AttributeDefinition(description = "TLS: a trust store (PKCS#12 or JKS) with the servers' CA; empty: the JDK's")
    String tls_truststore() default "";

    @AttributeDefinition(description = "TLS: the trust store's password", type = org.osgi.service.metatype.annotations.AttributeType.PASSWORD)
    String tls_truststore_password() default "";

    @AttributeDefinition(description = "Key-Value bucket of the signed assignment documents")
    String bucket() default "steward-assignments";

    @AttributeDefinition(description = "Key of this host's document; empty: host.<host id>")
    String key() default "";

    @AttributeDefinition(description = "Key-Value bucket the agent writes its status to (key: the same as the document's)")
    String status_bucket() default "steward-status";

    @AttributeDefinition(description = "Inbox prefix of this connection's replies; empty: _INBOX_<host id> (per-host permissions)")
    String inbox_prefix() default "";

    @AttributeDefinition(description = "First reconnect wait in milliseconds; doubles per round of failed attempts")
    long reconnect_wait_millis() default 250;

    @AttributeDefinition(description = "Longest reconnect wait in milliseconds (each wait is random between 0 and the bound: full jitter)")
    long reconnect_max_millis() default 8000;

    @AttributeDefinition(description = "Seconds between backstop reads of the key (jittered ±20 %), against a silently lost watch")
    long resync_seconds() default 120;

    @AttributeDefinition(description = "Status writes per second, sustained (token bucket)")
    double status_per_second() default 1.0;

    @AttributeDefinition(description = "Status writes in a burst (token bucket size)")
    int status_burst() default 5;

    @AttributeDefinition(description = "Seconds between status writes when nothing changes (heartbeat, jittered ±20 %)")
    long heartbeat_seconds() default 60;

    @AttributeDefinition(description = "Largest status value in bytes; add-ons beyond it are left out and counted")
    int status_max_bytes() default 262144;

    @AttributeDefinition(description = "Largest signed document value accepted, in bytes")
    int max_value_bytes() default 1048576;

    @AttributeDefinition(description = "The last valid document, for offline boots; empty: <data>/state/nats-assignment.json")
    String cache_file() default "";

    @AttributeDefinition(description = "Unknown fields of the document are errors (true) or warnings (false)")
    boolean strict() default true;
}
