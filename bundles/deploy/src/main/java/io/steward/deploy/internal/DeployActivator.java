package io.steward.deploy.internal;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.deploy.DeployFolder;
import io.steward.supervision.HostLayout;
import io.steward.deploy.QuarantinedJar;
import io.steward.audit.AuditSink;
import io.steward.files.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.function.Function;
import org.apache.felix.fileinstall.ArtifactInstaller;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.util.tracker.ServiceTracker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A plain activator, not a DS component: the installer must be registered before FileInstall's first scan, and
 * the launcher starts this bundle (synchronously) before FileInstall. It guards the folder named by the framework
 * property {@value #DIR_PROPERTY} (the launcher sets it to {@code <home>/deploy}) and does nothing without it. The
 * trusted keys are in the directories of {@value #TRUST_PROPERTY} (separated by {@code :}; the launcher sets
 * {@code <home>/etc/deploy-trust:<etc>/deploy-trust}), by default {@code <etc>/deploy-trust}. In {@code run} it registers the
 * {@link DeployInstaller}; in every mode a {@link DeployFolder} and, for the launcher's one-shot commands (which
 * install {@code deploy/} themselves), a JDK-typed check {@code Function<Path, Path>} (service property
 * {@value #CHECK_PROPERTY}) answering a verified private copy or throwing with the reason.
 */
public final class DeployActivator implements BundleActivator {
    static final String VERIFY_PROPERTY = "steward.deploy.verify";
    static final String TRUST_PROPERTY = "steward.deploy.trust";
    static final String CHECK_PROPERTY = "steward.deploy.check";
    static final String DIR_PROPERTY = "steward.deploy.dir";
    private static final Logger LOG = LoggerFactory.getLogger(DeployActivator.class);

    private ServiceTracker<AuditSink, AuditSink> audits;
    private final List<QuarantinedJar> unaudited = new ArrayList<>();
    private Path copies;
    private boolean oneShotCopies;

    @Override
    public void start(BundleContext context) throws Exception {
        HostLayout layout = HostLayout.from(context::getProperty);
        String command = context.getProperty("steward.command");
        boolean agent = command == null || command.isBlank() || command.equals("run");
        boolean verify = !"false".equalsIgnoreCase(String.valueOf(context.getProperty(VERIFY_PROPERTY)).trim());
        String trustProperty = context.getProperty(TRUST_PROPERTY);
        DeployTrust trust = new DeployTrust(trustProperty == null || trustProperty.isBlank()
                ? List.of(layout.etc().resolve("deploy-trust"))
                : java.util.Arrays.stream(trustProperty.split(java.io.File.pathSeparator)).filter(d -> !d.isBlank())
                        .map(d -> Path.of(d.trim()).toAbsolutePath().normalize()).distinct().toList());
        Path deploy = deployDir(context);
        if (deploy == null) {
            LOG.info("{} is not set: no folder to guard (Karaf and other embeddings deploy Steward's bundles "
                    + "their own way)", DIR_PROPERTY);
            return;
        }
        Path state = layout.state();
        // one-shot commands only read <data>: their copies go to a private temporary directory
        copies = agent ? layout.data().resolve("cache").resolve("deploy")
                : Files.createTempDirectory("steward-deploy-");
        oneShotCopies = !agent;
        Quarantine quarantine = new Quarantine(deploy, state, Clock.systemUTC());

        audits = new ServiceTracker<>(context, AuditSink.class, null) {
            @Override
            public AuditSink addingService(org.osgi.framework.ServiceReference<AuditSink> ref) {
                AuditSink s = super.addingService(ref);
                flush(s);
                return s;
            }
        };
        audits.open();

        if (agent) {
            writeMode(state, verify, trust.describe());
            if (!verify) {
                LOG.warn("deploy/ verification is OFF (--unsigned-kinds): any jar dropped into {} runs inside the agent",
                        deploy);
            }
            DeployInstaller installer = new DeployInstaller(context, deploy, layout.etc(), copies, trust, verify,
                    quarantine, this::audit);
            Hashtable<String, Object> p = new Hashtable<>();
            p.put(Constants.SERVICE_RANKING, Integer.MAX_VALUE);
            context.registerService(ArtifactInstaller.class, installer, p);
        }
        Hashtable<String, Object> check = new Hashtable<>();
        check.put(CHECK_PROPERTY, Boolean.TRUE);
        DeployInstaller checker = new DeployInstaller(context, deploy, layout.etc(), copies, trust, verify, quarantine,
                q -> { });
        context.registerService(Function.class, (Function<Path, Path>) jar -> {
            try {
                return checker.verifiedCopy(jar);
            } catch (SignedJar.Refused e) {
                throw new IllegalArgumentException(e.getMessage() + " (deploy trust: " + trust.describe() + ")");
            } catch (IOException e) {
                throw new IllegalArgumentException("it cannot be read (" + e.getMessage() + ")");
            }
        }, check);
        boolean ownMode = verify;
        context.registerService(DeployFolder.class, new DeployFolder() {
            @Override
            public boolean verifies() {
                return agent ? ownMode : recordedMode(state).orElse(ownMode);
            }

            @Override
            public List<Path> trust() {
                return trust.dirs();
            }

            @Override
            public List<QuarantinedJar> quarantined() {
                return Quarantine.read(state);
            }
        }, null);
    }

    @Override
    public void stop(BundleContext context) throws IOException {
        if (audits == null) {
            return;
        }
        audits.close();
        if (oneShotCopies) {
            try (var left = Files.list(copies)) {
                for (Path p : left.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(copies);
        }
    }

    private void audit(QuarantinedJar q) {
        AuditSink s = audits.getService();
        synchronized (unaudited) {
            unaudited.add(q);
        }
        if (s != null) {
            flush(s);
        }
    }

    private void flush(AuditSink s) {
        List<QuarantinedJar> todo;
        synchronized (unaudited) {
            todo = List.copyOf(unaudited);
            unaudited.clear();
        }
        todo.forEach(q -> s.record("deploy/" + q.jar(), "quarantine",
                "deploy/" + q.jar() + " moved to " + q.movedTo() + ": " + q.reason()));
    }

    /** The folder to guard: {@value #DIR_PROPERTY} (the launcher sets it), else none (an embedding's own). */
    private static Path deployDir(BundleContext context) {
        String dir = context.getProperty(DIR_PROPERTY);
        return dir == null || dir.isBlank() ? null : Path.of(dir.trim()).toAbsolutePath().normalize();
    }

    /** What the agent runs with, for one-shot commands ({@code status}) to show. */
    private static void writeMode(Path state, boolean verify, String trust) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("verify", verify);
        o.addProperty("trust", trust);
        Files.createDirectories(state);
        AtomicFiles.replace(state.resolve("deploy.json"), "deploy.json.tmp")
                .write((o + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static java.util.Optional<Boolean> recordedMode(Path state) {
        try {
            JsonObject o = JsonParser.parseString(Files.readString(state.resolve("deploy.json"))).getAsJsonObject();
            return java.util.Optional.of(o.get("verify").getAsBoolean());
        } catch (IOException | RuntimeException e) {
            return java.util.Optional.empty();
        }
    }
}
