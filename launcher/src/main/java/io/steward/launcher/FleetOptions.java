package io.steward.launcher;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * {@code steward run --nats URL[,URL…] [--host-id ID]}: the agent takes its assignments from NATS
 * (bundle {@code io.steward.source.nats}, through the framework properties {@value #SERVERS} and
 * {@value #HOST_ID}); {@code steward run --poll URL [--host-id ID]}: from one HTTPS URL (bundle
 * {@code io.steward.source.http}, property {@value #POLL_URL}; the bundle checks the URL's rules). Without
 * {@code -a}, the file source is then not started: a missing {@code etc/assignments.json} would otherwise
 * hold every removal back (a source without a document).
 *
 * @param servers    the NATS URLs as given, or {@code null} when the agent does not use NATS
 * @param pollUrl    the polled URL, or {@code null} when the agent does not poll one
 * @param hostId     the host id, or {@code null} for the bundle's default ({@code /etc/machine-id})
 * @param fileSource whether the file source runs beside it
 */
record FleetOptions(String servers, String pollUrl, String hostId, boolean fileSource) {
    static final String SERVERS = "steward.nats.servers";
    static final String HOST_ID = "steward.host.id";
    static final String POLL_URL = "steward.http.url";
    static final String FILE_SOURCE_BUNDLE = "io.steward.source.file";
    private static final Pattern VALID_HOST_ID = Pattern.compile("[A-Za-z0-9_-]{1,128}");
    private static final Pattern URL = Pattern.compile("(nats|tls|ws|wss)://[^\\s,]+");
    private static final Pattern POLL = Pattern.compile("https?://[^\\s]+");

    static final FleetOptions NONE = new FleetOptions(null, null, null, true);

    static FleetOptions of(Options options) throws UsageException {
        String servers = options.value(Option.NATS).orElse(null);
        String poll = options.value(Option.POLL).orElse(null);
        String hostId = options.value(Option.HOST_ID).orElse(null);
        if (servers == null && poll == null) {
            if (hostId != null) {
                throw new UsageException("--host-id needs --nats or --poll");
            }
            return NONE;
        }
        if (servers != null && poll != null) {
            throw new UsageException("--nats and --poll are two sources of the host's whole document; give one");
        }
        if (poll != null && !POLL.matcher(poll).matches()) {
            throw new UsageException("--poll: '" + poll + "' is not an https:// URL");
        }
        for (String url : servers == null ? new String[0] : servers.split(",")) {
            if (!URL.matcher(url.strip()).matches()) {
                throw new UsageException("--nats: '" + url.strip() + "' is not a NATS URL (nats://HOST:PORT, tls://HOST:PORT)");
            }
        }
        if (hostId != null && !VALID_HOST_ID.matcher(hostId).matches()) {
            throw new UsageException("--host-id: '" + hostId + "' is not a valid host id (letters, digits, _ and -, at most 128)");
        }
        return new FleetOptions(servers, poll, hostId, options.flag(Option.ASSIGNMENTS));
    }

    void addTo(Map<String, String> properties) {
        if (servers != null) {
            properties.put(SERVERS, servers);
        }
        if (pollUrl != null) {
            properties.put(POLL_URL, pollUrl);
        }
        if (hostId != null) {
            properties.put(HOST_ID, hostId);
        }
    }

    /** Whether the agent leaves the bundle {@code symbolicName} stopped. */
    boolean skips(String symbolicName) {
        return !fileSource && FILE_SOURCE_BUNDLE.equals(symbolicName);
    }
}
