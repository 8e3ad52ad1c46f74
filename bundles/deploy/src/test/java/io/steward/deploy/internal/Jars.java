package io.steward.deploy.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/** Test jars: built, signed with the JDK's real keytool and jarsigner, and rewritten the way an attacker would. */
final class Jars {
    static final String PASS = "test-pass";

    private Jars() {
    }

    /** A bundle jar with a manifest and the given entries. */
    static Path bundle(Path file, String symbolicName, String version, Map<String, String> entries) throws IOException {
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        m.getMainAttributes().putValue("Bundle-ManifestVersion", "2");
        m.getMainAttributes().putValue("Bundle-SymbolicName", symbolicName);
        m.getMainAttributes().putValue("Bundle-Version", version);
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(file), m)) {
            for (Map.Entry<String, String> e : entries.entrySet()) {
                out.putNextEntry(new JarEntry(e.getKey()));
                out.write(e.getValue().getBytes(StandardCharsets.UTF_8));
                out.closeEntry();
            }
        }
        return file;
    }

    /** A PKCS#12 key store with one Ed25519 key {@code alias}; its certificate as PEM next to it. */
    static Path keyStore(Path dir, String alias) throws IOException, InterruptedException {
        Path store = dir.resolve(alias + ".p12");
        run("keytool", "-genkeypair", "-alias", alias, "-keyalg", "Ed25519", "-dname", "CN=" + alias,
                "-validity", "3650", "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass", PASS);
        return store;
    }

    /** The certificate of {@code alias} (keytool -exportcert -rfc) into {@code pem}. */
    static void exportCertificate(Path store, String alias, Path pem) throws IOException, InterruptedException {
        String cert = run("keytool", "-exportcert", "-rfc", "-alias", alias, "-storetype", "PKCS12",
                "-keystore", store.toString(), "-storepass", PASS);
        Files.writeString(pem, cert);
    }

    static void sign(Path jar, Path store, String alias) throws IOException, InterruptedException {
        run("jarsigner", "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass", PASS,
                jar.toString(), alias);
    }

    /** Copies {@code in} to {@code out}, each entry's bytes through {@code change} (null drops it), then extras. */
    static Path rewrite(Path in, Path out, BiFunction<String, byte[], byte[]> change, Map<String, String> extras)
            throws IOException {
        try (ZipFile zip = new ZipFile(in.toFile()); ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(out))) {
            for (Enumeration<? extends ZipEntry> e = zip.entries(); e.hasMoreElements(); ) {
                ZipEntry entry = e.nextElement();
                byte[] bytes;
                try (InputStream s = zip.getInputStream(entry)) {
                    bytes = s.readAllBytes();
                }
                byte[] changed = change.apply(entry.getName(), bytes);
                if (changed != null) {
                    z.putNextEntry(new ZipEntry(entry.getName()));
                    z.write(changed);
                    z.closeEntry();
                }
            }
            for (Map.Entry<String, String> x : extras.entrySet()) {
                z.putNextEntry(new ZipEntry(x.getKey()));
                z.write(x.getValue().getBytes(StandardCharsets.UTF_8));
                z.closeEntry();
            }
        }
        return out;
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }
}
