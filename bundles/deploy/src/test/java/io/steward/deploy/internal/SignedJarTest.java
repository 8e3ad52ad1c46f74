package io.steward.deploy.internal;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every way a jar can fail to be what a trusted key signed, against jars signed by the real jarsigner: unsigned,
 * tampered, wrong key, extra unsigned entries, a changed manifest header, a signature covering only some entries,
 * duplicate entries, a trust directory without keys; and the valid one (public key or certificate trusted).
 */
class SignedJarTest {
    @TempDir
    static Path dir;
    static Path trusted;
    static Path other;
    static DeployTrust trust;
    static Path valid;

    @BeforeAll
    static void keysAndAValidJar() throws Exception {
        trusted = Jars.keyStore(dir, "kinds");
        other = Jars.keyStore(dir, "stranger");
        Path trustDir = Files.createDirectories(dir.resolve("deploy-trust"));
        Jars.exportCertificate(trusted, "kinds", trustDir.resolve("kinds.pem"));
        trust = new DeployTrust(List.of(trustDir, dir.resolve("absent")));
        valid = signed("valid.jar", "kinds", trusted);
    }

    private static Map<String, String> entries() {
        Map<String, String> e = new TreeMap<>();
        e.put("io/example/Kind.class", "pretend bytecode");
        e.put("OSGI-INF/kind.xml", "<component/>");
        e.put("META-INF/maven/io.example/kind/pom.properties", "version=1");
        return e;
    }

    private static Path signed(String name, String alias, Path store) throws Exception {
        Path jar = Jars.bundle(dir.resolve(name), "io.example.kind", "1.0.0", entries());
        Jars.sign(jar, store, alias);
        return jar;
    }

    private static String refusal(Path jar) {
        SignedJar.Refused e = assertThrows(SignedJar.Refused.class, () -> SignedJar.check(jar, trust));
        return e.getMessage();
    }

    @Test
    void aJarSignedByATrustedKeyPasses() throws Exception {
        assertTrue(SignedJar.check(valid, trust).endsWith("kinds.pem"));
    }

    @Test
    void aTrustedPublicKeyWorksAsWellAsACertificate() throws Exception {
        Path keyDir = Files.createDirectories(dir.resolve("key-trust"));
        String cert = Files.readString(dir.resolve("deploy-trust/kinds.pem"));
        var key = DeployTrust.parse(cert).orElseThrow();
        Files.writeString(keyDir.resolve("kinds.pem"), "-----BEGIN PUBLIC KEY-----\n"
                + java.util.Base64.getMimeEncoder().encodeToString(key.getEncoded()) + "\n-----END PUBLIC KEY-----\n");
        assertTrue(SignedJar.check(valid, new DeployTrust(List.of(keyDir))).endsWith("kinds.pem"));
    }

    @Test
    void anUnsignedJarIsRefused() throws Exception {
        Path jar = Jars.bundle(dir.resolve("unsigned.jar"), "io.example.kind", "1.0.0", entries());
        assertTrue(refusal(jar).contains("is not signed"), refusal(jar));
    }

    @Test
    void aJarSignedByAnotherKeyIsRefused() throws Exception {
        Path jar = signed("stranger.jar", "stranger", other);
        assertTrue(refusal(jar).contains("not signed by a trusted key"), refusal(jar));
    }

    @Test
    void anEntryChangedAfterSigningIsRefused() throws Exception {
        Path jar = Jars.rewrite(valid, dir.resolve("tampered.jar"),
                (name, bytes) -> name.endsWith("Kind.class") ? "evil bytecode".getBytes(StandardCharsets.UTF_8) : bytes,
                Map.of());
        assertTrue(refusal(jar).contains("does not match its signature"), refusal(jar));
    }

    @Test
    void anUnsignedEntryAddedToASignedJarIsRefused() throws Exception {
        Path jar = Jars.rewrite(valid, dir.resolve("extra.jar"), (n, b) -> b, Map.of("io/example/Evil.class", "evil"));
        assertTrue(refusal(jar).contains("entry io/example/Evil.class is not signed"), refusal(jar));
    }

    @Test
    void anUnsignedFileHiddenUnderMetaInfIsRefused() throws Exception {
        Path jar = Jars.rewrite(valid, dir.resolve("meta-inf.jar"), (n, b) -> b,
                Map.of("META-INF/versions/17/io/example/Kind.class", "evil"));
        assertTrue(refusal(jar).contains("is not signed"), refusal(jar));
    }

    @Test
    void aManifestHeaderAddedAfterSigningIsRefused() throws Exception {
        Path jar = Jars.rewrite(valid, dir.resolve("header.jar"), (name, bytes) -> {
            if (!name.equals("META-INF/MANIFEST.MF")) {
                return bytes;
            }
            String m = new String(bytes, StandardCharsets.UTF_8);
            return m.replaceFirst("Bundle-Version: 1.0.0\r?\n", "Bundle-Version: 1.0.0\r\nBundle-Activator: io.example.Kind\r\n")
                    .getBytes(StandardCharsets.UTF_8);
        }, Map.of());
        String why = refusal(jar);
        assertTrue(why.contains("manifest was changed") || why.contains("signature is invalid")
                || why.contains("Invalid signature file digest for Manifest main attributes"), why);
    }

    @Test
    void aSignatureCoveringOnlySomeEntriesIsRefused() throws Exception {
        // sign a jar, then add a class whose manifest section and .SF digest are both missing
        Path jar = Jars.rewrite(valid, dir.resolve("partial.jar"), (n, b) -> b, Map.of("io/example/Late.class", "late"));
        assertTrue(refusal(jar).contains("Late.class is not signed"), refusal(jar));
    }

    @Test
    void theSignatureFilesRemovedLeaveAnUnsignedJar() throws Exception {
        Path jar = Jars.rewrite(valid, dir.resolve("stripped.jar"),
                (name, bytes) -> name.matches("META-INF/[^/]+\\.(SF|EC|RSA|DSA)") ? null : bytes, Map.of());
        assertTrue(refusal(jar).contains("is not signed"), refusal(jar));
    }

    @Test
    void aTrustDirectoryWithoutKeysTrustsNothing() throws Exception {
        SignedJar.Refused e = assertThrows(SignedJar.Refused.class,
                () -> SignedJar.check(valid, new DeployTrust(List.of(dir.resolve("absent")))));
        assertTrue(e.getMessage().contains("no key is trusted"), e.getMessage());
    }

    @Test
    void notAJarIsRefused() throws Exception {
        Path jar = Files.writeString(dir.resolve("text.jar"), "not a zip at all");
        String why = refusal(jar);
        assertTrue(why.contains("jar") || why.contains("manifest"), why);
    }
}
