package io.steward.delivery.internal;

import io.steward.delivery.trust.Ed25519;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.AddonRecord;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.osgi.framework.BundleContext;

/** Shared helpers: real files, real openssl, hostile tars built with commons-compress or raw bytes. */
final class Fixtures {
    private Fixtures() {
    }

    // ---------------------------------------------------------------- processes

    static String run(Path dir, String... command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + List.of(command));
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(List.of(command) + " exited " + p.exitValue() + ": " + text);
        }
        return text;
    }

    static String sh(Path dir, String script) throws IOException, InterruptedException {
        return run(dir, "/bin/sh", "-c", script);
    }

    // ---------------------------------------------------------------- keys

    /** An openssl-made Ed25519 key: private PKCS#8 PEM, public SPKI PEM. */
    record Key(String id, Path privatePem, Path publicPem) {
        PrivateKey privateKey() throws Exception {
            return Ed25519.readPrivate(Files.readString(privatePem));
        }

        String sign(String addon, String version, String sha) throws Exception {
            return Base64.getEncoder().encodeToString(Ed25519.sign(privateKey(), Ed25519.statement(addon, version, sha)));
        }
    }

    static Key opensslKey(Path dir, String id) throws Exception {
        Files.createDirectories(dir);
        Path priv = dir.resolve(id + ".key.pem");
        Path pub = dir.resolve(id + ".pub.pem");
        run(dir, "openssl", "genpkey", "-algorithm", "ed25519", "-out", priv.toString());
        run(dir, "openssl", "pkey", "-in", priv.toString(), "-pubout", "-out", pub.toString());
        return new Key(id, priv, pub);
    }

    static void trust(Path trustDir, Key key) throws IOException {
        Files.createDirectories(trustDir);
        Files.copy(key.publicPem(), trustDir.resolve(key.id() + ".pem"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    // ---------------------------------------------------------------- artifacts

    static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    static byte[] gzip(byte[] tar) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(tar);
        }
        return bytes.toByteArray();
    }

    static String manifest(String id, String version, String kind, String binary) {
        return "{\"id\":\"" + id + "\",\"version\":\"" + version + "\",\"supervision\":\"" + kind
                + "\",\"binary\":\"" + binary + "\"}";
    }

    /** A tar under construction; entries go in in the order they are added. */
    static final class Tar {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final TarArchiveOutputStream out;

        Tar() {
            out = new TarArchiveOutputStream(bytes, "UTF-8");
            out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            out.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        }

        /** The standard content of a well-formed add-on. */
        static Tar addon(String id, String version) throws IOException {
            return new Tar().file("addon.json", manifest(id, version, "sidecar", id))
                    .file(id, "#!/bin/sh\necho " + id + " " + version + "\n", 0755)
                    .dir("share/")
                    .file("share/data/defaults.json", "{\"interval\":30}");
        }

        Tar file(String name, String content) throws IOException {
            return file(name, content.getBytes(StandardCharsets.UTF_8), 0644);
        }

        Tar file(String name, String content, int mode) throws IOException {
            return file(name, content.getBytes(StandardCharsets.UTF_8), mode);
        }

        Tar file(String name, byte[] content, int mode) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name, true);
            e.setSize(content.length);
            e.setMode(mode);
            out.putArchiveEntry(e);
            out.write(content);
            out.closeArchiveEntry();
            return this;
        }

        Tar dir(String name) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name, true);
            out.putArchiveEntry(e);
            out.closeArchiveEntry();
            return this;
        }

        Tar special(String name, byte flag, String linkName) throws IOException {
            TarArchiveEntry e = new TarArchiveEntry(name, flag, true);
            if (linkName != null) {
                e.setLinkName(linkName);
            }
            out.putArchiveEntry(e);
            out.closeArchiveEntry();
            return this;
        }

        Tar symlink(String name, String target) throws IOException {
            return special(name, TarConstants.LF_SYMLINK, target);
        }

        Tar hardlink(String name, String target) throws IOException {
            return special(name, TarConstants.LF_LINK, target);
        }

        /** Appends raw tar bytes (already block-aligned), e.g. a hand-made header the library would refuse to write. */
        Tar raw(byte[] blocks) throws IOException {
            out.flush();
            bytes.write(blocks);
            return this;
        }

        byte[] tar() throws IOException {
            out.finish();
            return bytes.toByteArray();
        }

        byte[] tgz() throws IOException {
            return gzip(tar());
        }
    }

    /** One ustar header block, checksum included. */
    static byte[] header(String name, byte type, long size) {
        byte[] h = new byte[512];
        put(h, 0, name.getBytes(StandardCharsets.UTF_8), 100);
        put(h, 100, "0000644\0".getBytes(StandardCharsets.US_ASCII), 8);
        put(h, 108, "0000000\0".getBytes(StandardCharsets.US_ASCII), 8);
        put(h, 116, "0000000\0".getBytes(StandardCharsets.US_ASCII), 8);
        put(h, 124, String.format("%011o\0", size).getBytes(StandardCharsets.US_ASCII), 12);
        put(h, 136, "00000000000\0".getBytes(StandardCharsets.US_ASCII), 12);
        h[156] = type;
        put(h, 257, "ustar\0".getBytes(StandardCharsets.US_ASCII), 6);
        put(h, 263, "00".getBytes(StandardCharsets.US_ASCII), 2);
        java.util.Arrays.fill(h, 148, 156, (byte) ' ');
        long sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        put(h, 148, String.format("%06o\0 ", sum).getBytes(StandardCharsets.US_ASCII), 8);
        return h;
    }

    /** A header followed by its data, padded to whole blocks. */
    static byte[] entry(String name, byte type, byte[] data) {
        int padded = (data.length + 511) / 512 * 512;
        byte[] out = new byte[512 + padded];
        System.arraycopy(header(name, type, data.length), 0, out, 0, 512);
        System.arraycopy(data, 0, out, 512, data.length);
        return out;
    }

    /** A PAX extended header record set: {@code "<len> key=value\n"}. */
    static byte[] paxRecord(String key, String value) {
        String body = " " + key + "=" + value + "\n";
        int len = body.length();
        int total = len + String.valueOf(len).length();
        if (String.valueOf(total).length() != String.valueOf(len).length()) {
            total++;
        }
        return (total + body).getBytes(StandardCharsets.UTF_8);
    }

    private static void put(byte[] h, int off, byte[] v, int max) {
        System.arraycopy(v, 0, h, off, Math.min(v.length, max));
    }

    // ---------------------------------------------------------------- host

    /** A private host: data, trust, and a stager over them. */
    static final class Host {
        final Path root;
        final Path data;
        final Path trust;
        final Path artifacts;

        Host(Path root) throws IOException {
            this.root = root;
            this.data = Files.createDirectories(root.resolve("data"));
            this.trust = Files.createDirectories(root.resolve("trust"));
            this.artifacts = Files.createDirectories(root.resolve("artifacts"));
        }

        HostLayout layout() {
            return HostLayout.from(Map.of(HostLayout.DATA, data.toString(), HostLayout.TRUST, trust.toString(),
                    HostLayout.ETC, root.resolve("etc").toString())::get);
        }

        DeliveryStager stager(Map<String, Object> config) {
            return new DeliveryStager(layout(), config(config), false);
        }

        Path home(String id) {
            return layout().addonHome(new AddonId(id));
        }

        /** Writes an artifact file and returns its file: URL. */
        String publish(String name, byte[] bytes) throws IOException {
            Path file = artifacts.resolve(name);
            Files.write(file, bytes);
            return file.toUri().toString();
        }

        AddonRecord record(String id, String version, String kind, String url, String sha, String signature,
                           Optional<String> key, Optional<String> binary) {
            Assignment a = new Assignment(new AddonId(id), version, true, kind, "pushed_artifact",
                    Optional.of(new ArtifactRef(url, sha, signature, key)), binary, List.of(), Map.of(), "{}",
                    List.of(), Resources.NONE);
            return new AddonRecord(a, home(id), 1);
        }

        /** Publishes {@code tgz} and returns a record signed by {@code key} with the right digest. */
        AddonRecord signed(String id, String version, byte[] tgz, Key key) throws Exception {
            String sha = sha256(tgz);
            String url = publish(id + "-" + version + "-" + sha.substring(0, 8) + ".tar.gz", tgz);
            return record(id, version, "sidecar", url, sha, key.sign(id, version, sha), Optional.empty(), Optional.of(id));
        }

        /**
         * Everything under data: path → "dir", "link:<target>", or "file:<mode>:<sha256>". Used to show that
         * a refused artifact changed nothing.
         */
        Map<String, String> snapshot() throws Exception {
            Map<String, String> out = new TreeMap<>();
            List<Path> all = new ArrayList<>();
            try (Stream<Path> s = Files.walk(data)) {
                s.forEach(all::add);
            }
            for (Path p : all) {
                String rel = data.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    out.put(rel, "link:" + Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.put(rel, "dir");
                } else {
                    out.put(rel, "file:" + PosixFilePermissions.toString(Files.getPosixFilePermissions(p)) + ":"
                            + sha256(Files.readAllBytes(p)));
                }
            }
            return out;
        }

        Optional<String> current(String id) throws IOException {
            Path link = home(id).resolve("current");
            return Files.isSymbolicLink(link) ? Optional.of(Files.readSymbolicLink(link).toString()) : Optional.empty();
        }
    }

    static void assertNoLeftovers(Host host) throws IOException {
        Path tmp = host.data.resolve("tmp");
        if (Files.isDirectory(tmp)) {
            try (Stream<Path> s = Files.list(tmp)) {
                assertEquals(List.of(), s.map(p -> p.getFileName().toString()).toList(), "leftovers in data/tmp");
            }
        }
    }

    // ---------------------------------------------------------------- OSGi stand-ins

    @SuppressWarnings("unchecked")
    static <T> T proxy(Class<T> type, java.util.function.BiFunction<java.lang.reflect.Method, Object[], Object> h) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, a) -> {
            if (m.getName().equals("hashCode")) {
                return System.identityHashCode(p);
            }
            if (m.getName().equals("equals")) {
                return p == a[0];
            }
            if (m.getName().equals("toString")) {
                return type.getSimpleName();
            }
            return h.apply(m, a);
        });
    }

    /** The component configuration: defaults, with {@code overrides} by attribute method name. */
    static DeliveryStager.Config config(Map<String, Object> overrides) {
        return proxy(DeliveryStager.Config.class, (m, a) -> overrides.getOrDefault(m.getName(), m.getDefaultValue()));
    }

    /** A bundle context that answers framework properties and records the one service registered. */
    static final class Context {
        final Map<String, String> properties;
        final java.util.concurrent.CompletableFuture<java.util.Dictionary<String, ?>> registered =
                new java.util.concurrent.CompletableFuture<>();
        final BundleContext context;

        Context(Map<String, String> properties) {
            this.properties = properties;
            this.context = proxy(BundleContext.class, (m, a) -> switch (m.getName()) {
                case "getProperty" -> properties.get((String) a[0]);
                case "registerService" -> {
                    registered.complete((java.util.Dictionary<String, ?>) a[2]);
                    yield null;
                }
                default -> throw new UnsupportedOperationException(m.getName());
            });
        }
    }
}
