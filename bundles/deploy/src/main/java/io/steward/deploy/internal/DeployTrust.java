package io.steward.deploy.internal;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The keys allowed to sign jars of {@code deploy/}: every {@code *.pem} of the deploy trust directories, a public key
 * ({@code BEGIN PUBLIC KEY}, as {@code steward keygen} and {@code openssl pkey -pubout} write it) or a certificate
 * ({@code BEGIN CERTIFICATE}, as {@code keytool -exportcert -rfc} writes it), whose public key is what counts. A
 * signer is trusted when its certificate carries one of these keys: the key is pinned, the certificate's issuer,
 * dates and extensions are not consulted. Read again at every check, so adding or removing a file takes effect at
 * the next jar. Separate from the artifact trust store: a key trusted to sign add-ons (which run as their own
 * processes) is not thereby trusted to run code inside the agent.
 */
final class DeployTrust {
    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN (PUBLIC KEY|CERTIFICATE)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");
    private static final List<String> KEY_ALGORITHMS = List.of("Ed25519", "EC", "RSA");

    private final List<Path> dirs;

    DeployTrust(List<Path> dirs) {
        this.dirs = List.copyOf(dirs);
    }

    /** The directories, for a sentence: {@code a, b}. */
    String describe() {
        return String.join(", ", dirs.stream().map(Path::toString).toList());
    }

    List<Path> dirs() {
        return dirs;
    }

    /** The trusted keys by file path; a file that is not a key or a certificate is skipped. */
    Map<String, PublicKey> keys() throws IOException {
        Map<String, PublicKey> keys = new HashMap<>();
        for (Path dir : dirs) {
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.pem")) {
                for (Path f : files) {
                    if (Files.isRegularFile(f) && Files.size(f) < 64 * 1024) {
                        parse(Files.readString(f, StandardCharsets.US_ASCII)).ifPresent(k -> keys.put(f.toString(), k));
                    }
                }
            }
        }
        return keys;
    }

    static Optional<PublicKey> parse(String pem) {
        Matcher m = PEM.matcher(pem);
        if (!m.find()) {
            return Optional.empty();
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(m.group(2));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        try {
            if (m.group(1).equals("CERTIFICATE")) {
                X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509")
                        .generateCertificate(new ByteArrayInputStream(der));
                return Optional.of(c.getPublicKey());
            }
        } catch (GeneralSecurityException e) {
            return Optional.empty();
        }
        List<String> tried = new ArrayList<>(KEY_ALGORITHMS);
        for (String algorithm : tried) {
            try {
                return Optional.of(KeyFactory.getInstance(algorithm).generatePublic(new X509EncodedKeySpec(der)));
            } catch (GeneralSecurityException e) {
                // the next algorithm
            }
        }
        return Optional.empty();
    }
}
