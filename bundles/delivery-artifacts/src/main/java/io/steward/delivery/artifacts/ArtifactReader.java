package io.steward.delivery.artifacts;

import io.steward.supervision.spi.SupervisionException;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.charset.StandardCharsets;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Reads an artifact in one pass: the raw bytes are hashed (SHA-256) while they are inflated and the tar
 * is extracted into a {@link Sink}, and the stream is drained to its very end so that any trailing data
 * counts in the digest. The archive rules of PRODUCT §3 are enforced on the bytes actually read:
 * regular files and directories only, relative names without {@code ..}, no duplicates, limits on the
 * entry count, per-file and total size, inflated size (gzip bombs) and the artifact's own size.
 * <p>
 * The reader decides nothing about trust: the caller compares the digest and checks the signature
 * before anything it extracted is moved where others can see it. Stateless; one call per artifact.
 */
public final class ArtifactReader {
    public static final String STEP = "extract";
    public static final String MANIFEST = "addon.json";
    public static final String METADATA = ".steward-artifact.json";
    private static final int BUFFER = 256 * 1024;

    /** What one pass found; {@code artifactBytes} is what was read of the artifact itself (compressed). */
    public record Result(String sha256, Optional<byte[]> manifest, Set<String> files, int entries, long bytes,
                  long artifactBytes) {
    }

    private enum Kind { FILE, DIRECTORY }

    private final Limits limits;

    public ArtifactReader(Limits limits) {
        this.limits = limits;
    }

    public Limits limits() {
        return limits;
    }

    /**
     * Reads {@code raw} to its end. Permanent failures: the archive breaks a rule, is not gzip, is
     * truncated or corrupt. Transient: {@code raw} cannot be read, the sink cannot write.
     */
    public Result read(Failures fail, InputStream raw, Sink sink, Progress progress) throws SupervisionException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        Streams.Counting counted = new Streams.Counting(new Streams.Source(raw), limits.maxArtifactBytes(),
                "the artifact is larger than " + limits.maxArtifactBytes() + " bytes", progress);
        DigestInputStream digest = new DigestInputStream(counted, sha);
        Scan scan = new Scan(sink);
        try {
            Streams.Counting inflated;
            try {
                inflated = new Streams.Counting(new GZIPInputStream(digest, 64 * 1024), limits.maxInflatedBytes(),
                        "the artifact inflates to more than " + limits.maxInflatedBytes()
                                + " bytes (a gzip bomb?)", Progress.NONE);
            } catch (ZipException e) {
                throw new Streams.Refusal("the artifact is not a gzip stream (" + e.getMessage() + ")");
            }
            TarArchiveInputStream tar = new TarArchiveInputStream(inflated, StandardCharsets.UTF_8.name());
            scan.entries(tar, inflated);
            drain(inflated);    // what follows the end of the tar, through the gzip trailer (CRC, length)
            drain(digest);      // and whatever follows the gzip stream: it all counts in the digest
        } catch (Streams.Refusal e) {
            throw fail.permanent(STEP, "unsafe archive: " + e.getMessage());
        } catch (Streams.SourceException e) {
            throw fail.temporary("fetch", "cannot read the artifact: " + Failures.describe(e.getCause()), e);
        } catch (SinkException e) {
            if (e.getCause() instanceof ClosedByInterruptException) {
                Thread.currentThread().interrupt();
                throw fail.temporary(STEP, "interrupted", e);
            }
            throw fail.temporary(STEP, "cannot write " + e.path + sink.where() + ": " + Failures.describe(e.getCause()), e);
        } catch (InterruptedIOException e) {
            Thread.currentThread().interrupt();
            throw fail.temporary(STEP, "interrupted", e);
        } catch (EOFException e) {
            throw fail.permanent(STEP, "the archive is truncated (the stream ends early" + scan.where() + ")", e);
        } catch (IOException e) {
            if (String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT).contains("truncated")) {
                throw fail.permanent(STEP, "the archive is truncated (" + e.getMessage() + scan.where() + ")", e);
            }
            throw fail.permanent(STEP, "corrupt archive" + scan.where() + ": " + Failures.describe(e), e);
        } catch (IllegalArgumentException e) {
            // commons-compress reports some malformed headers this way
            throw fail.permanent(STEP, "corrupt archive" + scan.where() + ": " + e.getMessage(), e);
        }
        return new Result(HexFormat.of().formatHex(sha.digest()), Optional.ofNullable(scan.manifest),
                Set.copyOf(scan.files), scan.entries, scan.total, counted.count());
    }

    private static void drain(InputStream in) throws IOException {
        byte[] buf = new byte[64 * 1024];
        while (in.read(buf) >= 0) {
            // counted and digested by the streams below
        }
    }

    /** A sink failure, kept apart from read failures: it is about the local disk. */
    private static final class SinkException extends IOException {
        private static final long serialVersionUID = 1L;
        final String path;

        SinkException(String path, IOException cause) {
            super(cause.getMessage(), cause);
            this.path = path;
        }
    }

    /** The state of one pass over the entries. */
    private final class Scan {
        private final Sink sink;
        private final Map<String, Kind> names = new HashMap<>();    // explicit entries and implied parents
        private final Set<String> explicit = new HashSet<>();
        private final Set<String> files = new HashSet<>();
        private final byte[] buffer = new byte[BUFFER];
        private byte[] manifest;
        private String last;
        private int entries;
        private long total;

        Scan(Sink sink) {
            this.sink = sink;
        }

        /** Where the reader was, for a message: {@code  after entry "x"}, or nothing before the first entry. */
        String where() {
            return last == null ? "" : " after entry \"" + printable(last) + "\"";
        }

        void entries(TarArchiveInputStream tar, Streams.Counting inflated) throws IOException {
            while (true) {
                inflated.budget(Limits.MAX_ENTRY_METADATA_BYTES + 16 * 1024L,
                        "an entry header (with its PAX or long-name records) is larger than "
                                + Limits.MAX_ENTRY_METADATA_BYTES + " bytes");
                TarArchiveEntry e = tar.getNextEntry();
                inflated.endBudget();
                if (e == null) {
                    return;
                }
                if (++entries > limits.maxEntries()) {
                    throw new Streams.Refusal("more than " + limits.maxEntries() + " entries");
                }
                entry(tar, e);
            }
        }

        private void entry(TarArchiveInputStream tar, TarArchiveEntry e) throws IOException {
            String raw = e.getName();
            last = raw;
            String type = type(e);
            if (type != null) {
                throw new Streams.Refusal("entry \"" + printable(raw) + "\" is " + type
                        + "; only regular files and directories are allowed");
            }
            boolean dir = e.isDirectory();
            String name = normalise(raw);
            if (name.isEmpty()) {
                if (!dir) {
                    throw new Streams.Refusal("an entry has an empty name");
                }
                return;     // "./" itself
            }
            if (name.equals(METADATA)) {
                throw new Streams.Refusal("entry \"" + METADATA + "\" uses a name reserved for Steward");
            }
            if (!explicit.add(name)) {
                throw new Streams.Refusal("duplicate entry \"" + printable(name) + "\"");
            }
            claimParents(name);
            Kind existing = names.get(name);
            if (dir) {
                if (existing == Kind.FILE) {
                    throw new Streams.Refusal("duplicate entry \"" + printable(name) + "\" (a file and a directory)");
                }
                names.put(name, Kind.DIRECTORY);
                try {
                    sink.directory(name);
                } catch (IOException x) {
                    throw new SinkException(name, x);
                }
                return;
            }
            if (existing != null) {
                throw new Streams.Refusal("duplicate entry \"" + printable(name) + "\" (a file and a directory)");
            }
            names.put(name, Kind.FILE);
            file(tar, e, name);
        }

        private void file(TarArchiveInputStream tar, TarArchiveEntry e, String name) throws IOException {
            long declared = e.getSize();
            if (declared > limits.maxFileBytes()) {
                throw new Streams.Refusal("entry \"" + printable(name) + "\" is " + declared
                        + " bytes, above the per-file limit of " + limits.maxFileBytes());
            }
            if (total + declared > limits.maxTotalBytes()) {
                throw new Streams.Refusal("the files add up to more than the total limit of "
                        + limits.maxTotalBytes() + " bytes");
            }
            boolean isManifest = name.equals(MANIFEST);
            if (isManifest && declared > Limits.MAX_MANIFEST_BYTES) {
                throw new Streams.Refusal(MANIFEST + " is larger than " + Limits.MAX_MANIFEST_BYTES + " bytes");
            }
            ByteArrayOutputStream manifestBytes = isManifest ? new ByteArrayOutputStream() : null;
            try {
                sink.begin(name);
            } catch (IOException x) {
                throw new SinkException(name, x);
            }
            long size = 0;
            while (true) {
                int n = fill(tar);
                if (n <= 0) {
                    break;
                }
                // counted on what was read, whatever the header said
                size += n;
                total += n;
                if (size > limits.maxFileBytes()) {
                    throw new Streams.Refusal("entry \"" + printable(name) + "\" is larger than the per-file limit of "
                            + limits.maxFileBytes() + " bytes");
                }
                if (total > limits.maxTotalBytes()) {
                    throw new Streams.Refusal("the files add up to more than the total limit of "
                            + limits.maxTotalBytes() + " bytes");
                }
                if (manifestBytes != null) {
                    manifestBytes.write(buffer, 0, n);
                }
                try {
                    sink.write(buffer, 0, n);
                } catch (IOException x) {
                    throw new SinkException(name, x);
                }
            }
            if (size != declared) {
                throw new Streams.Refusal("entry \"" + printable(name) + "\" holds " + size
                        + " bytes but its header says " + declared + " (the archive is truncated)");
            }
            boolean executable = (e.getMode() & 0111) != 0;
            try {
                sink.end(executable);
            } catch (IOException x) {
                throw new SinkException(name, x);
            }
            files.add(name);
            if (manifestBytes != null) {
                manifest = manifestBytes.toByteArray();
            }
        }

        /** Reads as much of the current entry as fits the buffer, so that the disk sees large writes. */
        private int fill(TarArchiveInputStream tar) throws IOException {
            int n = 0;
            while (n < buffer.length) {
                int r = tar.read(buffer, n, buffer.length - n);
                if (r < 0) {
                    break;
                }
                n += r;
            }
            return n == 0 ? -1 : n;
        }

        /** Every parent of an entry is a directory; none may be a file. */
        private void claimParents(String name) throws Streams.Refusal {
            int slash = name.indexOf('/');
            while (slash > 0) {
                String parent = name.substring(0, slash);
                if (names.get(parent) == Kind.FILE) {
                    throw new Streams.Refusal("entry \"" + printable(name) + "\" is below \"" + printable(parent)
                            + "\", which is a file");
                }
                names.put(parent, Kind.DIRECTORY);
                slash = name.indexOf('/', slash + 1);
            }
        }
    }

    /** Why an entry's type is refused, or {@code null} for a regular file or a directory. */
    private static String type(TarArchiveEntry e) {
        if (e.isSymbolicLink()) {
            return "a symbolic link";
        }
        if (e.isLink()) {
            return "a hard link";
        }
        if (e.isCharacterDevice()) {
            return "a character device";
        }
        if (e.isBlockDevice()) {
            return "a block device";
        }
        if (e.isFIFO()) {
            return "a FIFO";
        }
        if (e.isSparse()) {
            return "a sparse file";
        }
        if (e.isDirectory()) {
            return null;
        }
        byte flag = e.getLinkFlag();
        if (flag == TarConstants.LF_NORMAL || flag == TarConstants.LF_OLDNORM) {
            return null;
        }
        return "of unsupported type '" + printable(String.valueOf((char) flag)) + "'";
    }

    /**
     * The entry name as a relative path of plain segments: a leading {@code ./} and a trailing {@code /}
     * are dropped; absolute names, {@code .} and {@code ..} segments, empty segments and control
     * characters are refused.
     */
    public static String normalise(String raw) throws Streams.Refusal {
        if (raw.isEmpty()) {
            return raw;
        }
        if (raw.startsWith("/")) {
            throw new Streams.Refusal("entry \"" + printable(raw) + "\" has an absolute path");
        }
        String name = raw;
        if (name.equals(".") || name.equals("./")) {
            return "";
        }
        if (name.startsWith("./")) {
            name = name.substring(2);
        }
        if (name.endsWith("/")) {
            name = name.substring(0, name.length() - 1);
        }
        if (name.length() > 4096) {
            throw new Streams.Refusal("entry name longer than 4096 characters");
        }
        for (String segment : name.split("/", -1)) {
            if (segment.equals("..")) {
                throw new Streams.Refusal("entry \"" + printable(raw) + "\" leaves the artifact (a '..' segment)");
            }
            if (segment.isEmpty() || segment.equals(".")) {
                throw new Streams.Refusal("entry \"" + printable(raw) + "\" has an empty or '.' path segment");
            }
            if (segment.length() > 255) {
                throw new Streams.Refusal("entry \"" + printable(raw) + "\" has a path segment longer than 255 bytes");
            }
            for (int i = 0; i < segment.length(); i++) {
                char c = segment.charAt(i);
                if (c < 0x20 || c == 0x7f) {
                    throw new Streams.Refusal("entry \"" + printable(raw) + "\" has a control character in its name");
                }
            }
        }
        return name;
    }

    /** A name made safe to print in a one-line message. */
    public static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && i < 200; i++) {
            char c = s.charAt(i);
            b.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        return s.length() > 200 ? b + "…" : b.toString();
    }
}
