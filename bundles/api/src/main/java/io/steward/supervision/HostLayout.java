package io.steward.supervision;

import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Function;

/**
 * Where Steward keeps things on the host (PRODUCT §4). Read from framework properties so that the
 * launcher, an embedding runtime and tests can point every bundle at the same roots.
 *
 * @param data           agent-owned data: staged add-ons, ledger, audit log
 * @param etc            configuration: assignments, local override
 * @param trust          trust store of Ed25519 public keys
 * @param unitDir        systemd unit directory
 * @param privilegedRoot root-owned copies of add-ons
 */
public record HostLayout(Path data, Path etc, Path trust, Path unitDir, Path privilegedRoot) {
    /** Framework property naming the data directory. */
    public static final String DATA = "steward.data";
    /** Framework property naming the configuration directory. */
    public static final String ETC = "steward.etc";
    /** Framework property naming the trust directory. */
    public static final String TRUST = "steward.trust";
    /** Framework property naming the systemd unit directory. */
    public static final String UNIT_DIR = "steward.unit.dir";
    /** Framework property naming the privileged root. */
    public static final String PRIVILEGED_ROOT = "steward.privileged.root";

    /** Name of an add-on's spool directory inside its {@link #addonHome}. */
    public static final String SPOOL = "spool";

    public HostLayout {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(etc, "etc");
        Objects.requireNonNull(trust, "trust");
        Objects.requireNonNull(unitDir, "unitDir");
        Objects.requireNonNull(privilegedRoot, "privilegedRoot");
    }

    /** The layout named by the properties, with the defaults of PRODUCT §4 for what they omit. */
    public static HostLayout from(Function<String, String> properties) {
        Path etc = path(properties, ETC, "/etc/steward");
        return new HostLayout(path(properties, DATA, "/var/lib/steward"), etc,
                path(properties, TRUST, etc.resolve("trust").toString()),
                path(properties, UNIT_DIR, "/etc/systemd/system"),
                path(properties, PRIVILEGED_ROOT, "/usr/lib/steward/addons"));
    }

    private static Path path(Function<String, String> properties, String key, String fallback) {
        String value = properties.apply(key);
        return Path.of(value == null || value.isBlank() ? fallback : value).toAbsolutePath().normalize();
    }

    /** The state directory holding the ledger and the audit log. */
    public Path state() {
        return data.resolve("state");
    }

    /**
     * The result spool of one add-on ({@code systemd_timer}, {@code ephemeral_helper}): its runs write
     * {@code *.jsonl} files there, the agent ingests and deletes them. Agent-owned data, never executed.
     */
    public Path addonSpool(AddonId id) {
        return addonHome(id).resolve(SPOOL);
    }

    /** The directory of one add-on's staged versions and {@code current} link. */
    public Path addonHome(AddonId id) {
        return data.resolve("addons").resolve(id.value());
    }
}
