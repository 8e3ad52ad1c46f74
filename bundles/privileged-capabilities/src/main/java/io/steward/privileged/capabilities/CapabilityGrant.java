package io.steward.privileged.capabilities;

import io.steward.delivery.AddonManifest;
import io.steward.privileged.PrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * The argument checks of upstream §6.2, as pure functions: what a privileged side accepts as a capability
 * list and as the program to grant them to. Every refusal is PERMANENT (the same request fails the same way).
 * The root updater runs the same checks outside OSGi.
 */
public final class CapabilityGrant {
    private CapabilityGrant() {
    }

    /**
     * Lower-cased, trimmed, de-duplicated and sorted capabilities, all from
     * {@link PrivilegedOperations#ALLOWED_CAPABILITIES}; an empty list is an error.
     */
    public static List<String> capabilities(AddonId id, List<String> requested) throws SupervisionException {
        if (requested == null) {
            throw refuse(id, "no capability list");
        }
        TreeSet<String> caps = new TreeSet<>();
        for (String c : requested) {
            if (c == null) {
                throw refuse(id, "a capability is null");
            }
            String normal = c.trim().toLowerCase(Locale.ROOT);
            if (!PrivilegedOperations.ALLOWED_CAPABILITIES.contains(normal)) {
                throw refuse(id, "capability \"" + printable(c) + "\" is outside the allowed set "
                        + new TreeSet<>(PrivilegedOperations.ALLOWED_CAPABILITIES));
            }
            caps.add(normal);
        }
        if (caps.isEmpty()) {
            throw refuse(id, "the capability list is empty");
        }
        return List.copyOf(caps);
    }

    /**
     * The program inside {@code stagedDir}: {@code binary} is a relative path of plain segments, no component
     * between the staged directory and the file is a symbolic link, the file is a regular file, and its real
     * path lies inside the staged directory's real path.
     *
     * @return the file's real path
     */
    public static Path program(AddonId id, Path stagedDir, String binary) throws SupervisionException {
        if (binary == null || binary.isEmpty() || binary.startsWith("/") || binary.contains("\\")
                || binary.chars().anyMatch(ch -> ch < 0x20 || ch == 0x7f)) {
            throw refuse(id, "binary \"" + printable(String.valueOf(binary)) + "\" is not a plain relative path");
        }
        List<String> segments = new ArrayList<>(List.of(binary.split("/", -1)));
        for (String s : segments) {
            if (s.isEmpty() || s.equals(".") || s.equals("..")) {
                throw refuse(id, "binary \"" + printable(binary) + "\" is not a plain relative path");
            }
        }
        try {
            if (!stagedDir.isAbsolute() || Files.isSymbolicLink(stagedDir)
                    || !Files.isDirectory(stagedDir, LinkOption.NOFOLLOW_LINKS)) {
                throw refuse(id, "staged directory " + stagedDir + " is not a directory");
            }
            Path root = stagedDir.toRealPath();
            Path p = stagedDir;
            for (String s : segments) {
                p = p.resolve(s);
                if (Files.isSymbolicLink(p)) {
                    throw refuse(id, "binary \"" + binary + "\" goes through the symbolic link " + p);
                }
            }
            if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                throw refuse(id, "binary \"" + binary + "\" is not a regular file in " + stagedDir);
            }
            Path real = p.toRealPath();
            if (!real.startsWith(root)) {
                throw refuse(id, "binary \"" + binary + "\" resolves outside " + stagedDir);
            }
            return real;
        } catch (IOException e) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": cannot resolve binary \""
                    + binary + "\": " + e.getMessage(), e);
        }
    }

    /** The supervision kinds whose program gets file capabilities (sidecar and ephemeral_helper call the grant). */
    public static final Set<String> KINDS = Set.of("sidecar", "agent_sidecar", "ephemeral_helper");

    /**
     * Binds a grant to the signed manifest of the artifact: the kind must be one that uses capabilities,
     * {@code binary} must be the manifest's {@code binary}, and every capability (already normalised by
     * {@link #capabilities}) must be among the manifest's {@code capabilities}.
     */
    public static void bound(AddonId id, AddonManifest manifest, String binary, List<String> caps)
            throws SupervisionException {
        if (!KINDS.contains(manifest.supervision())) {
            throw refuse(id, "the manifest's supervision " + printable(manifest.supervision()) + " does not use "
                    + "capabilities (only " + new TreeSet<>(KINDS) + " do) [rule: signed manifest]");
        }
        if (!manifest.binary().equals(binary)) {
            throw refuse(id, printable(String.valueOf(binary)) + " is not the manifest's binary ("
                    + printable(manifest.binary()) + ") [rule: signed manifest]");
        }
        Set<String> declared = new TreeSet<>();
        manifest.capabilities().forEach(c -> declared.add(c.trim().toLowerCase(Locale.ROOT)));
        List<String> undeclared = caps.stream().filter(c -> !declared.contains(c)).toList();
        if (!undeclared.isEmpty()) {
            throw refuse(id, String.join(",", undeclared) + (undeclared.size() == 1 ? " is" : " are")
                    + " not among the manifest's capabilities " + declared + " [rule: signed manifest]");
        }
    }

    private static SupervisionException refuse(AddonId id, String why) {
        return new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": capabilities refused: " + why);
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(100).forEach(c -> b.appendCodePoint(Character.isISOControl(c) ? '?' : c));
        return b.toString();
    }
}
