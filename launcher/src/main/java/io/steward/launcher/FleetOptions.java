package io.steward.launcher;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * {@code steward run --nats URL[,URL…] [--host-id ID]}: the agent takes its assignments from NATS
 * (bundle {@code io.steward.source.nats}, through the framework properties {@value #SERVERS} and
 * {@value #HOST_ID}). Without {@code -a}, the file source is then not started: a missing
 * {@code etc/assignments.json} would otherwise hold every removal back (a source without a document).
 *
 * @param servers    the NATS URLs as given, or {@code null} when the agent does not use NATS
 * @param hostId     the host id, or {@code null} for the bundle's default ({@code /etc/machine-id})
 * @param fileSource whether the file source runs beside it
 */
record FleetOptions(String servers, String hostId, boolean fileSource) {
    static final String SERVERS = "steward.nats.servers";
    static final String HOST_ID = "steward.host.id";
    static final String FILE_SOURCE_BUNDLE = "io.steward.source.file";
    private static final Pattern VALID_HOST_ID = Pattern.compile("[A-Za-z0-9_-]{1,128}");
    private static final Pattern URL = Pattern.compile("(nats|tls|ws|wss)://[^\\s,]+");

    static final FleetOptions NONE = new FleetOptions(null, null, true);

    static FleetOptions of(Options options) throws UsageException {
        String servers = options.value(Option.NATS).orElse(null);
        String hostId = options.value(Option.HOST_ID).orElse(null);
        if (servers == null) {
            if (hostId != null) {
                throw new UsageException("--host-id needs --nats");
            }
            return NONE;
        }
        for (String url : servers.split(",")) {
            if (!URL.matcher(url.strip()).matches()) {
                throw new UsageException("--nats: '" + url.strip() + "' is not a NATS URL (nats://HOST:PORT, tls://HOST:PORT)");
            }
        }
        if (hostId != null && !VALID_HOST_ID.matcher(hostId).matches()) {
            throw new UsageException("--host-id: '" + hostId + "' is not a valid host id (letters, digits, _ and -, at most 128)");
        }
        return new FleetOptions(servers, hostId, options.flag(Option.ASSIGNMENTS));
    }

    void addTo(Map<String, String> properties) {
        if (servers != null) {
            properties.put(SERVERS, servers);
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
