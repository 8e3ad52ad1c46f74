package io.steward.updater;

import io.steward.privileged.protocol.Protocol;
import io.steward.supervision.HostLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The updater's configuration: command-line options only (the environment is not read; see {@link Main}).
 *
 * @param socket          the unix socket to bind, unless systemd passes one (socket activation)
 * @param socketMode      its mode when the updater binds it
 * @param agentUid        the only uid whose requests are served
 * @param agentGid        the gid the peer must have, and the socket's group
 * @param data            the agent's data directory: the fixed staging location and the agent-writable root
 * @param privilegedRoot  root-owned copies of add-ons
 * @param unitDir         systemd's unit directory
 * @param trust           the updater's own trust store (root-owned)
 * @param state           the updater's state directory (root-owned): the ledger of installed units
 * @param systemdBus      the system bus address (never taken from the environment)
 * @param allowUnsigned   add-on ids whose artifacts may be unsigned
 * @param confirm         how long a started service must stay up (the in-process installer's setting)
 * @param workers         requests served at once
 * @param readTimeout     the deadline for reading one request
 * @param maxArtifactBytes the most bytes of an artifact
 * @param maxExtractBytes  the most bytes one request may extract under the privileged root (all files together)
 * @param maxEntryBytes    the most bytes of one extracted file
 * @param allowRollback    add-on ids the operator allows to go back to an older version (anti-rollback)
 */
record UpdaterConfig(Path socket, Set<PosixFilePermission> socketMode, long agentUid, long agentGid, Path data,
                     Path privilegedRoot, Path unitDir, Path trust, Path state, String systemdBus,
                     Set<String> allowUnsigned, Duration confirm, int workers, Duration readTimeout,
                     long maxArtifactBytes, long maxExtractBytes, long maxEntryBytes, Set<String> allowRollback) {

    /** Defaults of {@code --max-extract-bytes} and {@code --max-entry-bytes}: 1 GiB and 256 MiB. */
    static final long MAX_EXTRACT_BYTES = 1L << 30;
    static final long MAX_ENTRY_BYTES = 256L << 20;

    static final String USAGE = """
            usage: steward-updater [options]     (root; started by steward-updater.socket/.service)
                   steward-updater --list-units [--state DIR] [--unit-dir DIR]
                                       prints the unit files the updater wrote (sha256sum lines) and exits
              --socket PATH            unix socket to bind when not socket-activated (default /run/steward/updater.sock)
              --socket-mode MODE       its mode (default 0660; the group is --agent-group)
              --agent-user USER|UID    the agent's user, the only peer served (default steward)
              --agent-group GROUP|GID  the agent's group (default: the user's primary group)
              --data DIR               the agent's data directory (default /var/lib/steward)
              --privileged-root DIR    root-owned add-on copies (default /usr/lib/steward/addons)
              --unit-dir DIR           systemd unit directory (default /etc/systemd/system)
              --trust DIR              the updater's trust store, root-owned (default /etc/steward/trust)
              --state DIR              the updater's ledger of installed units (default /var/lib/steward-updater)
              --systemd-bus ADDRESS    system bus (default unix:path=/run/dbus/system_bus_socket)
              --allow-unsigned ID      accept unsigned artifacts of add-on ID (repeatable)
              --allow-rollback ID      allow add-on ID to go back to a version older than the highest the updater
                                       installed (repeatable; otherwise refused)
              --max-extract-bytes N    the most bytes one request extracts under the privileged root (default
                                       1073741824, 1 GiB; refused as well when the file system has less free space)
              --max-entry-bytes N      the most bytes of one extracted file (default 268435456, 256 MiB)
              --confirm-millis N       how long a started service must stay up (default 300)
              --workers N              requests served at once (default 32, the agent's reconcile parallelism)
              --read-timeout-millis N  deadline for reading one request (default 5000)
            """;

    /** Parses the options; {@code accounts} resolves user and group names. */
    static UpdaterConfig parse(List<String> args, Accounts accounts) throws IllegalArgumentException, IOException {
        Map<String, String> v = new java.util.HashMap<>();
        Set<String> allowUnsigned = new LinkedHashSet<>();
        Set<String> allowRollback = new LinkedHashSet<>();
        Set<String> known = Set.of("--socket", "--socket-mode", "--agent-user", "--agent-group", "--data",
                "--privileged-root", "--unit-dir", "--trust", "--state", "--systemd-bus", "--allow-unsigned",
                "--confirm-millis", "--workers", "--read-timeout-millis", "--allow-rollback", "--max-extract-bytes",
                "--max-entry-bytes");
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            String value;
            String name;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                name = a.substring(0, eq);
                value = a.substring(eq + 1);
            } else {
                name = a;
                if (i + 1 >= args.size()) {
                    throw new IllegalArgumentException(known.contains(a) ? a + " needs a value" : "unknown option " + a);
                }
                value = args.get(++i);
            }
            if (!known.contains(name)) {
                throw new IllegalArgumentException("unknown option " + name);
            }
            if (name.equals("--allow-unsigned")) {
                allowUnsigned.add(value);
            } else if (name.equals("--allow-rollback")) {
                if (!io.steward.supervision.AddonId.isValid(value)) {
                    throw new IllegalArgumentException("--allow-rollback needs an add-on id: " + value);
                }
                allowRollback.add(value);
            } else {
                v.put(name, value);
            }
        }
        Accounts.User agent = accounts.user(v.getOrDefault("--agent-user", "steward"));
        long gid = v.containsKey("--agent-group") ? accounts.group(v.get("--agent-group")) : agent.gid();
        String mode = v.getOrDefault("--socket-mode", "0660");
        if (!mode.matches("0?[0-7]{3}")) {
            throw new IllegalArgumentException("--socket-mode must be octal like 0660: " + mode);
        }
        return new UpdaterConfig(path(v, "--socket", Protocol.DEFAULT_SOCKET), permissions(Integer.parseInt(mode, 8)),
                agent.uid(), gid, path(v, "--data", "/var/lib/steward"),
                path(v, "--privileged-root", "/usr/lib/steward/addons"), path(v, "--unit-dir", "/etc/systemd/system"),
                path(v, "--trust", "/etc/steward/trust"), path(v, "--state", "/var/lib/steward-updater"),
                v.getOrDefault("--systemd-bus", "unix:path=/run/dbus/system_bus_socket"), Set.copyOf(allowUnsigned),
                Duration.ofMillis(number(v, "--confirm-millis", 300, 0)), (int) number(v, "--workers", 32, 1),
                Duration.ofMillis(number(v, "--read-timeout-millis", 5000, 1)), 4L << 30,
                number(v, "--max-extract-bytes", MAX_EXTRACT_BYTES, 1), number(v, "--max-entry-bytes", MAX_ENTRY_BYTES, 1),
                Set.copyOf(allowRollback));
    }

    /** The layout the reused bundle code works with ({@code etc} is unused by the updater). */
    HostLayout layout() {
        return new HostLayout(data, trust.getParent() == null ? trust : trust.getParent(), trust, unitDir,
                privilegedRoot);
    }

    /**
     * Refuses to start on a layout that would let the agent steer the updater: the trust store, the unit
     * directory, the privileged root and the state directory (and every directory above them) must be owned by
     * root and not writable by group or others (a sticky directory such as {@code /tmp} is tolerated above);
     * the privileged root must not overlap the agent's data directory. Creates the privileged root and the
     * state directory when missing.
     */
    void checkHost() throws IOException {
        for (Path root : List.of(data)) {
            if (privilegedRoot.startsWith(root) || root.startsWith(privilegedRoot)) {
                throw new IOException("the privileged root " + privilegedRoot + " overlaps the agent's data " + root);
            }
        }
        createIfMissing(privilegedRoot, "rwxr-xr-x");
        createIfMissing(state, "rwx------");
        List<String> problems = new ArrayList<>();
        for (Path p : List.of(trust, unitDir, privilegedRoot, state)) {
            rootOwned(p, problems);
        }
        if (!problems.isEmpty()) {
            throw new IOException(String.join("; ", problems));
        }
    }

    private static void createIfMissing(Path dir, String mode) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString(mode));
        }
    }

    private static void rootOwned(Path dir, List<String> problems) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            problems.add(dir + " is not a directory (or is a symbolic link)");
            return;
        }
        for (Path p = dir; p != null; p = p.getParent()) {
            PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            Object uid = Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            boolean sticky = (mode & 01000) != 0;
            boolean writable = a.permissions().contains(PosixFilePermission.GROUP_WRITE)
                    || a.permissions().contains(PosixFilePermission.OTHERS_WRITE);
            if (!Integer.valueOf(0).equals(uid)) {
                problems.add(p + " (for " + dir + ") is owned by uid " + uid + ", not root");
            } else if (writable && !(sticky && !p.equals(dir))) {
                problems.add(p + " (for " + dir + ") is writable by group or others");
            }
        }
    }

    private static Path path(Map<String, String> v, String key, String fallback) {
        return Path.of(v.getOrDefault(key, fallback)).toAbsolutePath().normalize();
    }

    private static long number(Map<String, String> v, String key, long fallback, long min) {
        String s = v.get(key);
        if (s == null) {
            return fallback;
        }
        try {
            long n = Long.parseLong(s);
            if (n < min) {
                throw new IllegalArgumentException(key + " must be at least " + min + ": " + s);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " must be a number: " + s);
        }
    }

    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> p = new LinkedHashSet<>();
        PosixFilePermission[] bits = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
                PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.GROUP_READ, PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
                PosixFilePermission.OWNER_READ};
        for (int i = 0; i < bits.length; i++) {
            if ((mode & (1 << i)) != 0) {
                p.add(bits[i]);
            }
        }
        return p;
    }
}
