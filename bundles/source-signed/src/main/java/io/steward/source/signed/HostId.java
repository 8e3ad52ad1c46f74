package io.steward.source.signed;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Function;

/** This host's id, as every remote source finds it: the signed documents it takes name it (docs/fleet.md). */
public final class HostId {
    /** Framework property ({@code steward run --host-id}): the id when the source's configuration gives none. */
    public static final String PROPERTY = "steward.host.id";

    private HostId() {
    }

    /**
     * The configured id, else the framework property {@value #PROPERTY}, else the first line of
     * {@code machineIdFile} (systemd's {@code /etc/machine-id}); checked by {@link SignedAssignment#validHostId}.
     *
     * @param source what every error sentence starts with ("NATS source")
     * @throws IllegalArgumentException with one sentence, when there is none or it is not valid
     */
    public static String resolve(String source, String configured, Function<String, String> properties, Path machineIdFile)
            throws IOException {
        String host = configured.strip();
        if (host.isEmpty()) {
            host = Optional.ofNullable(properties.apply(PROPERTY)).map(String::strip).orElse("");
        }
        if (host.isEmpty()) {
            host = machineId(source, machineIdFile);
        }
        if (!SignedAssignment.validHostId(host)) {
            throw new IllegalArgumentException(source + ": '" + host + "' is not a valid host id (letters, digits, _ and -, at most 128)");
        }
        return host;
    }

    private static String machineId(String source, Path file) throws IOException {
        try {
            String id = Files.readString(file, StandardCharsets.US_ASCII).lines().findFirst().orElse("").strip();
            if (id.isEmpty()) {
                throw new IllegalArgumentException(source + ": no host id given and " + file + " is empty");
            }
            return id;
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(source + ": no host id given (--host-id, host.id, " + PROPERTY + ") and "
                    + file + " does not exist");
        }
    }
}
