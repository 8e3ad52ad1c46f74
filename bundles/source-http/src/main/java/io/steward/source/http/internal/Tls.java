package io.steward.source.http.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** The TLS context of the source: the JDK's trust, or only the CA of one file (PEM certificates or PKCS#12). */
final class Tls {
    private Tls() {
    }

    /** {@code null} (the JDK's default) when no file is given. */
    static SSLContext context(Path caFile, String password) throws IOException {
        if (caFile == null) {
            return null;
        }
        try {
            KeyStore trust;
            byte[] bytes = Files.readAllBytes(caFile);
            if (new String(bytes, 0, Math.min(bytes.length, 4096), java.nio.charset.StandardCharsets.US_ASCII).contains("-----BEGIN")) {
                trust = KeyStore.getInstance(KeyStore.getDefaultType());
                trust.load(null, null);
                int i = 0;
                try (InputStream in = Files.newInputStream(caFile)) {
                    for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                        trust.setCertificateEntry("ca-" + i++, c);
                    }
                }
                if (i == 0) {
                    throw new IllegalArgumentException("HTTP source: the CA file " + caFile + " holds no certificate");
                }
            } else {
                trust = KeyStore.getInstance("PKCS12");
                try (InputStream in = Files.newInputStream(caFile)) {
                    trust.load(in, password == null || password.isEmpty() ? null : password.toCharArray());
                }
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            return ssl;
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("HTTP source: the CA file " + caFile + " cannot be used (" + e.getMessage() + ")");
        }
    }
}
