package io.steward.itests.karaf;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.maven;
import static org.ops4j.pax.exam.CoreOptions.options;
import static org.ops4j.pax.exam.CoreOptions.systemPackage;
import static org.ops4j.pax.exam.CoreOptions.systemTimeout;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.configureConsole;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.editConfigurationFilePut;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.features;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.karafDistributionConfiguration;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.replaceConfigurationFile;

import io.steward.supervision.AddonCapability;
import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AssignmentSource;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import javax.inject.Inject;
import org.apache.karaf.features.Feature;
import org.apache.karaf.features.FeaturesService;
import org.apache.karaf.features.Repository;
import org.apache.karaf.shell.api.console.Command;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.api.console.SessionFactory;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.options.MavenArtifactUrlReference;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.BundleListener;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

/**
 * Steward in a real Apache Karaf (the apache-karaf distribution from Maven Central, unpacked and
 * booted by Pax Exam; see {@link #BOOT_FEATURES} and src/test/resources/karaf for the two things the
 * test changes): the features repository of features/karaf is added, {@code steward} and
 * {@code steward-config-toggle} are installed at boot, a {@code config_toggle} add-on from the
 * assignment file becomes {@code ready}, and the RFC-147 {@code steward:*} commands run in Karaf's
 * own shell. Every other feature of the repository is resolved (simulated) against the same Karaf.
 * <p>
 * {@link #config()} runs in the driver JVM; the tests run inside Karaf.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class KarafFeaturesIT {
    private static final String ADDON = "flow-export";
    private static final String CAPABILITY = "flow-export";
    private static final String KIND_BUNDLE = "io.steward.supervision.config.toggle";
    /** Generous for a loaded 2-core machine; every wait polls a condition, none sleeps blindly. */
    private static final Duration DEADLINE = Duration.ofSeconds(30);
    /** How long Pax Exam waits for Karaf to boot with the probe's features (about 5 s here). */
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(90);
    private static final String REPOSITORY_NAME_PREFIX = "steward-";
    /** Given to the file source through a Karaf etc/*.cfg file. */
    private static final String POLL_MILLIS = "200";
    /**
     * The featuresBoot of Karaf 4.4's distribution less {@code ssh} and {@code management}: no
     * listening ports, so concurrent builds on one machine never collide.
     */
    private static final String BOOT_FEATURES = "instance, package, log, framework, system, eventadmin, feature, "
            + "shell, service, jaas, deployer, diagnostic, wrap, bundle, config, kar";

    @Inject
    private BundleContext context;

    @Inject
    private FeaturesService featuresService;

    @Configuration
    public Option[] config() throws IOException {
        Path work = Path.of(System.getProperty("itest.work", "target/itest-work")).toAbsolutePath();
        Files.createDirectories(work);
        Path root = Files.createTempDirectory(work, getClass().getSimpleName() + "-");
        Path data = Files.createDirectories(root.resolve("data"));
        Path etc = Files.createDirectories(root.resolve("etc"));
        Path assignments = etc.resolve("assignments.json");
        // written before Karaf boots: the file source reads it when it activates, no poll to wait for
        Files.writeString(assignments, "{\"revision\":\"karaf-1\",\"addons\":[{\"id\":\"" + ADDON
                + "\",\"version\":\"1.0.0\",\"enabled\":true,\"supervision\":\"config_toggle\","
                + "\"delivery\":\"compiled_in\",\"capabilities\":[\"" + CAPABILITY + "\"],"
                + "\"config\":{\"interval_seconds\":30}}]}", StandardCharsets.UTF_8);

        String localRepository = required("org.ops4j.pax.url.mvn.localRepository");
        File reactorRepository = new File(required("itest.karaf.repo"));
        if (!new File(reactorRepository, "io/steward").isDirectory()) {
            throw new IllegalStateException(reactorRepository + " holds no io.steward artifacts (copy-dependencies)");
        }
        String pax = "etc/org.ops4j.pax.url.mvn.cfg";
        MavenArtifactUrlReference karaf = maven().groupId("org.apache.karaf").artifactId("apache-karaf")
                .type("tar.gz").versionAsInProject();
        MavenArtifactUrlReference stewardFeatures = maven().groupId("io.steward")
                .artifactId("io.steward.features.karaf").type("xml").classifier("features").versionAsInProject();
        return options(
                karafDistributionConfiguration().frameworkUrl(karaf).name("Apache Karaf")
                        .unpackDirectory(root.resolve("karaf").toFile()).useDeployFolder(false),
                // no console on the test's stdin, no SSH server
                configureConsole().ignoreLocalConsole().ignoreRemoteShell(),

                // pax-url in Karaf: offline; Karaf's system/ folder, then this build's Steward
                // artifacts, then the Maven local repository
                editConfigurationFilePut(pax, "org.ops4j.pax.url.mvn.offline", "true"),
                editConfigurationFilePut(pax, "org.ops4j.pax.url.mvn.localRepository", localRepository),
                editConfigurationFilePut(pax, "org.ops4j.pax.url.mvn.repositories", ""),
                editConfigurationFilePut(pax, "org.ops4j.pax.url.mvn.defaultRepositories",
                        "${karaf.home.uri}${karaf.default.repository}@id=system.repository@snapshots, "
                                + reactorRepository.toURI() + "@id=steward.reactor@snapshots"),
                // Karaf's boot features without ssh and management; features(...) below appends Steward's
                editConfigurationFilePut("etc/org.apache.karaf.features.cfg", "featuresBoot", BOOT_FEATURES),
                // blacklists two optional bundles of Karaf's scr feature that cannot be had offline here
                replaceConfigurationFile("etc/org.apache.karaf.features.xml", resource("karaf/org.apache.karaf.features.xml")),
                // lib-dbus-java (steward-systemd) imports it; Karaf's jre.properties does not export it
                systemPackage("com.sun.security.auth.module"),
                // and lib-prometheus (steward-metrics) this one
                systemPackage("com.sun.net.httpserver"),

                // Steward's framework properties, the way docs/embedding.md tells a Karaf user
                editConfigurationFilePut("etc/system.properties", "steward.data", data.toString()),
                editConfigurationFilePut("etc/system.properties", "steward.etc", etc.toString()),
                editConfigurationFilePut("etc/system.properties", "steward.assignments", assignments.toString()),
                editConfigurationFilePut("etc/system.properties", "steward.trust", etc.resolve("trust").toString()),
                editConfigurationFilePut("etc/system.properties", "steward.unit.dir", root.resolve("units").toString()),
                editConfigurationFilePut("etc/system.properties", "steward.privileged.root",
                        root.resolve("privileged").toString()),
                // a Karaf etc/*.cfg reaches ConfigAdmin through Karaf's FileInstall
                editConfigurationFilePut("etc/io.steward.source.file.cfg", "poll.millis", POLL_MILLIS),

                features(stewardFeatures, "steward", "steward-config-toggle"),
                // a boot that fails (a feature that does not resolve) fails the class in 90 s, not 180
                systemTimeout(BOOT_TIMEOUT.toMillis()));
    }

    private File resource(String name) {
        try {
            return new File(Objects.requireNonNull(getClass().getClassLoader().getResource(name), name).toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String required(String property) {
        String value = System.getProperty(property);
        if (value == null || value.isBlank()) {
            throw new IllegalStateException("system property " + property + " is not set (failsafe configuration)");
        }
        return value;
    }

    // ---------------------------------------------------------------- tests, inside Karaf

    @Test
    public void stewardFeaturesRunAnAddonAndItsCommandsAppearInTheKarafShell() throws Exception {
        for (String name : List.of("steward", "steward-config-toggle")) {
            Feature feature = featuresService.getFeature(name);
            assertTrue("feature " + name + " is known", feature != null);
            await("feature " + name + " is installed", () -> featuresService.isInstalled(feature), this::describe);
        }
        for (String bsn : List.of("io.steward.api", "io.steward.core", "io.steward.source.file", "io.steward.shell",
                KIND_BUNDLE)) {
            await(bsn + " is ACTIVE", () -> bundle(bsn).getState() == Bundle.ACTIVE, this::describe);
        }

        // etc/io.steward.source.file.cfg reached the file source (DS publishes its configuration
        // as service properties)
        await("the file source runs with poll.millis=" + POLL_MILLIS, () -> !context.getServiceReferences(
                AssignmentSource.class, "(poll.millis=" + POLL_MILLIS + ")").isEmpty(), this::describe);

        await(ADDON + " is ready", () -> state(ADDON).equals(Optional.of(SupervisionState.READY)),
                this::describe);
        SupervisionStatus status = supervision().status(new AddonId(ADDON)).orElseThrow();
        assertEquals("config_toggle", status.kind());
        assertEquals(Optional.of("1.0.0"), status.activeVersion());
        await("an AddonCapability with (capabilities=" + CAPABILITY + ") is registered",
                () -> !context.getServiceReferences(AddonCapability.class, "(capabilities=" + CAPABILITY + ")")
                        .isEmpty(), this::describe);

        // Karaf's shell tracks RFC-147 command services (osgi.command.scope/function): steward:* is
        // in its command registry, next to Karaf's own commands
        await("Karaf's shell lists steward:list and steward:status", () -> {
            TreeSet<String> names = stewardCommands();
            return names.contains("steward:list") && names.contains("steward:status");
        }, () -> "steward commands in Karaf's registry: " + stewardCommands());

        String list = karafShell("steward:list");
        assertTrue("steward:list names " + ADDON + ": <" + list + ">", list.contains(ADDON));
        assertTrue("steward:list shows ready: <" + list + ">", list.contains("ready"));
        String detail = karafShell("steward:status " + ADDON);
        assertTrue("steward:status names " + ADDON + ": <" + detail + ">", detail.contains(ADDON));
        assertTrue("steward:status shows ready: <" + detail + ">", detail.contains("ready"));
        String kinds = karafShell("steward:kinds");
        assertTrue("steward:kinds names config_toggle: <" + kinds + ">", kinds.contains("config_toggle"));
    }

    /**
     * Karaf's big hazard is a refresh cascade (peers-and-pitfalls §2): a kind imports only API
     * packages, so uninstalling and reinstalling its feature, with Karaf's default auto-refresh,
     * stops no other bundle; the add-on is detached meanwhile and adopted again.
     */
    @Test
    public void uninstallingAndReinstallingAKindFeatureStopsNoOtherBundle() throws Exception {
        await(ADDON + " is ready", () -> state(ADDON).equals(Optional.of(SupervisionState.READY)), this::describe);
        Object supervisionId = serviceId(SupervisionService.class.getName(), null);
        Object commandsId = serviceId(null, "(osgi.command.scope=steward)");
        List<String> stopped = new CopyOnWriteArrayList<>();
        BundleListener listener = event -> {
            if (event.getType() == BundleEvent.STOPPED || event.getType() == BundleEvent.UNRESOLVED) {
                stopped.add(event.getBundle().getSymbolicName());
            }
        };
        context.addBundleListener(listener);
        try {
            featuresService.uninstallFeature("steward-config-toggle");
            await(ADDON + " is detached", () -> state(ADDON).equals(Optional.of(SupervisionState.DETACHED)),
                    this::describe);
            await("no AddonCapability of " + ADDON + " is left", () -> context.getServiceReferences(
                    AddonCapability.class, "(" + AddonCapability.ADDON_ID + "=" + ADDON + ")").isEmpty(), this::describe);

            featuresService.installFeature("steward-config-toggle");
            await(ADDON + " is ready again", () -> state(ADDON).equals(Optional.of(SupervisionState.READY)),
                    this::describe);
            await("an AddonCapability of " + ADDON + " is back", () -> !context.getServiceReferences(
                    AddonCapability.class, "(" + AddonCapability.ADDON_ID + "=" + ADDON + ")").isEmpty(), this::describe);
        } finally {
            context.removeBundleListener(listener);
        }
        assertTrue("the listener saw the kind bundle stop: " + stopped, stopped.contains(KIND_BUNDLE));
        assertEquals("bundles stopped or unresolved by the uninstall and the install",
                List.of(), stopped.stream().filter(b -> !KIND_BUNDLE.equals(b)).distinct().toList());
        assertEquals("core's SupervisionService was not re-registered", supervisionId,
                serviceId(SupervisionService.class.getName(), null));
        assertEquals("the steward:* commands were not re-registered", commandsId,
                serviceId(null, "(osgi.command.scope=steward)"));
    }

    @Test
    public void everyFeatureOfTheRepositoryResolvesInKaraf() throws Exception {
        Repository repository = stewardRepository();
        List<String> failures = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (Feature feature : repository.getFeatures()) {
            names.add(feature.getName());
            try {
                // resolves against this Karaf and the offline repositories; installs nothing
                featuresService.installFeature(feature.getName(), feature.getVersion(),
                        EnumSet.of(FeaturesService.Option.Simulate));
            } catch (Exception e) {
                failures.add(feature.getName() + ": " + e.getMessage());
            }
        }
        assertTrue("the repository has the steward and steward-config-toggle features: " + names,
                names.contains("steward") && names.contains("steward-config-toggle"));
        assertEquals("features that do not resolve in Karaf", List.of(), failures);
    }

    // ---------------------------------------------------------------- helpers

    private Repository stewardRepository() throws Exception {
        for (Repository repository : featuresService.listRepositories()) {
            if (repository.getName() != null && repository.getName().startsWith(REPOSITORY_NAME_PREFIX)) {
                return repository;
            }
        }
        fail("no features repository named " + REPOSITORY_NAME_PREFIX + "* was added");
        throw new AssertionError();
    }

    /** Runs a command line in a session of Karaf's shell; returns what it printed and its result. */
    private String karafShell(String commandLine) throws Exception {
        SessionFactory factory = service(SessionFactory.class);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
             Session session = factory.create(new ByteArrayInputStream(new byte[0]), out, out)) {
            Object result = session.execute(commandLine);
            out.flush();
            String output = bytes.toString(StandardCharsets.UTF_8) + (result == null ? "" : String.valueOf(result));
            System.out.println("karaf@root()> " + commandLine + "\n" + output); // kept in failsafe-reports
            return output;
        }
    }

    private TreeSet<String> stewardCommands() {
        TreeSet<String> names = new TreeSet<>();
        for (Command command : service(SessionFactory.class).getRegistry().getCommands()) {
            if ("steward".equals(command.getScope())) {
                names.add(command.getScope() + ":" + command.getName());
            }
        }
        return names;
    }

    /** service.id of the one service matching; fails when there is none or several. */
    private Object serviceId(String clazz, String filter) throws InvalidSyntaxException {
        ServiceReference<?>[] refs = context.getServiceReferences(clazz, filter);
        assertTrue("exactly one service " + clazz + " " + filter + " is registered", refs != null && refs.length == 1);
        return refs[0].getProperty(Constants.SERVICE_ID);
    }

    private SupervisionService supervision() {
        return service(SupervisionService.class);
    }

    private Optional<SupervisionState> state(String id) {
        return supervision().status(new AddonId(id)).map(SupervisionStatus::state);
    }

    private String describe() {
        StringBuilder s = new StringBuilder();
        ServiceReference<SupervisionService> ref = context.getServiceReference(SupervisionService.class);
        SupervisionService service = ref == null ? null : context.getService(ref);
        s.append(service == null ? "no SupervisionService" : "statuses " + service.statuses());
        for (Bundle b : context.getBundles()) {
            if (b.getSymbolicName() != null && b.getSymbolicName().startsWith("io.steward")) {
                s.append("\n  ").append(b.getSymbolicName()).append(" state ").append(b.getState());
            }
        }
        Path log = Path.of(Objects.requireNonNullElse(context.getProperty("karaf.data"), "data"), "log", "karaf.log");
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            s.append("\nlast lines of ").append(log).append(":\n");
            lines.subList(Math.max(0, lines.size() - 40), lines.size()).forEach(l -> s.append(l).append('\n'));
        } catch (IOException e) {
            s.append("\n(no ").append(log).append(": ").append(e).append(')');
        }
        return s.toString();
    }

    /** The service of this type, waiting for it up to the deadline. */
    private <T> T service(Class<T> type) {
        List<T> found = new ArrayList<>();
        await("a " + type.getName() + " service is registered", () -> {
            ServiceReference<T> ref = context.getServiceReference(type);
            T service = ref == null ? null : context.getService(ref);
            if (service != null) {
                found.add(service);
            }
            return service != null;
        }, () -> "");
        return found.get(0);
    }

    private Bundle bundle(String symbolicName) {
        for (Bundle b : context.getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        throw new AssertionError("no bundle " + symbolicName + " is installed");
    }

    @FunctionalInterface
    private interface Condition {
        boolean holds() throws Exception;
    }

    /** Polls {@code condition} every 50 ms until it holds or {@link #DEADLINE} passes. */
    private static void await(String what, Condition condition, Supplier<String> diagnostics) {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (true) {
            Exception last = null;
            try {
                if (condition.holds()) {
                    return;
                }
            } catch (Exception e) {
                last = e; // counts as "not yet"
            }
            if (System.nanoTime() - deadline > 0) {
                AssertionError failure = new AssertionError("timed out after " + DEADLINE.toSeconds()
                        + " s waiting until " + what + (last == null ? "" : " (last error: " + last + ")")
                        + "\n" + diagnostics.get());
                failure.initCause(last);
                throw failure;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting until " + what, e);
            }
        }
    }
}
