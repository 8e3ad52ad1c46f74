package io.steward.privileged.capabilities;

import io.steward.delivery.StagedArtifact;
import io.steward.privileged.PrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link PrivilegedOperations} done in-process by a root agent: file capabilities through
 * {@code /usr/sbin/setcap} (absolute path, empty environment), checked afterwards with
 * {@code /usr/sbin/getcap}. The program keeps its staged path (there is no root-owned copy), so
 * {@link #release} has nothing to remove. Stateless and thread-safe. Registered by
 * {@code io.steward.privileged.local} for a root agent; the root updater grants capabilities with it outside OSGi.
 * <p>
 * A grant is bound to the signed manifest ({@link CapabilityGrant#bound}: its kind, {@code binary} and
 * {@code capabilities}). Before {@code setcap} (a {@code chown} would clear the capabilities) the program is
 * made {@code 0750}, owned by root: its group is the agent's group when one is given (the updater's
 * {@code --agent-group}: the non-root agent runs it through the group bits), else the file keeps its group
 * (in-process, a root agent staged it, so the group is the agent's own, normally root). Either way no other
 * local user can execute a capability-bearing file.
 */
public final class LocalPrivilegedOperations implements PrivilegedOperations {
    static final String SETCAP = "/usr/sbin/setcap";
    static final String GETCAP = "/usr/sbin/getcap";
    private static final Logger LOG = LoggerFactory.getLogger(LocalPrivilegedOperations.class);
    private static final long TIMEOUT_SECONDS = 10;

    /** The mode of a capability-bearing program: owner rwx, group r-x, nothing for others. */
    static final Set<java.nio.file.attribute.PosixFilePermission> PROGRAM_MODE =
            java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-x---");

    private final OptionalLong group;

    /** In-process (a root agent): the program keeps its group. */
    public LocalPrivilegedOperations() {
        this(OptionalLong.empty());
    }

    /** @param group the group that may execute a capability-bearing program (the agent's), or empty: unchanged */
    public LocalPrivilegedOperations(OptionalLong group) {
        this.group = group;
    }

    @Override
    public Path grantCapabilities(AddonId id, StagedArtifact staged, String binary, List<String> capabilities)
            throws SupervisionException {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(staged, "staged");
        List<String> caps = CapabilityGrant.capabilities(id, capabilities);
        Path program = CapabilityGrant.program(id, staged.directory(), binary);
        CapabilityGrant.bound(id, staged.manifest(), binary, caps);
        restrict(id, program);
        String text = String.join(",", caps) + "=+ep";
        Result set = run(id, SETCAP, text, program.toString());
        if (set.code() != 0) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": setcap " + text + " " + program
                    + " failed (exit " + set.code() + "): " + set.output());
        }
        Set<String> granted = granted(run(id, GETCAP, program.toString()).output());
        if (!granted.equals(new TreeSet<>(caps))) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": after setcap, getcap shows "
                    + granted + " on " + program + " instead of " + caps + " (a file system without xattrs?)");
        }
        LOG.info("Add-on {}: granted {} to {}", id, text, program);
        return program;
    }

    /** Root-owned, {@code 0750}, the agent's group: before setcap, since a chown clears file capabilities. */
    private void restrict(AddonId id, Path program) throws SupervisionException {
        try {
            Files.setAttribute(program, "unix:uid", 0, LinkOption.NOFOLLOW_LINKS);
            if (group.isPresent()) {
                Files.setAttribute(program, "unix:gid", (int) group.getAsLong(), LinkOption.NOFOLLOW_LINKS);
            }
            Files.setPosixFilePermissions(program, PROGRAM_MODE);
        } catch (IOException | RuntimeException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": capabilities: cannot make "
                    + program + " root-owned with mode 0750: " + e.getMessage(), e);
        }
    }

    @Override
    public void release(AddonId id) {
        // nothing privileged outside the staged tree: the capabilities go with the staged files
    }

    /** Capabilities with {@code e} and {@code p} in a getcap line ({@code /path cap_a,cap_b=ep}). */
    static Set<String> granted(String getcapOutput) {
        Set<String> caps = new TreeSet<>();
        String line = getcapOutput.strip();
        int space = line.lastIndexOf(' ');
        if (space < 0) {
            return caps;
        }
        for (String clause : line.substring(space + 1).split(" ")) {
            int op = clause.indexOf('=');
            if (op <= 0) {
                continue;
            }
            String flags = clause.substring(op + 1);
            if (flags.contains("e") && flags.contains("p")) {
                for (String c : clause.substring(0, op).split(",")) {
                    caps.add(c.trim().toLowerCase(java.util.Locale.ROOT));
                }
            }
        }
        return caps;
    }

    private record Result(int code, String output) {
    }

    private static Result run(AddonId id, String... command) throws SupervisionException {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().clear();
        pb.redirectErrorStream(true);
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        try {
            Process p = pb.start();
            byte[] out;
            try (InputStream in = p.getInputStream()) {
                out = in.readNBytes(4096);
            }
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": " + command[0]
                        + " did not finish within " + TIMEOUT_SECONDS + "s");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot run " + command[0]
                    + " (Debian package libcap2-bin): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": interrupted running " + command[0]);
        }
    }
}
