package io.steward.delivery.trust;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Ed25519 as Steward uses it, with the JDK's own provider: the artifact statement, signing and
 * verifying, and the PEM forms {@code openssl} reads and writes (PKCS#8 {@code PRIVATE KEY},
 * SubjectPublicKeyInfo {@code PUBLIC KEY}).
 */
public final class Ed25519 {
    public static final String ALGORITHM = "Ed25519";
    public static final int SIGNATURE_BYTES = 64;
    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN ([A-Z ]+)-----\\s*([A-Za-z0-9+/=\\s]+?)\\s*-----END \\1-----");

    private Ed25519() {
    }

    /** The UTF-8 statement an artifact signature covers. */
    public static byte[] statement(String id, String version, String sha256) {
        return ("steward-artifact-v1\n" + id + "\n" + version + "\n" + sha256 + "\n").getBytes(StandardCharsets.UTF_8);
    }

    public static KeyPair generate() {
        try {
            return KeyPairGenerator.getInstance(ALGORITHM).generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        }
    }

    public static byte[] sign(PrivateKey key, byte[] message) {
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initSign(key);
            s.update(message);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot sign with this key: " + e.getMessage(), e);
        }
    }

    /** True when {@code signature} is a valid signature of {@code message} by {@code key}. */
    public static boolean verify(PublicKey key, byte[] message, byte[] signature) {
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initVerify(key);
            s.update(message);
            return s.verify(signature);
        } catch (SignatureException | InvalidKeyException e) {
            return false;       // a malformed signature (not a curve point) simply does not match
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        }
    }

    public static String publicPem(PublicKey key) {
        return pem("PUBLIC KEY", key.getEncoded());
    }

    public static String privatePem(PrivateKey key) {
        return pem("PRIVATE KEY", key.getEncoded());
    }

    /** Reads an Ed25519 public key from SubjectPublicKeyInfo PEM. */
    public static PublicKey readPublic(String pem) throws InvalidKeySpecException {
        byte[] der = der(pem, "PUBLIC KEY");
        try {
            return KeyFactory.getInstance(ALGORITHM).generatePublic(new X509EncodedKeySpec(der));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        } catch (RuntimeException e) {
            throw new InvalidKeySpecException("not an Ed25519 public key", e);
        }
    }

    /** Reads an unencrypted Ed25519 private key from PKCS#8 PEM, as {@code openssl genpkey} writes it. */
    public static PrivateKey readPrivate(String pem) throws InvalidKeySpecException {
        if (pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
            throw new InvalidKeySpecException("the private key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)");
        }
        byte[] der = der(pem, "PRIVATE KEY");
        try {
            return KeyFactory.getInstance(ALGORITHM).generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        } catch (RuntimeException e) {
            throw new InvalidKeySpecException("not an Ed25519 private key", e);
        }
    }

    private static byte[] der(String pem, String label) throws InvalidKeySpecException {
        Matcher m = PEM.matcher(pem);
        while (m.find()) {
            if (m.group(1).equals(label)) {
                try {
                    return Base64.getMimeDecoder().decode(m.group(2));
                } catch (IllegalArgumentException e) {
                    throw new InvalidKeySpecException("the PEM body is not valid base64", e);
                }
            }
        }
        throw new InvalidKeySpecException("no \"-----BEGIN " + label + "-----\" block");
    }

    private static String pem(String label, byte[] der) {
        String body = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der);
        return "-----BEGIN " + label + "-----\n" + body + "\n-----END " + label + "-----\n";
    }
}
