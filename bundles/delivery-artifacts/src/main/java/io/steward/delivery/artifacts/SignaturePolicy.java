package io.steward.delivery.artifacts;

import io.steward.delivery.trust.Ed25519;
import io.steward.delivery.trust.TrustStore;

import io.steward.supervision.spi.SupervisionException;
import java.io.IOException;
import java.security.PublicKey;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks an artifact signature against the trust store (PRODUCT §3). A signature that is empty,
 * malformed, names a key that is not (or no longer) trusted, or matches no trusted key is refused,
 * permanently, for every kind. The one exception: for add-ons the operator lists in
 * {@code allow_unsigned_addons}, an <em>empty</em> signature is accepted with a warning; a present
 * signature is still checked and refused when wrong.
 */
public final class SignaturePolicy {
    private static final Logger LOG = LoggerFactory.getLogger(SignaturePolicy.class);
    public static final String STEP = "verify";

    /** Which key vouched for an artifact; empty when it was accepted unsigned. */
    public record Verdict(Optional<String> key) {
    }

    private final TrustStore trust;
    private final Set<String> allowUnsigned;

    public SignaturePolicy(TrustStore trust, Set<String> allowUnsigned) {
        this.trust = trust;
        this.allowUnsigned = Set.copyOf(allowUnsigned);
    }

    public TrustStore trust() {
        return trust;
    }

    public Verdict check(Failures fail, String id, String version, String sha256, String signature,
                  Optional<String> keyId) throws SupervisionException {
        String text = signature.strip();
        if (text.isEmpty()) {
            if (allowUnsigned.contains(id)) {
                LOG.warn("Add-on {} version {}: accepting an unsigned artifact because allow_unsigned_addons lists it",
                        id, version);
                return new Verdict(Optional.empty());
            }
            throw fail.permanent(STEP, "the artifact is unsigned (empty signature) and unsigned artifacts are not allowed for this add-on");
        }
        byte[] sig;
        try {
            sig = Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            int bad = 0;
            while (bad < text.length() && "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=".indexOf(text.charAt(bad)) >= 0) {
                bad++;
            }
            throw fail.permanent(STEP, "the signature is not valid base64: " + (bad < text.length()
                    ? "'" + text.charAt(bad) + "' at position " + (bad + 1) + " is not a base64 character"
                    : e.getMessage()));
        }
        if (sig.length != Ed25519.SIGNATURE_BYTES) {
            throw fail.permanent(STEP, "the signature is " + sig.length + " bytes long, an Ed25519 signature is 64");
        }
        SortedMap<String, PublicKey> keys;
        try {
            keys = trust.keys();
        } catch (IOException e) {
            throw fail.temporary(STEP, "cannot read the trust store " + trust.directory() + ": "
                    + Failures.describe(e), e);
        }
        byte[] statement = Ed25519.statement(id, version, sha256);
        if (keyId.isPresent()) {
            PublicKey key = keys.get(keyId.get());
            if (key == null) {
                throw fail.permanent(STEP, "the signature names key \"" + keyId.get()
                        + "\", which is not in the trust store (trusted: "
                        + TrustStore.ids(keys) + ")");
            }
            if (!Ed25519.verify(key, statement, sig)) {
                throw fail.permanent(STEP, "signature does not match trusted key " + keyId.get()
                        + " for " + id + " " + version + " with sha256 " + sha256);
            }
            return new Verdict(keyId);
        }
        if (keys.isEmpty()) {
            throw fail.permanent(STEP, "no trusted keys in " + trust.directory() + " to check the signature with");
        }
        for (Map.Entry<String, PublicKey> k : keys.entrySet()) {
            if (Ed25519.verify(k.getValue(), statement, sig)) {
                return new Verdict(Optional.of(k.getKey()));
            }
        }
        throw fail.permanent(STEP, "signature does not match any trusted key (tried: " + TrustStore.ids(keys) + ")");
    }
}
