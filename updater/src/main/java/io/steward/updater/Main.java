package io.steward.updater;

import io.steward.systemd.bus.DbusSystemdManager;
import io.steward.systemd.install.SystemdUnitInstaller;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code steward-updater}: the root process that does the non-root agent's privileged work (PRODUCT §7.7).
 * <p>
 * It trusts nothing in its environment: {@code bin/steward-updater} execs the JVM with {@code env -i} and a fixed
 * {@code PATH}/{@code LANG}, and this class refuses to start when any other variable is set (a
 * {@code JAVA_TOOL_OPTIONS}, say), except systemd's {@code LISTEN_*} for socket activation, which are honoured
 * only when {@code LISTEN_PID} is this process. Every setting is a command-line option ({@link UpdaterConfig});
 * systemd is reached over D-Bus at a configured address, never through {@code systemctl}, and the one program it
 * runs is {@code /usr/sbin/setcap} (and {@code getcap}) by absolute path with an empty environment.
 * <p>
 * Threads: {@code main} waits; {@code updater-accept} and {@code updater-worker-N} serve ({@link Server}).
 * Exit codes: 0 after SIGTERM (143 as the JVM reports it), 2 for a bad command line or host layout.
 */
public final class Main {
    private static final Logger LOG = LoggerFactory.getLogger(Main.class);
    /** Variables the updater tolerates in its environment. */
    static final Set<String> ENVIRONMENT = Set.of("PATH", "LANG", "LC_ALL", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES");
    private static final int SD_LISTEN_FDS_START = 3;
    /** The option that lists the unit files the updater wrote instead of serving. */
    static final String LIST_UNITS = "--list-units";

    private Main() {
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.print(UpdaterConfig.USAGE);
            return;
        }
        Set<String> foreign = new TreeSet<>(System.getenv().keySet());
        foreign.removeAll(ENVIRONMENT);
        if (!foreign.isEmpty()) {
            fail("refusing to start with environment variable(s) " + foreign + ": start it through "
                    + "bin/steward-updater, which clears the environment");
        }
        OptionalLong euid = io.steward.privileged.ProcessIdentity.effectiveUid();
        if (euid.isEmpty() || euid.getAsLong() != 0) {
            fail("must run as root (effective uid " + (euid.isPresent() ? euid.getAsLong() : "unknown") + ")");
        }
        if (args.length >= 1 && args[0].equals(LIST_UNITS)) {
            listUnits(List.of(args).subList(1, args.length));
            return;
        }
        UpdaterConfig config;
        try {
            config = UpdaterConfig.parse(List.of(args), Accounts.system());
            config.checkHost();
        } catch (IllegalArgumentException | IOException e) {
            fail(e.getMessage());
            return;
        }
        Running running;
        try {
            running = start(config, System.getenv());
        } catch (IOException e) {
            fail("cannot start: " + e.getMessage());
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(running::stop, "updater-stop"));
        running.awaitStop();
    }

    /**
     * {@code --list-units [--state DIR] [--unit-dir DIR]}: prints every unit file the ledger says the updater wrote,
     * as {@code sha256sum} lines ({@code <sha256>  <unit-dir>/<unit>}), and exits. The Debian package's
     * {@code prerm} keeps this list so that {@code purge}, when the updater is gone, removes exactly those files
     * and only while they still hold what the updater wrote.
     */
    private static void listUnits(List<String> args) {
        try {
            UpdaterConfig config = UpdaterConfig.parse(args, Accounts.system());
            Ledger ledger = Ledger.open(config.state());
            StringBuilder out = new StringBuilder();
            ledger.written().forEach((unit, sha) -> out.append(sha).append("  ")
                    .append(config.unitDir().resolve(unit)).append('\n'));
            System.out.print(out);
            System.out.flush();
        } catch (IllegalArgumentException | IOException e) {
            fail(e.getMessage());
        }
    }

    private static void fail(String message) {
        System.err.println("steward-updater: " + message);
        System.exit(2);
    }

    /** A started updater: {@link #stop()} closes the socket, waits for running requests and disconnects. */
    static final class Running {
        private final Server server;
        private final DbusSystemdManager systemd;
        private final StagingArea staging;
        private final Path bound;     // the socket file the updater created (null when systemd passed one)
        private final Updater updater;
        private final java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);

        Running(Server server, DbusSystemdManager systemd, StagingArea staging, Path bound, Updater updater) {
            this.server = server;
            this.systemd = systemd;
            this.staging = staging;
            this.bound = bound;
            this.updater = updater;
        }

        Updater updater() {
            return updater;
        }

        void stop() {
            if (stopped.getCount() == 0) {
                return;
            }
            try {
                server.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            systemd.close();
            staging.close();
            if (bound != null) {
                try {
                    Files.deleteIfExists(bound);
                } catch (IOException e) {
                    // a stale socket is replaced at the next start
                }
            }
            LOG.info("steward-updater stopped");
            stopped.countDown();
        }

        void awaitStop() throws InterruptedException {
            stopped.await();
        }
    }

    /** Starts serving {@code config} (also used by tests and the benchmark, in-process). */
    static Running start(UpdaterConfig config, Map<String, String> environment) throws IOException {
        Ledger ledger = Ledger.open(config.state());
        UserPrincipalLookupService lookup = FileSystems.getDefault().getUserPrincipalLookupService();
        UserPrincipal agent = lookup.lookupPrincipalByName(Long.toString(config.agentUid()));
        DbusSystemdManager systemd = new DbusSystemdManager(config.systemdBus(), Duration.ofSeconds(10));
        // the updater's own ledger records unit owners; no unit may run as the agent's user or group
        SystemdUnitInstaller installer = new SystemdUnitInstaller(systemd, config.layout(), config.confirm(),
                Accounts.system().identities(config.agentUid(), config.agentGid()));
        StagingArea staging = new StagingArea(config.data(), agent, config.maxArtifactBytes());
        Updater updater = new Updater(config, installer, staging, ledger);
        AFUNIXServerSocket socket;
        Path bound = null;
        String listenPid = environment.get("LISTEN_PID");
        if (listenPid != null && listenPid.equals(Long.toString(ProcessHandle.current().pid()))
                && "1".equals(environment.get("LISTEN_FDS"))) {
            socket = FileDescriptorCast.unsafeUsing(SD_LISTEN_FDS_START).as(AFUNIXServerSocket.class);
            LOG.info("steward-updater: listening on the socket systemd passed (steward-updater.socket)");
        } else {
            socket = bind(config);
            bound = config.socket();
        }
        Server server = new Server(socket, new Handler(updater), config.agentUid(), config.agentGid(),
                config.readTimeout(), config.workers());
        server.start();
        LOG.info("steward-updater serving uid {} gid {} on {}: data {}, privileged root {}, unit dir {}, trust {}, "
                        + "ledger {}, systemd {}", config.agentUid(), config.agentGid(),
                bound == null ? "the activated socket" : bound, config.data(), config.privilegedRoot(),
                config.unitDir(), config.trust(), config.state().resolve(Ledger.FILE), config.systemdBus());
        return new Running(server, systemd, staging, bound, updater);
    }

    /**
     * Binds the socket, then sets its mode and group. It is created with the umask's mode (0755 under systemd's
     * 0022): nobody but root may connect (connecting needs write permission) until the mode is set.
     */
    private static AFUNIXServerSocket bind(UpdaterConfig config) throws IOException {
        Path path = config.socket();
        Path dir = path.getParent();
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            Files.delete(path);      // a stale socket of an earlier run
        }
        AFUNIXServerSocket socket = AFUNIXServerSocket.newInstance();
        socket.bind(AFUNIXSocketAddress.of(path), 16);
        try {
            Files.setAttribute(path, "posix:group", FileSystems.getDefault().getUserPrincipalLookupService()
                    .lookupPrincipalByGroupName(Long.toString(config.agentGid())), LinkOption.NOFOLLOW_LINKS);
            Files.setPosixFilePermissions(path, config.socketMode());
        } catch (IOException e) {
            socket.close();
            throw e;
        }
        return socket;
    }
}
