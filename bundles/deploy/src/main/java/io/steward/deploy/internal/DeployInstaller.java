package io.steward.deploy.internal;

import io.steward.deploy.QuarantinedJar;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.apache.felix.fileinstall.ArtifactInstaller;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.wiring.FrameworkWiring;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What FileInstall may take from where: the launcher has it watch {@code deploy/} and {@code etc/}, and this
 * installer, registered with the highest ranking, claims every file of both but the configuration files
 * ({@code .cfg}, {@code .config}) of {@code etc/}, which FileInstall's own configuration installer then hands to
 * ConfigAdmin. So {@code etc/} (the operator's, root-owned in the package) gives configuration only, and nothing
 * of it is installed; {@code deploy/} gives signed kinds only: configuration there is quarantined while kinds
 * must be signed, as whoever can write {@code deploy/} could otherwise reconfigure the agent (its trust, its
 * limits, its sources) without signing anything. A file that is not
 * a bundle and not named {@code *.jar} (the README) and a hidden file (a copy in progress) are left alone. Each jar is copied
 * into a private directory, the copy is checked ({@link SignedJar}) and the bundle installed or updated from that
 * copy, so a jar replaced after the check is never what runs. A refused jar is quarantined with one sentence in
 * the log and the audit log, and changes nothing: a running kind of the same file keeps running as it was.
 */
final class DeployInstaller implements ArtifactInstaller {
    private static final Logger LOG = LoggerFactory.getLogger(DeployInstaller.class);

    private final BundleContext context;
    private final Path deploy;
    private final Path etc;
    private final Path copies;
    private final DeployTrust trust;
    private final boolean verify;
    private final Quarantine quarantine;
    private final Consumer<QuarantinedJar> audit;

    DeployInstaller(BundleContext context, Path deploy, Path etc, Path copies, DeployTrust trust, boolean verify,
                    Quarantine quarantine, Consumer<QuarantinedJar> audit) {
        this.context = context;
        this.deploy = canonical(deploy);
        this.etc = canonical(etc);
        this.copies = copies;
        this.trust = trust;
        this.verify = verify;
        this.quarantine = quarantine;
        this.audit = audit;
    }

    @Override
    public boolean canHandle(File artifact) {
        // hidden files too: claimed (and then ignored) so that FileInstall's own installers never take them
        Path dir = folder(artifact);
        return dir == deploy ? !configuration(artifact) || verify : dir == etc && !configuration(artifact);
    }

    @Override
    public void install(File artifact) throws Exception {
        update(artifact);
    }

    @Override
    public void update(File artifact) throws Exception {
        if (folder(artifact) != deploy) {
            LOG.debug("etc/{} is not configuration: never installed", artifact.getName());
        } else if (configuration(artifact)) {
            refuseConfiguration(artifact.toPath());
        } else {
            installOrUpdate(artifact.toPath());
        }
    }

    @Override
    public void uninstall(File artifact) throws Exception {
        if (folder(artifact) != deploy || configuration(artifact)) {
            quarantine.consumeMoved(artifact.toPath());
            return;     // nothing was installed from it
        }
        Path jar = artifact.toPath();
        if (quarantine.consumeMoved(jar)) {
            return;     // moved away by us: whatever ran from this file keeps running
        }
        Bundle b = context.getBundle(location(jar));
        if (b != null) {
            LOG.info("deploy/{} was deleted: uninstalling {} {}", jar.getFileName(), b.getSymbolicName(), b.getVersion());
            b.uninstall();
            refreshIfPending(b);
        }
    }

    private void installOrUpdate(Path jar) throws IOException {
        if (jar.getFileName().toString().startsWith(".")) {
            LOG.debug("deploy/{} is hidden: never installed (a file being copied in, say)", jar.getFileName());
            return;
        }
        if (!jar.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".jar") && !isBundle(jar)) {
            LOG.debug("deploy/{} is not a bundle: left alone", jar.getFileName());   // a README, a note
            return;
        }
        Path copy;
        try {
            copy = verifiedCopy(jar);
        } catch (SignedJar.Refused e) {
            refuse(jar, e.getMessage());
            return;
        }
        try (InputStream in = Files.newInputStream(copy)) {
            Bundle existing = context.getBundle(location(jar));
            if (existing == null) {
                Bundle b = context.installBundle(location(jar), in);
                LOG.info("deploy/{}: installed {} {}{}", jar.getFileName(), b.getSymbolicName(), b.getVersion(),
                        verify ? "" : " (not verified: unsigned kinds are allowed)");
                start(jar, b);
            } else {
                existing.update(in);    // stops, updates and starts it again if it was active
                LOG.info("deploy/{}: updated {} to {}", jar.getFileName(), existing.getSymbolicName(), existing.getVersion());
                refreshIfPending(existing);
            }
        } catch (BundleException | IllegalStateException e) {
            LOG.warn("deploy/{} was not installed: {}", jar.getFileName(), e.getMessage());
        } finally {
            Files.deleteIfExists(copy);
        }
    }

    /** A private copy of {@code jar}, checked when verification is on. */
    Path verifiedCopy(Path jar) throws IOException, SignedJar.Refused {
        BasicFileAttributes attrs = Files.readAttributes(jar, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isRegularFile()) {
            throw new SignedJar.Refused("it is not a regular file");
        }
        Files.createDirectories(copies, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        privateDirectory(copies);
        Path copy = Files.createTempFile(copies, "kind-", ".jar");
        try (InputStream in = Files.newInputStream(jar, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
             OutputStream out = Files.newOutputStream(copy)) {
            byte[] buffer = new byte[64 * 1024];
            long total = 0;
            for (int n; (n = in.read(buffer)) >= 0; ) {
                total += n;
                if (total > SignedJar.MAX_BYTES) {
                    throw new SignedJar.Refused("it is larger than " + (SignedJar.MAX_BYTES >> 20) + " MiB");
                }
                out.write(buffer, 0, n);
            }
        } catch (IOException | SignedJar.Refused e) {
            Files.deleteIfExists(copy);
            throw e;
        }
        if (verify) {
            try {
                String key = SignedJar.check(copy, trust);
                LOG.debug("deploy/{} is signed by {}", jar.getFileName(), key);
            } catch (SignedJar.Refused | IOException | RuntimeException e) {
                Files.deleteIfExists(copy);
                throw e instanceof SignedJar.Refused r ? r : new SignedJar.Refused("it cannot be read as a jar ("
                        + e.getMessage() + ")");
            }
        }
        return copy;
    }

    /** The copies' directory must be ours and closed to others, or a copy could be swapped after the check. */
    private static void privateDirectory(Path dir) throws IOException {
        java.nio.file.attribute.PosixFileAttributes a = Files.readAttributes(dir,
                java.nio.file.attribute.PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        String me = System.getProperty("user.name");
        if (!a.isDirectory() || !a.owner().getName().equals(me)
                || a.permissions().stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"))) {
            // not the jar's fault: nothing is installed or moved, FileInstall tries again when the jar changes
            throw new IOException("deploy/: the directory of verified copies " + dir + " is not a directory of "
                    + me + " closed to group and others (chmod 700 it); nothing was installed");
        }
    }

    /** {@link #deploy} or {@link #etc} (the same instances, so {@code ==} compares), the folder of {@code file}. */
    private Path folder(File file) {
        Path parent = file.toPath().toAbsolutePath().getParent();
        Path dir = parent == null ? null : canonical(parent);
        return deploy.equals(dir) ? deploy : etc.equals(dir) ? etc : null;
    }

    private static boolean configuration(File file) {
        String name = file.getName().toLowerCase(Locale.ROOT);
        return name.endsWith(".cfg") || name.endsWith(".config");
    }

    private void refuseConfiguration(Path file) {
        if (file.getFileName().toString().startsWith(".")) {
            return;     // a copy in progress: refused once it has its name
        }
        move(file, "it is configuration, which deploy/ does not take while it takes only signed kinds (whoever can "
                + "write deploy/ would reconfigure the agent); put it in " + etc.resolve(file.getFileName()));
    }

    private void refuse(Path jar, String why) {
        move(jar, why + " (deploy trust: " + trust.describe() + ")");
    }

    private void move(Path jar, String reason) {
        try {
            QuarantinedJar q = quarantine.move(jar, reason);
            LOG.error("deploy/{} was not installed and is now deploy/{}: {}; nothing that runs changed", jar.getFileName(),
                    q.movedTo(), reason);
            audit.accept(q);
        } catch (IOException e) {
            LOG.error("deploy/{} was not installed: {}; it could not be moved to {}/ ({}), so it stays where it is",
                    jar.getFileName(), reason, Quarantine.DIR, e.getMessage());
        }
    }

    private void start(Path jar, Bundle b) {
        if (b.getHeaders().get(org.osgi.framework.Constants.FRAGMENT_HOST) != null) {
            return;
        }
        try {
            b.start();
        } catch (BundleException e) {
            LOG.warn("deploy/{}: {} {} did not start: {}", jar.getFileName(), b.getSymbolicName(), b.getVersion(),
                    e.getMessage());
        }
    }

    private void refreshIfPending(Bundle b) {
        FrameworkWiring wiring = context.getBundle(0).adapt(FrameworkWiring.class);
        if (wiring.getRemovalPendingBundles().contains(b)) {
            wiring.refreshBundles(List.of(b));
        }
    }

    /**
     * Whether FileInstall's own installer would take the file for a bundle (a zip with a Bundle-SymbolicName),
     * whatever its name: such a file is checked like a jar, never left to that installer.
     */
    static boolean isBundle(Path file) {
        try (java.util.jar.JarFile j = new java.util.jar.JarFile(file.toFile(), false)) {
            java.util.jar.Manifest m = j.getManifest();
            return m != null && m.getMainAttributes().getValue("Bundle-SymbolicName") != null;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The location FileInstall itself would give the jar: its normalised {@code file:} URI. */
    static String location(Path jar) {
        return jar.toFile().toURI().normalize().toString();
    }

    private static Path canonical(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }
}
