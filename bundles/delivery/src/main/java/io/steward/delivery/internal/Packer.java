package io.steward.delivery.internal;

import io.steward.delivery.AddonManifest;
import io.steward.delivery.artifacts.ArtifactReader;
import io.steward.delivery.artifacts.Limits;
import io.steward.delivery.artifacts.Manifests;
import io.steward.delivery.artifacts.Streams;
import io.steward.delivery.staging.FileOps;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Builds a deterministic artifact from a folder: entries sorted by name, mtime 0, uid/gid 0, empty
 * user and group names, modes 0755 (directories, executables, the declared binary) or 0644, POSIX
 * (PAX) headers for long names, and a fixed gzip header (no name, mtime 0, OS byte 0). The same folder
 * gives the same bytes, whatever the mtimes, owners and umask on disk (with the same JDK deflater).
 */
final class Packer {
    /** A packed artifact. */
    record Packed(Path file, String sha256, AddonManifest manifest, int entries) {
    }

    /** The folder cannot be packed; the message completes "cannot pack DIR: …". */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    private Packer() {
    }

    static Packed pack(Path dir, Path out, Limits limits) throws Refused, IOException {
        Path manifestFile = dir.resolve(ArtifactReader.MANIFEST);
        if (!Files.isRegularFile(manifestFile, LinkOption.NOFOLLOW_LINKS)) {
            throw new Refused("there is no regular file addon.json in " + dir);
        }
        AddonManifest manifest;
        try {
            manifest = Manifests.parse(Files.readAllBytes(manifestFile));
        } catch (Manifests.Invalid e) {
            throw new Refused(e.getMessage());
        }
        TreeMap<String, Path> entries = entries(dir, out.toAbsolutePath().normalize());
        Set<String> files = new HashSet<>();
        long total = 0;
        for (var e : entries.entrySet()) {
            if (!e.getKey().endsWith("/")) {
                files.add(e.getKey());
                long size = Files.size(e.getValue());
                if (size > limits.maxFileBytes()) {
                    throw new Refused(e.getKey() + " is " + size + " bytes, above the per-file limit of " + limits.maxFileBytes());
                }
                total += size;
            }
        }
        if (entries.size() > limits.maxEntries()) {
            throw new Refused("the folder has " + entries.size() + " entries, above the limit of " + limits.maxEntries());
        }
        if (total > limits.maxTotalBytes()) {
            throw new Refused("the files add up to " + total + " bytes, above the total limit of " + limits.maxTotalBytes());
        }
        try {
            Manifests.checkFiles(manifest, files);
        } catch (Manifests.Invalid e) {
            throw new Refused(e.getMessage());
        }
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        Path parent = out.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = parent.resolve("." + out.getFileName() + ".tmp-" + FileOps.random());
        try {
            try (OutputStream file = Files.newOutputStream(tmp);
                 DigestOutputStream digest = new DigestOutputStream(new BufferedOutputStream(file, 256 * 1024), sha);
                 GZIPOutputStream gz = new GZIPOutputStream(digest, 64 * 1024);
                 TarArchiveOutputStream tar = new TarArchiveOutputStream(gz, "UTF-8")) {
                tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
                for (var e : entries.entrySet()) {
                    write(tar, e.getKey(), e.getValue(), manifest.binary());
                }
                tar.finish();
            }
            Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return new Packed(out, HexFormat.of().formatHex(sha.digest()), manifest, entries.size());
    }

    private static void write(TarArchiveOutputStream tar, String name, Path source, String binary) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setModTime(FileTime.fromMillis(0));
        e.setIds(0, 0);
        e.setUserName("");
        e.setGroupName("");
        boolean dir = name.endsWith("/");
        boolean exec = dir || name.equals(binary) || Files.getPosixFilePermissions(source, LinkOption.NOFOLLOW_LINKS)
                .contains(PosixFilePermission.OWNER_EXECUTE);
        e.setMode(exec ? 0755 : 0644);
        if (!dir) {
            e.setSize(Files.size(source));
        }
        tar.putArchiveEntry(e);
        if (!dir) {
            try (InputStream in = Files.newInputStream(source, LinkOption.NOFOLLOW_LINKS)) {
                in.transferTo(tar);
            }
        }
        tar.closeArchiveEntry();
    }

    /** Every file and directory below {@code dir} by entry name (directories end in "/"); links and specials refused. */
    private static TreeMap<String, Path> entries(Path dir, Path exclude) throws IOException, Refused {
        TreeMap<String, Path> entries = new TreeMap<>();
        List<Path> all = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.forEach(all::add);
        }
        for (Path p : all) {
            if (p.equals(dir) || p.toAbsolutePath().normalize().equals(exclude)) {
                continue;
            }
            String name = dir.relativize(p).toString().replace('\\', '/');
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (a.isSymbolicLink()) {
                throw new Refused(name + " is a symbolic link; artifacts hold only regular files and directories");
            }
            if (!a.isRegularFile() && !a.isDirectory()) {
                throw new Refused(name + " is not a regular file or a directory");
            }
            try {
                if (!ArtifactReader.normalise(name).equals(name)) {
                    throw new Refused(name + " is not a plain relative name");
                }
            } catch (Streams.Refusal e) {
                throw new Refused(e.getMessage());
            }
            if (name.equals(ArtifactReader.METADATA)) {
                throw new Refused(name + " is a name reserved for Steward");
            }
            entries.put(a.isDirectory() ? name + "/" : name, p);
        }
        return entries;
    }
}
