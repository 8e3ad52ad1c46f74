package io.steward.updater;

import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collection;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What is in the unit directory, against what the {@link Ledger} says the updater wrote there: a unit the ledger
 * does not list for the add-on but that exists (a file or a symbolic link: the operator's copy of
 * {@code steward-updater.service}, a {@code steward-x.service} someone else wrote) is never overwritten, and a
 * unit whose bytes are no longer those the updater recorded (changed outside Steward) is neither overwritten nor
 * deleted. A ledger entry without a digest (written by an older updater, or a unit recorded before a crash
 * interrupted its write) is trusted as the updater's own. Never follows a link. Stateless.
 */
final class UnitFiles {
    private final Path unitDir;

    UnitFiles(Path unitDir) {
        this.unitDir = unitDir;
    }

    /** Before an install: PERMANENT for a foreign or changed unit among {@code units}; nothing is changed. */
    void checkOverwrite(AddonId id, Ledger.Entry entry, Collection<String> units, String op)
            throws SupervisionException {
        for (String u : units) {
            Path file = unitDir.resolve(u);
            if (!entry.units().contains(u) && present(file)) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": " + op + " refused: " + file
                        + " exists and the updater did not install it; Steward never overwrites a unit it does not "
                        + "own (remove or rename it first) [rule: naming convention]");
            }
        }
        checkUnchanged(id, entry, units, op);
    }

    /** Before writing or deleting units the ledger lists: PERMANENT for one changed since the updater wrote it. */
    void checkUnchanged(AddonId id, Ledger.Entry entry, Collection<String> units, String op)
            throws SupervisionException {
        for (String u : units) {
            String recorded = entry.digests().get(u);
            Path file = unitDir.resolve(u);
            if (recorded == null || !present(file)) {
                continue;
            }
            Optional<String> now = digest(id, file);
            if (now.isEmpty() || !now.get().equals(recorded)) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": " + op + " refused: " + file
                        + " was changed outside Steward since the updater wrote it (" + now.map(d -> "sha256 " + d)
                        .orElse("no longer a regular file") + ", the updater wrote sha256 " + recorded + "); an "
                        + "operator restores or removes it [rule: naming convention]");
            }
        }
    }

    /** The SHA-256 of each of {@code units} as it is now in the unit directory (those that are regular files). */
    Map<String, String> digests(AddonId id, Collection<String> units) throws SupervisionException {
        Map<String, String> out = new TreeMap<>();
        for (String u : units) {
            digest(id, unitDir.resolve(u)).ifPresent(d -> out.put(u, d));
        }
        return out;
    }

    private static boolean present(Path file) {
        return Files.exists(file, LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(file);
    }

    /** The file's SHA-256, or empty when it is absent or not a regular file (a link is not followed). */
    private static Optional<String> digest(AddonId id, Path file) throws SupervisionException {
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        try (InputStream in = Channels.newInputStream(Files.newByteChannel(file, StandardOpenOption.READ,
                LinkOption.NOFOLLOW_LINKS))) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[8192];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                sha.update(buffer, 0, n);
            }
            return Optional.of(HexFormat.of().formatHex(sha.digest()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read " + file + ": "
                    + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
