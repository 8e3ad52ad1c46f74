package io.steward.source.http.internal;

import io.steward.source.signed.HostId;
import io.steward.supervision.HostLayout;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Function;

/**
 * The HTTPS source's configuration, resolved and checked. A wrong value is an
 * {@link IllegalArgumentException} with one sentence (the component then does not activate; SCR logs it).
 */
record HttpSettings(URI url, String hostId, Path trust, Path cacheFile, Path caFile, String caPassword,
                    Duration interval, Duration timeout, Duration maxBackoff, int maxBytes, boolean strict) {
    static final String URL_PROPERTY = "steward.http.url";

    /** Empty when no URL is configured: the source is off. */
    static Optional<HttpSettings> resolve(HttpSourceConfig c, Function<String, String> properties) throws IOException {
        String url = c.url().strip();
        if (url.isEmpty()) {
            url = Optional.ofNullable(properties.apply(URL_PROPERTY)).map(String::strip).orElse("");
        }
        if (url.isEmpty()) {
            return Optional.empty();
        }
        URI uri = checkedUrl(url);
        String host = HostId.resolve("HTTP source", c.host_id(), properties, Path.of(c.machine_id_file()));
        if (c.poll_seconds() < 1 || c.request_timeout_seconds() < 1 || c.max_backoff_seconds() < 1 || c.max_value_bytes() < 1) {
            throw new IllegalArgumentException("HTTP source: poll.seconds, request.timeout.seconds, max.backoff.seconds and"
                    + " max.value.bytes must be at least 1");
        }
        HostLayout layout = HostLayout.from(properties);
        Path cache = c.cache_file().isBlank() ? layout.state().resolve("http-assignment.json") : Path.of(c.cache_file().strip());
        Path ca = c.tls_ca_file().isBlank() ? null : Path.of(c.tls_ca_file().strip()).toAbsolutePath();
        return Optional.of(new HttpSettings(uri, host, layout.trust(), cache, ca, c.tls_ca_password(),
                Duration.ofSeconds(c.poll_seconds()), Duration.ofSeconds(c.request_timeout_seconds()),
                Duration.ofSeconds(c.max_backoff_seconds()), c.max_value_bytes(), c.strict()));
    }

    /** https:// anywhere; http:// only to a loopback address, where no network sees the bytes. */
    static URI checkedUrl(String url) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("HTTP source: '" + url + "' is not a URL (" + e.getMessage() + ")");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (uri.getHost() == null || uri.getUserInfo() != null || !(scheme.equals("https") || scheme.equals("http"))) {
            throw new IllegalArgumentException("HTTP source: '" + url + "' must be https://host/path (no user info)");
        }
        if (scheme.equals("http") && !loopback(uri.getHost())) {
            throw new IllegalArgumentException("HTTP source: '" + url + "' is plain http to a host that is not loopback; use https");
        }
        return uri;
    }

    private static boolean loopback(String host) {
        try {
            // a literal address or localhost only: no name lookup decides whether bytes leave the host
            String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
            if (h.equalsIgnoreCase("localhost")) {
                return true;
            }
            if (!h.matches("[0-9.]+|[0-9a-fA-F:]+")) {
                return false;
            }
            return InetAddress.getByName(h).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
