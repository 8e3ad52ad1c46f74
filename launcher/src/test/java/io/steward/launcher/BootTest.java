package io.steward.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.zip.ZipException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleException;
import org.osgi.framework.startlevel.BundleStartLevel;

class BootTest {

    @Test
    void resolverMessageKeepsTheMissingRequirement() {
        BundleException e = new BundleException("Unable to resolve io.steward.core [2](R 2.0): missing requirement"
                + " [io.steward.core [2](R 2.0)] osgi.wiring.package; (&(osgi.wiring.package=com.google.gson)"
                + "(version>=2.15.0)(!(version>=3.0.0))) Unresolved requirements: [[io.steward.core [2](R 2.0)]"
                + " osgi.wiring.package; (&(osgi.wiring.package=com.google.gson)(version>=2.15.0)(!(version>=3.0.0)))]");
        assertEquals("missing requirement osgi.wiring.package; (&(osgi.wiring.package=com.google.gson)"
                + "(version>=2.15.0)(!(version>=3.0.0)))", Boot.reason(e));
    }

    @Test
    void activatorFailureNamesTheCause() {
        BundleException e = new BundleException("Activator start error in bundle x [3].",
                new IllegalStateException("no config"));
        assertEquals("its activator failed: no config", Boot.reason(e));
    }

    @Test
    void installFailureAddsTheRootCause() {
        BundleException e = new BundleException("Unable to cache bundle: reference:file:/b/x.jar",
                new IOException("wrapped", new ZipException("zip END header not found")));
        assertEquals("Unable to cache bundle: reference:file:/b/x.jar: zip END header not found", Boot.reason(e));
    }

    @Test
    void deployedJarsAreTheSortedJarsOfTheDirectoryAndNoneWithoutIt(@TempDir Path tmp) throws Exception {
        Path deploy = Files.createDirectories(tmp.resolve("deploy"));
        Files.writeString(deploy.resolve("b.jar"), "");
        Files.writeString(deploy.resolve("a.jar"), "");
        Files.writeString(deploy.resolve("README"), "");
        Files.writeString(deploy.resolve("kind.cfg"), "");
        assertEquals(List.of(deploy.resolve("a.jar"), deploy.resolve("b.jar")), Boot.deployedJars(deploy));
        assertEquals(List.of(), Boot.deployedJars(tmp.resolve("absent")));
    }

    /**
     * One-shot: the launcher installs deploy/ after bundle/, each jar from the copy the guard checked (a refused or
     * broken jar is skipped); run: FileInstall's job.
     */
    @Test
    void oneShotInstallsTheDeployedKindsAndRunLeavesThemToFileInstall(@TempDir Path tmp) throws Exception {
        Path home = tmp.resolve("home");
        bundle(Files.createDirectories(home.resolve("bundle")).resolve("shell.jar"), Boot.SHELL_BUNDLE);
        guard(home.resolve("bundle/deploy.jar"));
        Path deploy = Files.createDirectories(home.resolve("deploy"));
        bundle(deploy.resolve("kind.jar"), "test.kind");
        bundle(deploy.resolve("refused.jar"), "test.refused");
        Files.writeString(deploy.resolve("broken.jar"), "not a jar");

        Map<String, String> oneShot = boot(home, tmp.resolve("cache-status"), "status");
        assertEquals(Map.of(Boot.SHELL_BUNDLE, "ACTIVE reference:" + home.resolve("bundle/shell.jar").toUri(),
                Boot.DEPLOY_BUNDLE, "ACTIVE reference:" + home.resolve("bundle/deploy.jar").toUri(),
                "test.kind", "ACTIVE " + deploy.resolve("kind.jar").toFile().toURI().normalize()), oneShot);

        Map<String, String> agent = boot(home, tmp.resolve("cache-run"), "run");
        assertEquals(List.of(Boot.DEPLOY_BUNDLE, Boot.SHELL_BUNDLE), List.copyOf(agent.keySet()), agent::toString);
    }

    /** Without the guard of deploy/ nothing starts: no jar of deploy/ is ever installed unchecked. */
    @Test
    void withoutTheGuardOfDeployNothingStarts(@TempDir Path tmp) throws Exception {
        Path home = tmp.resolve("home");
        bundle(Files.createDirectories(home.resolve("bundle")).resolve("shell.jar"), Boot.SHELL_BUNDLE);
        for (String command : List.of("status", "run")) {
            Settings settings = Settings.resolve(Options.parse(List.of(command)), home, Map.of());
            Boot boot = Boot.init(settings, Files.createDirectories(tmp.resolve("cache-" + command)), true);
            try {
                LaunchException e = org.junit.jupiter.api.Assertions.assertThrows(LaunchException.class, boot::start);
                assertTrue(e.getMessage().contains("bundle io.steward.deploy is missing"), e.getMessage());
                for (Bundle b : boot.context().getBundles()) {
                    assertTrue(b.getBundleId() == 0 || b.getState() != Bundle.ACTIVE, b + " was started");
                }
            } finally {
                boot.stop(Duration.ofSeconds(10));
            }
        }
    }

    /**
     * One-shot: bundles are started transiently (a kept cache never starts them on its own), and
     * the bundles only the agent uses stay resolved; run starts them, persistently.
     */
    @Test
    void oneShotStartsTransientlyAndLeavesTheAgentOnlyBundlesStopped(@TempDir Path tmp) throws Exception {
        Path home = tmp.resolve("home");
        Path bundles = Files.createDirectories(home.resolve("bundle"));
        bundle(bundles.resolve("shell.jar"), Boot.SHELL_BUNDLE);
        bundle(bundles.resolve("metatype.jar"), "org.apache.felix.metatype");
        guard(bundles.resolve("deploy.jar"));
        for (String command : List.of("status", "run")) {
            Settings settings = Settings.resolve(Options.parse(List.of(command)), home, Map.of());
            Boot boot = Boot.init(settings, Files.createDirectories(tmp.resolve("cache-" + command)), true);
            try {
                boot.start();
                Map<String, String> states = new TreeMap<>();
                for (Bundle b : boot.context().getBundles()) {
                    if (b.getBundleId() != 0) {
                        states.put(b.getSymbolicName(), (b.getState() == Bundle.ACTIVE ? "ACTIVE" : "RESOLVED")
                                + (b.adapt(BundleStartLevel.class).isPersistentlyStarted() ? " persistent" : ""));
                    }
                }
                assertEquals(command.equals("run")
                        ? Map.of(Boot.SHELL_BUNDLE, "ACTIVE persistent", "org.apache.felix.metatype", "ACTIVE persistent",
                                Boot.DEPLOY_BUNDLE, "ACTIVE persistent")
                        : Map.of(Boot.SHELL_BUNDLE, "ACTIVE", "org.apache.felix.metatype", "RESOLVED",
                                Boot.DEPLOY_BUNDLE, "ACTIVE"), states, command);
            } finally {
                boot.stop(Duration.ofSeconds(10));
            }
        }
    }

    /** Boots, starts and stops a framework for {@code command}; returns symbolic name → state and location. */
    private static Map<String, String> boot(Path home, Path cache, String command) throws Exception {
        Settings settings = Settings.resolve(Options.parse(List.of(command)), home, Map.of());
        Boot boot = Boot.init(settings, Files.createDirectories(cache));
        try {
            boot.start();
            Map<String, String> bundles = new TreeMap<>();
            for (Bundle b : boot.context().getBundles()) {
                if (b.getBundleId() != 0) {
                    assertTrue(b.getState() == Bundle.ACTIVE || b.getState() == Bundle.RESOLVED, b::toString);
                    bundles.put(b.getSymbolicName(), (b.getState() == Bundle.ACTIVE ? "ACTIVE " : "RESOLVED ")
                            + b.getLocation());
                }
            }
            return bundles;
        } finally {
            boot.stop(Duration.ofSeconds(10));
        }
    }

    /** The stand-in guard of deploy/ ({@code guard.AcceptingGuard}) as bundle {@value Boot#DEPLOY_BUNDLE}. */
    private static void guard(Path jar) throws IOException {
        Manifest m = new Manifest();
        Attributes a = m.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.putValue("Bundle-ManifestVersion", "2");
        a.putValue("Bundle-SymbolicName", Boot.DEPLOY_BUNDLE);
        a.putValue("Bundle-Version", "1.0.0");
        a.putValue("Bundle-Activator", "io.steward.launcher.guard.AcceptingGuard");
        a.putValue("Import-Package", "org.osgi.framework");
        String cls = "io/steward/launcher/guard/AcceptingGuard.class";
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out, m);
             java.io.InputStream in = BootTest.class.getClassLoader().getResourceAsStream(cls)) {
            j.putNextEntry(new java.util.jar.JarEntry(cls));
            in.transferTo(j);
            j.closeEntry();
        }
    }

    /** A bundle with nothing in it but a manifest. */
    private static void bundle(Path jar, String symbolicName) throws IOException {
        Manifest m = new Manifest();
        Attributes a = m.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.putValue("Bundle-ManifestVersion", "2");
        a.putValue("Bundle-SymbolicName", symbolicName);
        a.putValue("Bundle-Version", "1.0.0");
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out, m)) {
            j.flush();
        }
    }
}
