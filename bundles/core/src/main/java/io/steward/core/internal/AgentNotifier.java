package io.steward.core.internal;

import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.io.File;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's own sd_notify(3) messages to the systemd unit that runs it ({@code Type=notify} in
 * {@code steward.service}): {@code READY=1} once the first pass is over, {@code STATUS=} with a one-line
 * summary after every pass, and liveness from the reconciler thread: {@code WATCHDOG=1} once ready
 * (systemd restarts an agent whose reconciler stops making progress), {@code EXTEND_TIMEOUT_USEC=} while
 * the first pass is still working (a first pass that installs many add-ons may outlast the start timeout,
 * a hung one does not). Sent only when systemd set {@code NOTIFY_SOCKET}; each message is one datagram on
 * a unix socket (junixsocket: the JDK 17 has no unix datagram channel). Used by the reconciler thread only.
 */
final class AgentNotifier {
    private static final Logger LOG = LoggerFactory.getLogger(AgentNotifier.class);
    /** What {@code EXTEND_TIMEOUT_USEC} asks for at each sign of progress before the agent is ready. */
    static final Duration START_EXTENSION = Duration.ofMinutes(5);
    /** Does nothing: not started by a {@code Type=notify} unit. */
    static final AgentNotifier NONE = new AgentNotifier(null, Optional.empty());

    private final String socket;
    private final Optional<Duration> watchdog;
    private boolean ready;
    private boolean warned;

    AgentNotifier(String socket, Optional<Duration> watchdog) {
        this.socket = socket;
        this.watchdog = watchdog;
    }

    /** From systemd's variables: {@code NOTIFY_SOCKET}, and {@code WATCHDOG_USEC} when meant for this process. */
    static AgentNotifier from(Map<String, String> env, long pid) {
        String socket = env.get("NOTIFY_SOCKET");
        if (socket == null || socket.isBlank()) {
            return NONE;
        }
        Optional<Duration> watchdog = Optional.empty();
        String pidFor = env.get("WATCHDOG_PID");
        try {
            long usec = Long.parseLong(env.getOrDefault("WATCHDOG_USEC", "0"));
            if (usec > 0 && (pidFor == null || Long.parseLong(pidFor) == pid)) {
                watchdog = Optional.of(Duration.of(usec, ChronoUnit.MICROS));
            }
        } catch (NumberFormatException e) {
            LOG.warn("Ignoring the watchdog settings WATCHDOG_USEC={} WATCHDOG_PID={}: not numbers",
                    env.get("WATCHDOG_USEC"), pidFor);
        }
        return new AgentNotifier(socket, watchdog);
    }

    boolean enabled() {
        return socket != null;
    }

    /** How often {@link #alive()} should come while the reconciler is idle: half the watchdog's period. */
    Optional<Duration> pingEvery() {
        return watchdog.map(w -> w.dividedBy(2));
    }

    /** After a pass: ready (the first time) and its summary. */
    void passed(ReconcileReport report) {
        finished(summary(report));
    }

    /** After a pass that could not run (the state is unusable or locked): ready all the same, and why. */
    void refused(String why) {
        finished("pass refused: " + why);
    }

    private void finished(String status) {
        StringBuilder m = new StringBuilder();
        if (!ready) {
            m.append("READY=1\n");
        }
        m.append("STATUS=").append(oneLine(status)).append('\n');
        if (ready && watchdog.isPresent()) {
            m.append("WATCHDOG=1\n");
        }
        ready = true;
        send(m.toString());
    }

    /** The reconciler thread made progress (idle between passes, or one add-on of a pass done). */
    void alive() {
        if (!ready) {
            send("EXTEND_TIMEOUT_USEC=" + START_EXTENSION.toNanos() / 1000 + "\n");
        } else if (watchdog.isPresent()) {
            send("WATCHDOG=1\n");
        }
    }

    /** {@code 5 add-ons: 4 ready, 1 failed; pass of 01:02:03Z took 12 ms} (states in the status model's order). */
    static String summary(ReconcileReport report) {
        Map<SupervisionState, Long> counts = report.statuses().stream()
                .collect(Collectors.groupingBy(SupervisionStatus::state, () -> new EnumMap<>(SupervisionState.class),
                        Collectors.counting()));
        String states = counts.isEmpty() ? "nothing to supervise" : counts.entrySet().stream()
                .map(e -> e.getValue() + " " + e.getKey().wireName()).collect(Collectors.joining(", "));
        int n = report.statuses().size();
        return n + (n == 1 ? " add-on: " : " add-ons: ") + states + "; pass of "
                + report.startedAt().truncatedTo(ChronoUnit.SECONDS) + " took " + report.took().toMillis() + " ms"
                + (report.warnings().isEmpty() ? "" : "; " + report.warnings().size() + " warning(s)");
    }

    private static String oneLine(String s) {
        return s.replaceAll("[\\p{Cntrl}\\u0085\\u2028\\u2029]+", " ").strip();
    }

    private void send(String message) {
        if (socket == null) {
            return;
        }
        try {
            Datagram.send(socket, message.getBytes(StandardCharsets.UTF_8));
            warned = false;
        } catch (IOException | RuntimeException | LinkageError e) {
            if (!warned) {      // once until it works again: the agent goes on without systemd hearing it
                LOG.warn("Cannot notify systemd at NOTIFY_SOCKET={}: {}", socket, e.toString());
                warned = true;
            }
        }
    }

    /**
     * Every use of junixsocket, in a class of its own: core imports it optionally, and this class is loaded (and
     * may fail to link) only when a message is sent, never when the reconciler is made.
     */
    private static final class Datagram {
        static void send(String socket, byte[] message) throws IOException {
            SocketAddress to = socket.startsWith("@")
                    ? org.newsclub.net.unix.AFUNIXSocketAddress.inAbstractNamespace(socket.substring(1))
                    : org.newsclub.net.unix.AFUNIXSocketAddress.of(new File(socket));
            try (DatagramChannel channel = org.newsclub.net.unix.AFUNIXSelectorProvider.provider().openDatagramChannel()) {
                channel.send(ByteBuffer.wrap(message), to);
            }
        }
    }
}
