package io.steward.itests;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.Signature;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Runs in the test driver, before the framework starts: signed add-on artifacts as PRODUCT §3 defines
 * them, made with the JDK's Ed25519 and commons-compress only (no Steward code): a gzip'd tar with the
 * files at its root, its SHA-256, and an Ed25519 signature over
 * {@code steward-artifact-v1\n<id>\n<version>\n<sha256>\n}. The public key goes into the trust store as
 * {@code <key id>.pem} (SubjectPublicKeyInfo PEM).
 */
final class SignedArtifacts {
    private final String keyId;
    private final KeyPair keys;

    SignedArtifacts(String keyId) {
        this.keyId = keyId;
        try {
            this.keys = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        }
    }

    /** Writes the public key into {@code trustDir} as {@code <key id>.pem}. */
    void trust(Path trustDir) throws IOException {
        Files.createDirectories(trustDir);
        String body = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(keys.getPublic().getEncoded());
        Files.writeString(trustDir.resolve(keyId + ".pem"),
                "-----BEGIN PUBLIC KEY-----\n" + body + "\n-----END PUBLIC KEY-----\n", StandardCharsets.UTF_8);
    }

    /**
     * Packs {@code files} (name at the artifact's root → text; names ending in {@code .sh} are executable)
     * into {@code out}, signs it for {@code id} and {@code version}, and returns the assignment's
     * {@code artifact} object (JSON).
     */
    String pack(String id, String version, Map<String, String> files, Path out) throws IOException {
        Files.createDirectories(out.getParent());
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        try (OutputStream file = Files.newOutputStream(out);
             DigestOutputStream digest = new DigestOutputStream(file, sha);
             GZIPOutputStream gz = new GZIPOutputStream(digest);
             TarArchiveOutputStream tar = new TarArchiveOutputStream(gz, "UTF-8")) {
            for (Map.Entry<String, String> f : new TreeMap<>(files).entrySet()) {
                byte[] bytes = f.getValue().getBytes(StandardCharsets.UTF_8);
                TarArchiveEntry entry = new TarArchiveEntry(f.getKey());
                entry.setMode(f.getKey().endsWith(".sh") ? 0755 : 0644);
                entry.setSize(bytes.length);
                tar.putArchiveEntry(entry);
                tar.write(bytes);
                tar.closeArchiveEntry();
            }
            tar.finish();
        }
        String sha256 = HexFormat.of().formatHex(sha.digest());
        String signature;
        try {
            Signature signer = Signature.getInstance("Ed25519");
            signer.initSign(keys.getPrivate());
            signer.update(("steward-artifact-v1\n" + id + "\n" + version + "\n" + sha256 + "\n")
                    .getBytes(StandardCharsets.UTF_8));
            signature = Base64.getEncoder().encodeToString(signer.sign());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        return "{\"url\":\"" + out.toUri() + "\",\"sha256\":\"" + sha256 + "\",\"signature\":\"" + signature
                + "\",\"key\":\"" + keyId + "\"}";
    }
}
