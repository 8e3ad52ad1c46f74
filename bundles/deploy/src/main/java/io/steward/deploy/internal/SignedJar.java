package io.steward.deploy.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSigner;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Whether a jar is signed, entry by entry, by a key of the deploy trust (standard JAR signing: what
 * {@code jarsigner} writes and {@code jarsigner -verify} checks). Stricter than the JDK's own check, which accepts
 * a jar with unsigned entries: here every entry but the signature files themselves must be signed by one same
 * trusted signer, the manifest must be byte for byte what every signature covers, and the central directory (what
 * the framework reads) must list exactly the entries of the local headers (what a stream reader sees), once each.
 * Only ever called on a private copy, so what was checked is what gets installed.
 */
final class SignedJar {
    /** Larger jars are refused before a byte is verified: a kind is well under a MiB. */
    static final long MAX_BYTES = 64L << 20;
    private static final Pattern SIGNATURE_FILE = Pattern.compile(
            "META-INF/[^/]+\\.(SF|RSA|DSA|EC)|META-INF/SIG-[^/]+", Pattern.CASE_INSENSITIVE);

    /** A refusal: one clause saying what is wrong, for the sentence of the log. */
    static final class Refused extends Exception {
        Refused(String why) {
            super(why);
        }
    }

    private SignedJar() {
    }

    /** Returns the trusted key file that signed {@code jar}, or says why it is refused. */
    static String check(Path jar, DeployTrust trust) throws Refused, IOException {
        long size = Files.size(jar);
        if (size > MAX_BYTES) {
            throw new Refused("it is larger than " + (MAX_BYTES >> 20) + " MiB");
        }
        Map<String, PublicKey> keys = trust.keys();
        if (keys.isEmpty()) {
            throw new Refused("no key is trusted to sign kinds (no *.pem in " + trust.describe() + ")");
        }
        List<String> local = localEntries(jar);
        try (JarFile file = new JarFile(jar.toFile(), true)) {
            List<String> central = Collections.list(file.entries()).stream().map(ZipEntry::getName).toList();
            if (!new HashSet<>(central).equals(new HashSet<>(local)) || central.size() != local.size()) {
                throw new Refused("its central directory and its entries do not list the same files");
            }
            Manifest manifest = file.getManifest();
            if (manifest == null) {
                throw new Refused("it has no META-INF/MANIFEST.MF");
            }
            Set<String> signedBy = null;        // trusted key files that signed every entry so far
            for (JarEntry entry : Collections.list(file.entries())) {
                String name = entry.getName();
                safeName(name);
                if (entry.isDirectory() || SIGNATURE_FILE.matcher(name).matches()
                        || name.equalsIgnoreCase(JarFile.MANIFEST_NAME)) {
                    continue;
                }
                try (InputStream in = file.getInputStream(entry)) {
                    in.transferTo(java.io.OutputStream.nullOutputStream());   // the digest is checked while reading
                } catch (SecurityException e) {
                    throw new Refused("entry " + name + " does not match its signature (" + e.getMessage() + ")");
                }
                Set<String> trustedSigners = trustedSigners(entry.getCodeSigners(), keys);
                if (trustedSigners.isEmpty()) {
                    throw new Refused(entry.getCodeSigners() == null ? "entry " + name + " is not signed"
                            : "entry " + name + " is not signed by a trusted key");
                }
                if (signedBy == null) {
                    signedBy = trustedSigners;
                } else {
                    signedBy.retainAll(trustedSigners);
                    if (signedBy.isEmpty()) {
                        throw new Refused("its entries are not all signed by one same trusted key");
                    }
                }
            }
            if (signedBy == null) {
                throw new Refused("it has no signed entry");
            }
            manifestCoveredByEverySignature(file);
            return signedBy.stream().sorted().findFirst().orElseThrow();
        } catch (SecurityException e) {
            throw new Refused("its signature is invalid (" + e.getMessage() + ")");
        } catch (java.util.zip.ZipException e) {
            throw new Refused("it is not a well-formed jar (" + e.getMessage() + ")");
        }
    }

    private static Set<String> trustedSigners(CodeSigner[] signers, Map<String, PublicKey> keys) {
        Set<String> trusted = new HashSet<>();
        if (signers == null) {
            return trusted;
        }
        for (CodeSigner signer : signers) {
            List<? extends Certificate> path = signer.getSignerCertPath().getCertificates();
            if (path.isEmpty()) {
                continue;
            }
            byte[] key = path.get(0).getPublicKey().getEncoded();
            keys.forEach((file, k) -> {
                if (Arrays.equals(k.getEncoded(), key)) {
                    trusted.add(file);
                }
            });
        }
        return trusted;
    }

    /**
     * The JDK accepts a changed manifest as long as each entry's section still matches; here every {@code .SF}
     * must carry the digest of the whole manifest as it is, so no header (Bundle-Activator, Import-Package…) was
     * added or changed after signing.
     */
    private static void manifestCoveredByEverySignature(JarFile file) throws Refused, IOException {
        byte[] manifest;
        try (InputStream in = file.getInputStream(file.getEntry(JarFile.MANIFEST_NAME))) {
            manifest = in.readAllBytes();
        }
        int signatures = 0;
        for (JarEntry e : Collections.list(file.entries())) {
            String name = e.getName().toUpperCase(Locale.ROOT);
            if (!(name.startsWith("META-INF/") && name.endsWith(".SF") && name.indexOf('/', 9) < 0)) {
                continue;
            }
            signatures++;
            Manifest sf;
            try (InputStream in = file.getInputStream(e)) {
                sf = new Manifest(in);
            }
            if (!coversManifest(sf.getMainAttributes(), manifest)) {
                throw new Refused("its manifest was changed after " + e.getName() + " signed it");
            }
        }
        if (signatures == 0) {
            throw new Refused("it has no signature file");
        }
    }

    private static boolean coversManifest(Attributes sf, byte[] manifest) {
        for (String algorithm : List.of("SHA-256", "SHA-384", "SHA-512")) {
            String expected = sf.getValue(algorithm + "-Digest-Manifest");
            if (expected != null) {
                try {
                    byte[] digest = MessageDigest.getInstance(algorithm).digest(manifest);
                    return MessageDigest.isEqual(digest, Base64.getDecoder().decode(expected.strip()));
                } catch (NoSuchAlgorithmException | IllegalArgumentException e) {
                    return false;
                }
            }
        }
        return false;
    }

    /** Names as a stream reader sees them (local headers), in order. */
    private static List<String> localEntries(Path jar) throws Refused, IOException {
        List<String> names = new ArrayList<>();
        try (ZipInputStream in = new ZipInputStream(Files.newInputStream(jar), StandardCharsets.UTF_8)) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                names.add(e.getName());
            }
        } catch (IllegalArgumentException | java.util.zip.ZipException e) {
            throw new Refused("it is not a well-formed jar (" + e.getMessage() + ")");
        }
        if (new HashSet<>(names).size() != names.size()) {
            throw new Refused("it holds an entry twice");
        }
        return names;
    }

    private static void safeName(String name) throws Refused {
        if (name.isEmpty() || name.startsWith("/") || name.contains("\\") || name.contains("\0")
                || Arrays.asList(name.split("/")).contains("..")) {
            throw new Refused("entry \"" + name.replaceAll("\\p{Cntrl}", "?") + "\" has an unsafe name");
        }
    }
}
