package io.steward.launcher;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Everything a command needs, resolved: the options given, else the environment, else the
 * distribution's defaults (PRODUCT §4). Every path is absolute and normalized.
 *
 * @param command        the command to run
 * @param home           STEWARD_HOME, the directory holding {@code bin/}, {@code bundle/}, {@code deploy/}
 * @param data           agent data
 * @param etc            configuration
 * @param trust          trust store
 * @param assignments    assignment document
 * @param unitDir        systemd unit directory
 * @param privilegedRoot root-owned add-on copies
 * @param systemdBus     systemd's D-Bus address, or {@code null} for the system bus
 * @param json           machine-readable output
 * @param shell          serve the Gogo shell ({@code run} only)
 * @param verbose        log at INFO and show stack traces
 * @param toolArgs       the arguments of an artifact tool (keygen, pack, verify), passed on as they are
 * @param fleet          the NATS fleet transport of {@code run}, if any
 * @param metricsPort    the loopback port of the metrics endpoint, 0 for none ({@code run} only)
 * @param metricsTextfile the node_exporter textfile to write the metrics to, or {@code null} ({@code run} only)
 * @param unsignedKinds  development switch: install unsigned jars from deploy/ ({@code run} only)
 */
record Settings(Command command, Path home, Path data, Path etc, Path trust, Path assignments,
                Path unitDir, Path privilegedRoot, String systemdBus,
                boolean json, boolean shell, boolean verbose, List<String> toolArgs, FleetOptions fleet,
                int metricsPort, Path metricsTextfile, boolean unsignedKinds) {

    static final String DEFAULT_UNIT_DIR = "/etc/systemd/system";
    static final String DEFAULT_PRIVILEGED_ROOT = "/usr/lib/steward/addons";

    static Settings resolve(Options options, Path home, Map<String, String> env) throws UsageException {
        Path data = options.value(Option.DATA).map(Settings::absolute).orElse(home.resolve("data"));
        Path etc = options.value(Option.ETC).map(Settings::absolute).orElse(home.resolve("etc"));
        return new Settings(options.command(), absolute(home.toString()), data, etc,
                options.value(Option.TRUST).map(Settings::absolute).orElse(etc.resolve("trust")),
                options.value(Option.ASSIGNMENTS).map(Settings::absolute).orElse(etc.resolve("assignments.json")),
                absolute(options.value(Option.UNIT_DIR).orElse(DEFAULT_UNIT_DIR)),
                absolute(options.value(Option.PRIVILEGED_ROOT).orElse(DEFAULT_PRIVILEGED_ROOT)),
                options.value(Option.SYSTEMD_BUS)
                        .or(() -> Optional.ofNullable(env.get("DBUS_SYSTEM_BUS_ADDRESS")).filter(s -> !s.isBlank()))
                        .orElse(null),
                options.flag(Option.JSON), options.flag(Option.SHELL), options.flag(Option.VERBOSE),
                options.toolArgs(), FleetOptions.of(options), metricsPort(options.value(Option.METRICS_PORT)),
                options.value(Option.METRICS_TEXTFILE).map(Settings::absolute).orElse(null),
                options.flag(Option.UNSIGNED_KINDS));
    }

    private static int metricsPort(Optional<String> value) throws UsageException {
        if (value.isEmpty()) {
            return 0;
        }
        try {
            int port = Integer.parseInt(value.get().trim());
            if (port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // the sentence below
        }
        throw new UsageException("--metrics-port must be a TCP port (1 to 65535), not '" + value.get() + "'");
    }

    /**
     * STEWARD_HOME: the environment variable if set, else the directory above the one holding
     * the launcher jar ({@code <home>/bin/steward-launcher.jar}).
     */
    static Path home(Map<String, String> env, Path launcherLocation) {
        String fromEnv = env.get("STEWARD_HOME");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return absolute(fromEnv);
        }
        Path bin = launcherLocation.toAbsolutePath().getParent();
        Path home = bin == null ? null : bin.getParent();
        return home == null ? absolute(".") : home.normalize();
    }

    private static Path absolute(String path) {
        return Path.of(path).toAbsolutePath().normalize();
    }

    Path bundles() {
        return home.resolve("bundle");
    }

    Path deploy() {
        return home.resolve("deploy");
    }
}
