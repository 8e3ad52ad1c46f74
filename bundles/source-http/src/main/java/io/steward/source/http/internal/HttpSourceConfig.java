package io.steward.source.http.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Configuration PID {@code io.steward.source.http}. An empty {@code url} falls back to the framework
 * property {@code steward.http.url}; with no URL at all the source is off. Only {@code https://} URLs are
 * taken, and {@code http://} only to a loopback address (a local relay, tests): the signature makes a
 * document trustworthy, TLS keeps what a host is told private.
 */
@ObjectClassDefinition(name = "Steward HTTPS poll source",
        description = "Assignments in by polling one HTTPS URL for the host's signed document")
public @interface HttpSourceConfig {
    @AttributeDefinition(description = "The URL of this host's signed document (https://; http:// only to loopback); empty: steward.http.url")
    String url() default "";

    @AttributeDefinition(description = "This host's id; empty: steward.host.id, else the first line of machine.id.file")
    String host_id() default "";

    @AttributeDefinition(description = "Where the host id comes from when none is given")
    String machine_id_file() default "/etc/machine-id";

    @AttributeDefinition(description = "TLS: the server's CA, a PEM file or a PKCS#12 trust store; empty: the JDK's trust")
    String tls_ca_file() default "";

    @AttributeDefinition(description = "TLS: the PKCS#12 trust store's password", type = org.osgi.service.metatype.annotations.AttributeType.PASSWORD)
    String tls_ca_password() default "";

    @AttributeDefinition(description = "Seconds between polls (jittered ±20 %)")
    long poll_seconds() default 60;

    @AttributeDefinition(description = "Seconds a request may take, connect to last byte")
    long request_timeout_seconds() default 30;

    @AttributeDefinition(description = "Longest wait in seconds after a failure (full jitter) or that a Retry-After may ask for")
    long max_backoff_seconds() default 900;

    @AttributeDefinition(description = "Largest signed document accepted, in bytes")
    int max_value_bytes() default 1048576;

    @AttributeDefinition(description = "The last valid document, for offline boots; empty: <data>/state/http-assignment.json")
    String cache_file() default "";

    @AttributeDefinition(description = "Unknown fields of the document are errors (true) or warnings (false)")
    boolean strict() default true;
}
