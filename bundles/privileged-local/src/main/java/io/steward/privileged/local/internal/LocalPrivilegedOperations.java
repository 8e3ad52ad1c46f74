package io.steward.privileged.local.internal;

import io.steward.delivery.StagedArtifact;
import io.steward.privileged.PrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link PrivilegedOperations} done in-process by a root agent: file capabilities through
 * {@code /usr/sbin/setcap} (absolute path, empty environment), checked afterwards with
 * {@code /usr/sbin/getcap}. The program keeps its staged path (there is no root-owned copy), so
 * {@link #release} has nothing to remove. Stateless and thread-safe. Public for the root updater, which grants
 * capabilities with it outside OSGi (this package is not exported).
 */
public final class LocalPrivilegedOperations implements PrivilegedOperations {
    static final String SETCAP = "/usr/sbin/setcap";
    static final String GETCAP = "/usr/sbin/getcap";
    private static final Logger LOG = LoggerFactory.getLogger(LocalPrivilegedOperations.class);
    private static final long TIMEOUT_SECONDS = 10;

    public LocalPrivilegedOperations() {
        // stateless
    }

    @Override
    public Path grantCapabilities(AddonId id, StagedArtifact staged, String binary, List<String> capabilities)
            throws SupervisionException {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(staged, "staged");
        List<String> caps = CapabilityGrant.capabilities(id, capabilities);
        Path program = CapabilityGrant.program(id, staged.directory(), binary);
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
