package io.steward.source.signed;

import io.steward.delivery.trust.Ed25519;
import io.steward.delivery.trust.TrustStore;
import io.steward.supervision.AssignmentCodec;
import io.steward.supervision.AssignmentDocument;
import io.steward.supervision.InvalidDocumentException;
import io.steward.files.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;

/**
 * Decides whether a signed value may take effect on this host, and keeps the last one that did. A value
 * takes effect only when it is well formed, signed by the key it names and that key is in the agent's
 * trust store, is for this host, carries a serial greater than the one in effect, and holds a valid
 * assignment document. Anything else is refused with one sentence and changes nothing: a broker (or a
 * stolen broker credential) can withhold documents, never forge, replay or roll one back.
 * <p>
 * The value in effect is cached in one file, replaced atomically (temp file, fsync, rename, directory
 * fsync), and checked again like any other value when it is read at boot: a cache edited on disk, or
 * signed by a key since removed from the trust store, does not apply. Thread-safe.
 */
public final class SignedDocumentGate {

    /**
     * A value in effect.
     *
     * @param value    the signed value
     * @param bytes    its bytes as received (what the cache holds)
     * @param document the parsed assignment document
     * @param warnings the document's non-fatal problems
     */
    public record Accepted(SignedAssignment value, byte[] bytes, AssignmentDocument document, List<String> warnings) {
        public Accepted {
            Objects.requireNonNull(value, "value");
            bytes = bytes.clone();
            Objects.requireNonNull(document, "document");
            warnings = List.copyOf(warnings);
        }

        public String sha256() {
            return value.documentSha256();
        }
    }

    /** What {@link #offer} did: a new value took effect, the one in effect came again, or the value was refused. */
    public enum Outcome { ACCEPTED, UNCHANGED, REFUSED }

    /** An outcome and, when refused, why. */
    public record Verdict(Outcome outcome, Optional<String> reason) {
    }

    private final String hostId;
    private final TrustStore trust;
    private final AssignmentCodec codec;
    private final Path cacheFile;
    private final int maxBytes;
    private final boolean strict;
    private Accepted current;       // guarded by this

    /**
     * @param hostId    this host's id; values for any other host are refused
     * @param trust     the agent's trust store
     * @param codec     validates the document inside a value
     * @param cacheFile where the value in effect is kept for offline boots
     * @param maxBytes  the largest value accepted
     * @param strict    whether unknown fields of the document are errors
     */
    public SignedDocumentGate(String hostId, TrustStore trust, AssignmentCodec codec, Path cacheFile, int maxBytes,
                              boolean strict) {
        if (!SignedAssignment.validHostId(hostId)) {
            throw new IllegalArgumentException("'" + hostId + "' is not a valid host id (letters, digits, _ and -, at most 128)");
        }
        this.hostId = hostId;
        this.trust = Objects.requireNonNull(trust, "trust");
        this.codec = Objects.requireNonNull(codec, "codec");
        this.cacheFile = Objects.requireNonNull(cacheFile, "cacheFile");
        this.maxBytes = maxBytes;
        this.strict = strict;
    }

    public String hostId() {
        return hostId;
    }

    /** The value in effect, if any. */
    public synchronized Optional<Accepted> current() {
        return Optional.ofNullable(current);
    }

    /**
     * Reads the cached value, checks it like a new one and puts it in effect. Returns why it could not
     * (empty when it took effect or when there is no cache).
     */
    public synchronized Optional<String> loadCache() {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(cacheFile);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("the cached document " + cacheFile + " cannot be read (" + e.getMessage() + ")");
        }
        try {
            current = check(bytes, 0);
            return Optional.empty();
        } catch (RefusedValueException e) {
            return Optional.of("the cached document " + cacheFile + " was refused: " + e.getMessage());
        }
    }

    /**
     * Offers a value received from the network. An accepted value is cached before this returns.
     *
     * @throws IOException when the cache cannot be written; the value is in effect all the same (the host
     *                     follows its controller), only an offline boot would not see it
     */
    public synchronized Verdict offer(byte[] bytes) throws IOException {
        if (current != null && Arrays.equals(bytes, current.bytes())) {
            return new Verdict(Outcome.UNCHANGED, Optional.empty());
        }
        Accepted next;
        try {
            next = check(bytes, current == null ? 0 : current.value().serial());
        } catch (RefusedValueException e) {
            return new Verdict(Outcome.REFUSED, Optional.of(e.getMessage()));
        }
        current = next;
        write(cacheFile, next.bytes());
        return new Verdict(Outcome.ACCEPTED, Optional.empty());
    }

    private Accepted check(byte[] bytes, long serialInEffect) throws RefusedValueException {
        SignedAssignment value = SignedAssignment.parse(bytes, maxBytes);
        if (!value.host().equals(hostId)) {
            throw new RefusedValueException("the document is for host '" + value.host() + "', not this host '" + hostId + "'");
        }
        SortedMap<String, PublicKey> keys;
        try {
            keys = trust.keys();
        } catch (IOException e) {
            throw new RefusedValueException("the trust store " + trust.directory() + " cannot be read (" + e.getMessage() + ")");
        }
        PublicKey key = keys.get(value.key());
        if (key == null) {
            throw new RefusedValueException("the document is signed with key '" + value.key() + "', which is not in the trust store "
                    + trust.directory() + " (trusted: " + TrustStore.ids(keys) + ")");
        }
        if (!Ed25519.verify(key, value.statement(), Base64.getDecoder().decode(value.signature()))) {
            throw new RefusedValueException("the signature of serial " + value.serial() + " does not match key '" + value.key()
                    + "' (a wrong key, or the host, serial or document was changed after signing)");
        }
        if (value.serial() <= serialInEffect) {
            throw new RefusedValueException("serial " + value.serial() + " is not newer than serial " + serialInEffect
                    + " in effect (a replayed or older document)");
        }
        try {
            AssignmentCodec.Parsed parsed = codec.parse(value.document(), strict);
            return new Accepted(value, bytes, parsed.document(), parsed.warnings());
        } catch (InvalidDocumentException e) {
            throw new RefusedValueException("the document of serial " + value.serial() + " is invalid: " + e.getMessage());
        }
    }

    /** Crash-safe replacement: a temporary sibling, fsync, rename over, fsync the directory. */
    static void write(Path target, byte[] bytes) throws IOException {
        AtomicFiles.replace(target, "." + target.getFileName() + ".tmp").createDirectories().durable().write(bytes);
    }
}
