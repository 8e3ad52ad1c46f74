package io.steward.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;

import io.steward.deploy.DeployFolder;
import io.steward.deploy.QuarantinedJar;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;

/**
 * io.steward.deploy in a real Felix with the real FileInstall watching a folder: jars signed by the real jarsigner
 * with a trusted key are installed and updated; an unsigned jar, a jar signed by another key and a signed jar
 * tampered with after signing are moved to .quarantine/, recorded (DeployFolder, audit log), and change nothing
 * that runs: the installed bundle keeps its id, version and state. The jars are made in the driver before boot.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class DeployIT extends PlatformTestSupport {
    private static final String KIND = "io.example.deploy.kind";
    private static final String PASS = "it-pass";

    @Configuration
    @Override
    public Option[] config() throws IOException {
        List<Option> options = new ArrayList<>(List.of(super.config()));
        Path root = Files.createTempDirectory(Path.of(System.getProperty("itest.work", "target/itest-work"))
                .toAbsolutePath(), "deploy-");
        Path deploy = Files.createDirectories(root.resolve("deploy"));
        Path trust = Files.createDirectories(root.resolve("deploy-trust"));
        Path stock = Files.createDirectories(root.resolve("stock"));
        try {
            makeJars(stock, trust);
        } catch (InterruptedException e) {
            throw new IOException(e);
        }
        options.add(frameworkProperty("felix.fileinstall.dir").value(deploy.toString()));
        options.add(frameworkProperty("felix.fileinstall.poll").value("100"));
        options.add(frameworkProperty("felix.fileinstall.noInitialDelay").value("true"));
        options.add(frameworkProperty("felix.fileinstall.subdir.mode").value("skip"));
        options.add(frameworkProperty("steward.deploy.dir").value(deploy.toString()));
        options.add(frameworkProperty("steward.deploy.trust").value(trust.toString()));
        options.add(frameworkProperty("itest.stock").value(stock.toString()));
        // before FileInstall, as the launcher starts it: nothing of deploy/ is ever installed unchecked
        options.add(bundle(reactorBundle("bundle.deploy", "deploy", "io.steward.deploy").toURI().toString())
                .startLevel(1));
        return options.toArray(new Option[0]);
    }

    @Test
    public void onlyJarsATrustedKeySignedAreInstalledAndARefusedOneChangesNothing() throws Exception {
        Path stock = Path.of(context.getProperty("itest.stock"));
        Path deploy = Path.of(context.getProperty("steward.deploy.dir"));
        DeployFolder folder = service(DeployFolder.class);
        assertTrue(folder.verifies());

        drop(stock.resolve("valid-1.0.0.jar"), deploy.resolve("kind.jar"));
        await("the signed kind is installed and active", () -> kind().map(b -> b.getState() == Bundle.ACTIVE).orElse(false));
        Bundle installed = kind().orElseThrow();
        assertEquals("1.0.0", installed.getVersion().toString());

        drop(stock.resolve("unsigned.jar"), deploy.resolve("unsigned.jar"));
        // a hidden file is never installed, and never left to FileInstall's own installer either
        drop(stock.resolve("sneaky.jar"), deploy.resolve(".sneaky.jar"));
        drop(stock.resolve("stranger.jar"), deploy.resolve("stranger.jar"));
        awaitQuarantined(folder, "unsigned.jar", "is not signed");
        awaitQuarantined(folder, "stranger.jar", "not signed by a trusted key");

        // a signed kind tampered with after signing, renamed over the running one
        drop(stock.resolve("tampered-1.0.1.jar"), deploy.resolve("kind.jar"));
        QuarantinedJar t = awaitQuarantined(folder, "kind.jar", "does not match its signature");
        assertTrue(Files.isRegularFile(deploy.resolve(t.movedTo())));
        Bundle still = kind().orElseThrow();
        assertEquals("the running kind is untouched", installed.getBundleId(), still.getBundleId());
        assertEquals("1.0.0", still.getVersion().toString());
        assertEquals(Bundle.ACTIVE, still.getState());
        for (String name : List.of("io.example.unsigned", "io.example.stranger", "io.example.sneaky")) {
            assertFalse(name + " was installed", java.util.Arrays.stream(context.getBundles())
                    .anyMatch(b -> name.equals(b.getSymbolicName())));
        }
        await("the audit log records the quarantine", () -> auditLines().stream().anyMatch(l ->
                "quarantine".equals(l.get("action").getAsString()) && l.get("addon").getAsString().equals("deploy/kind.jar")));

        // the operator's fix: a properly signed 1.0.1
        drop(stock.resolve("valid-1.0.1.jar"), deploy.resolve("kind.jar"));
        await("the kind is updated to 1.0.1", () -> kind().map(b -> b.getVersion().toString().equals("1.0.1")
                && b.getState() == Bundle.ACTIVE).orElse(false));
        assertEquals(installed.getBundleId(), kind().orElseThrow().getBundleId());
        assertTrue("the hidden jar is still there, not installed", Files.isRegularFile(deploy.resolve(".sneaky.jar")));
        assertFalse(java.util.Arrays.stream(context.getBundles()).anyMatch(b -> "io.example.sneaky".equals(b.getSymbolicName())));
    }

    // ---------------------------------------------------------------- in the framework

    private Optional<Bundle> kind() {
        return java.util.Arrays.stream(context.getBundles()).filter(b -> KIND.equals(b.getSymbolicName())).findFirst();
    }

    private <T> T service(Class<T> type) {
        var ref = context.getServiceReference(type);
        assertTrue(type + " is registered", ref != null);
        return context.getService(ref);
    }

    /** Renames a copy over {@code target}, as the README says to replace a jar. */
    private static void drop(Path jar, Path target) throws IOException {
        Path tmp = target.resolveSibling(".incoming-" + target.getFileName());
        Files.copy(jar, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static QuarantinedJar awaitQuarantined(DeployFolder folder, String jar, String reason) {
        QuarantinedJar[] found = new QuarantinedJar[1];
        await(jar + " is quarantined (" + reason + ")", () -> {
            for (QuarantinedJar q : folder.quarantined()) {
                if (q.jar().equals(jar) && q.reason().contains(reason)) {
                    found[0] = q;
                    return true;
                }
            }
            return false;
        });
        return found[0];
    }

    // ---------------------------------------------------------------- in the driver

    private static void makeJars(Path stock, Path trust) throws IOException, InterruptedException {
        Path keys = Files.createDirectories(stock.resolve("keys"));
        Path trusted = keyStore(keys, "kinds");
        Path other = keyStore(keys, "stranger");
        Files.writeString(trust.resolve("kinds.pem"), run("keytool", "-exportcert", "-rfc", "-alias", "kinds",
                "-storetype", "PKCS12", "-keystore", trusted.toString(), "-storepass", PASS));
        sign(jar(stock.resolve("valid-1.0.0.jar"), KIND, "1.0.0"), trusted, "kinds");
        sign(jar(stock.resolve("valid-1.0.1.jar"), KIND, "1.0.1"), trusted, "kinds");
        jar(stock.resolve("unsigned.jar"), "io.example.unsigned", "1.0.0");
        jar(stock.resolve("sneaky.jar"), "io.example.sneaky", "1.0.0");
        sign(jar(stock.resolve("stranger.jar"), "io.example.stranger", "1.0.0"), other, "stranger");
        Path signed = sign(jar(stock.resolve("to-tamper.jar"), KIND, "1.0.1"), trusted, "kinds");
        tamper(signed, stock.resolve("tampered-1.0.1.jar"));
    }

    private static Path jar(Path file, String symbolicName, String version) throws IOException {
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        m.getMainAttributes().putValue("Bundle-ManifestVersion", "2");
        m.getMainAttributes().putValue("Bundle-SymbolicName", symbolicName);
        m.getMainAttributes().putValue("Bundle-Version", version);
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(file), m)) {
            out.putNextEntry(new JarEntry("OSGI-INF/notes.txt"));
            out.write(("version " + version).getBytes(StandardCharsets.UTF_8));
            out.closeEntry();
        }
        return file;
    }

    /** The same entries, one of them with other bytes: its signature no longer matches. */
    private static void tamper(Path in, Path out) throws IOException {
        try (ZipFile zip = new ZipFile(in.toFile()); ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(out))) {
            for (Enumeration<? extends ZipEntry> e = zip.entries(); e.hasMoreElements(); ) {
                ZipEntry entry = e.nextElement();
                byte[] bytes;
                try (InputStream s = zip.getInputStream(entry)) {
                    bytes = s.readAllBytes();
                }
                z.putNextEntry(new ZipEntry(entry.getName()));
                z.write(entry.getName().equals("OSGI-INF/notes.txt") ? "evil".getBytes(StandardCharsets.UTF_8) : bytes);
                z.closeEntry();
            }
        }
    }

    private static Path keyStore(Path dir, String alias) throws IOException, InterruptedException {
        Path store = dir.resolve(alias + ".p12");
        run("keytool", "-genkeypair", "-alias", alias, "-keyalg", "Ed25519", "-dname", "CN=" + alias, "-validity",
                "3650", "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass", PASS);
        return store;
    }

    private static Path sign(Path jar, Path store, String alias) throws IOException, InterruptedException {
        run("jarsigner", "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass", PASS, jar.toString(), alias);
        return jar;
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
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
