package io.steward.launcher;

import java.util.Arrays;
import java.util.Optional;

/** The command-line options; which command accepts which is decided by {@link Command}. */
enum Option {
    ASSIGNMENTS("-a", "--assignments", "FILE", "assignment document (default: <etc>/assignments.json)"),
    JSON(null, "--json", null, "machine-readable output"),
    DATA(null, "--data", "DIR", "agent data: staged add-ons, ledger, audit log (default: $STEWARD_HOME/data)"),
    ETC(null, "--etc", "DIR", "configuration (default: $STEWARD_HOME/etc)"),
    TRUST(null, "--trust", "DIR", "trusted Ed25519 public keys (default: <etc>/trust)"),
    UNIT_DIR(null, "--unit-dir", "DIR", "systemd unit directory (default: /etc/systemd/system)"),
    PRIVILEGED_ROOT(null, "--privileged-root", "DIR", "root-owned add-on copies (default: /usr/lib/steward/addons)"),
    SYSTEMD_BUS(null, "--systemd-bus", "ADDRESS", "systemd's D-Bus (default: $DBUS_SYSTEM_BUS_ADDRESS, else the system bus)"),
    SHELL(null, "--shell", null, "serve the Gogo shell on the terminal"),
    NATS(null, "--nats", "URL[,URL]", "take assignments from NATS JetStream and write status there (see docs/fleet.md)"),
    POLL(null, "--poll", "URL", "take assignments from one HTTPS URL, polled (see docs/fleet.md)"),
    HOST_ID(null, "--host-id", "ID", "this host's id in the fleet (default: /etc/machine-id)"),
    METRICS_PORT(null, "--metrics-port", "PORT", "serve Prometheus metrics on 127.0.0.1:PORT/metrics (default: off)"),
    METRICS_TEXTFILE(null, "--metrics-textfile", "FILE", "write the metrics to FILE (*.prom) for node_exporter's textfile collector"),
    UNSIGNED_KINDS(null, "--unsigned-kinds", null, "development only: install unsigned jars from deploy/ (status says so)"),
    VERBOSE(null, "--verbose", null, "log at INFO and show stack traces");

    private final String shortName;
    private final String longName;
    private final String valueName;
    private final String description;

    Option(String shortName, String longName, String valueName, String description) {
        this.shortName = shortName;
        this.longName = longName;
        this.valueName = valueName;
        this.description = description;
    }

    /** The option spelled {@code name} ({@code -a} or {@code --assignments}), if any. */
    static Optional<Option> named(String name) {
        return Arrays.stream(values())
                .filter(o -> name.equals(o.longName) || name.equals(o.shortName))
                .findFirst();
    }

    String longName() {
        return longName;
    }

    boolean takesValue() {
        return valueName != null;
    }

    /** One line of the help text. */
    String helpLine() {
        String names = (shortName == null ? "    " : shortName + ", ") + longName
                + (valueName == null ? "" : " " + valueName);
        return String.format("  %-28s %s", names, description);
    }
}
