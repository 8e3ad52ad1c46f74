package io.steward.launcher;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * The commands of {@code steward}. Adding one is a constant here (its word, the options it
 * accepts, a summary for the help) and a case in {@link Main#execute}.
 */
enum Command {
    RUN("run", "[-a FILE] [--shell] [--nats URL | --poll URL] [--host-id ID] [--metrics-port PORT] [--metrics-textfile FILE] [--unsigned-kinds]",
            "the agent: reconcile on every change and periodically, until SIGTERM",
            Option.ASSIGNMENTS, Option.SHELL, Option.NATS, Option.POLL, Option.HOST_ID,
            Option.METRICS_PORT, Option.METRICS_TEXTFILE, Option.UNSIGNED_KINDS),
    APPLY("apply", "-a FILE [--json]", "reconcile once, then exit (0 converged, 1 an add-on failed, 2 invalid)",
            Option.ASSIGNMENTS, Option.JSON),
    PLAN("plan", "[-a FILE] [--json]", "show what a reconcile would do, and why; changes nothing",
            Option.ASSIGNMENTS, Option.JSON),
    STATUS("status", "[--json]", "per add-on: kind, desired and active version, state, detail, since",
            Option.JSON),
    HEALTH("health", "[--json]", "the agent's health checks (as the Felix Health Check services say): exit 0 all OK, 1 not",
            Option.JSON),
    KEYGEN("keygen", "--out NAME", "write an Ed25519 key pair: NAME.key.pem (private, 0600) and NAME.pub.pem"),
    PACK("pack", "DIR --key NAME.key.pem --out FILE [--expect-id ID] [--expect-version V] [--json]",
            "build a deterministic artifact from DIR (id and version from its addon.json) and sign it"),
    VERIFY("verify", "FILE --id ID --version V --sha256 H --signature S [--key KEYID|FILE] [--json]",
            "check an artifact against the trust store (or one public key file) and the archive rules, installing nothing"),
    FLEET("fleet", "put|status|watch --nats URL [--host H] [--key NAME.key.pem DOC.json] [--json]",
            "the operator's side of a NATS fleet: sign and publish a host's next document, list or watch the hosts' status"),
    HELP("help", "", "show this help");

    /** Options every command that boots the platform accepts. */
    private static final Set<Option> PLATFORM = EnumSet.of(Option.DATA, Option.ETC, Option.TRUST,
            Option.UNIT_DIR, Option.PRIVILEGED_ROOT, Option.SYSTEMD_BUS, Option.VERBOSE);

    private final String word;
    private final String synopsis;
    private final String summary;
    private final Set<Option> accepted;

    Command(String word, String synopsis, String summary, Option... own) {
        this.word = word;
        this.synopsis = synopsis;
        this.summary = summary;
        this.accepted = EnumSet.noneOf(Option.class);
        this.accepted.addAll(Arrays.asList(own));
    }

    static Optional<Command> named(String word) {
        return Arrays.stream(values()).filter(c -> c.word.equals(word)).findFirst();
    }

    /** The spelling on the command line, also the value of the {@code steward.command} property. */
    String word() {
        return word;
    }

    boolean accepts(Option option) {
        return accepted.contains(option) || bootsPlatform() && PLATFORM.contains(option);
    }

    /** Whether the command runs inside the OSGi framework. */
    boolean bootsPlatform() {
        return this != HELP;
    }

    /** Whether the command runs once and exits with the shell bundle's result (the handshake). */
    boolean oneShot() {
        return this == APPLY || this == PLAN || this == STATUS || this == HEALTH || tool();
    }

    /**
     * Tools (the artifact tools, fleet): their own arguments are parsed by the bundle that serves them (the delivery
     * bundle) and passed on as they are; the launcher takes only the platform options.
     */
    boolean tool() {
        return this == KEYGEN || this == PACK || this == VERIFY || this == FLEET;
    }

    /** One line of the help text. */
    String helpLine() {
        return String.format("  %-28s %s", word + " " + synopsis, summary);
    }
}
