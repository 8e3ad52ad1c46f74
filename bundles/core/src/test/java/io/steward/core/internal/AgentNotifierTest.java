package io.steward.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.io.File;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSelectorProvider;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** The agent's sd_notify messages, received on a real unix datagram socket as systemd would. */
class AgentNotifierTest {
    @TempDir
    Path dir;
    private DatagramChannel systemd;
    private String socket;

    @BeforeEach
    void bind() throws Exception {
        socket = dir.resolve("notify").toString();
        systemd = AFUNIXSelectorProvider.provider().openDatagramChannel();
        systemd.bind(AFUNIXSocketAddress.of(new File(socket)));
        systemd.configureBlocking(false);
    }

    @AfterEach
    void close() throws Exception {
        systemd.close();
    }

    /** The next datagram, or null when none was sent (the sender has returned: a datagram is there or never comes). */
    private String received() throws Exception {
        ByteBuffer b = ByteBuffer.allocate(4096);
        systemd.receive(b);     // the sender is unbound: no source address, so this is null either way
        if (b.position() == 0) {
            return null;
        }
        b.flip();
        return StandardCharsets.UTF_8.decode(b).toString();
    }

    private static ReconcileReport report(SupervisionState... states) {
        List<SupervisionStatus> statuses = new java.util.ArrayList<>();
        for (int i = 0; i < states.length; i++) {
            statuses.add(new SupervisionStatus(new AddonId("a" + i), "sidecar", states[i], Optional.of("1"),
                    Optional.of("1"), "", Instant.parse("2026-12-07T01:00:00Z")));
        }
        return new ReconcileReport("r1", List.of(), statuses, List.of(), Instant.parse("2026-12-07T01:02:03.456Z"),
                Duration.ofMillis(12));
    }

    @Test
    void readyOnceAfterTheFirstPassThenStatusAndWatchdog() throws Exception {
        AgentNotifier n = AgentNotifier.from(Map.of("NOTIFY_SOCKET", socket, "WATCHDOG_USEC", "4000000"), 7);
        assertEquals(Optional.of(Duration.ofSeconds(2)), n.pingEvery());
        n.alive();      // the first pass is still working: more time to start, no watchdog yet
        assertEquals("EXTEND_TIMEOUT_USEC=300000000\n", received());
        n.passed(report(SupervisionState.READY, SupervisionState.READY, SupervisionState.FAILED));
        assertEquals("READY=1\nSTATUS=3 add-ons: 2 ready, 1 failed; pass of 2026-12-07T01:02:03Z took 12 ms\n",
                received());
        n.alive();
        assertEquals("WATCHDOG=1\n", received());
        n.passed(report());
        assertEquals("STATUS=0 add-ons: nothing to supervise; pass of 2026-12-07T01:02:03Z took 12 ms\nWATCHDOG=1\n",
                received());
        assertNull(received());
    }

    @Test
    void aRefusedFirstPassStillMakesTheAgentReadyWithOneLineOfWhy() throws Exception {
        AgentNotifier n = AgentNotifier.from(Map.of("NOTIFY_SOCKET", socket), 7);
        n.refused("cannot open Steward's state in /var/lib/steward/state:\nPermission denied");
        assertEquals("READY=1\nSTATUS=pass refused: cannot open Steward's state in /var/lib/steward/state: "
                + "Permission denied\n", received());
        n.alive();      // no watchdog configured: nothing to say
        assertNull(received());
    }

    @Test
    void aWatchdogMeantForAnotherProcessIsNotFedAndNoSocketMeansNoMessages() throws Exception {
        AgentNotifier other = AgentNotifier.from(Map.of("NOTIFY_SOCKET", socket, "WATCHDOG_USEC", "4000000",
                "WATCHDOG_PID", "8"), 7);
        assertEquals(Optional.empty(), other.pingEvery());
        AgentNotifier none = AgentNotifier.from(Map.of("WATCHDOG_USEC", "4000000"), 7);
        assertFalse(none.enabled());
        none.passed(report(SupervisionState.READY));
        none.alive();
        assertNull(received());
        assertTrue(other.enabled());
    }
}
