package io.steward.delivery.trust;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.PublicKey;
import java.security.spec.InvalidKeySpecException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trusted Ed25519 public keys: {@code <trust>/<key id>.pem}, SubjectPublicKeyInfo PEM. Several keys
 * may be trusted at once; deleting a file revokes its key. {@link #keys()} re-reads the directory when the
 * names, sizes or modification times of its {@code *.pem} files changed (a cheap listing per call), so a
 * rotation or a revocation takes effect at the next stage without a restart. Thread-safe.
 */
public final class TrustStore {
    private static final Logger LOG = LoggerFactory.getLogger(TrustStore.class);

    private record Snapshot(List<String> fingerprint, SortedMap<String, PublicKey> keys) {
    }

    private final Path dir;
    private Snapshot snapshot = new Snapshot(List.of("<none>"), Collections.emptySortedMap());

    public TrustStore(Path dir) {
        this.dir = dir;
    }

    public Path directory() {
        return dir;
    }

    /** Key id → key, sorted by id; empty when the directory is missing or holds no valid key. */
    public synchronized SortedMap<String, PublicKey> keys() throws IOException {
        List<Path> files = new ArrayList<>();
        List<String> fingerprint = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.pem")) {
            for (Path p : ds) {
                files.add(p);
            }
        } catch (NoSuchFileException e) {
            files.clear();
        }
        Collections.sort(files);
        for (Path p : files) {
            try {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
                fingerprint.add(p.getFileName() + "|" + a.size() + "|" + a.lastModifiedTime().toMillis()
                        + "|" + a.fileKey());
            } catch (NoSuchFileException e) {
                // removed while listing: revoked
            }
        }
        if (!fingerprint.equals(snapshot.fingerprint())) {
            snapshot = new Snapshot(List.copyOf(fingerprint), load(files));
        }
        return snapshot.keys();
    }

    private SortedMap<String, PublicKey> load(List<Path> files) {
        SortedMap<String, PublicKey> keys = new TreeMap<>();
        for (Path p : files) {
            String name = p.getFileName().toString();
            String id = name.substring(0, name.length() - ".pem".length());
            try {
                if (!Files.isRegularFile(p)) {
                    continue;
                }
                keys.put(id, Ed25519.readPublic(Files.readString(p, StandardCharsets.US_ASCII)));
            } catch (InvalidKeySpecException | IOException | RuntimeException e) {
                LOG.warn("Ignoring trust-store file {}: {}", p, e.getMessage());
            }
        }
        LOG.info("Trust store {}: {} key(s) {}", dir, keys.size(), keys.keySet());
        return Collections.unmodifiableSortedMap(keys);
    }

    /** The ids of a key map, for messages: {@code a, b} or {@code none}. */
    public static String ids(Map<String, ?> keys) {
        return keys.isEmpty() ? "none" : String.join(", ", keys.keySet());
    }
}
