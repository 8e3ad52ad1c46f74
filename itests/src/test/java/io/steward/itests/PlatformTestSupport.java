package io.steward.itests;

import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.mavenBundle;
import static org.ops4j.pax.exam.CoreOptions.options;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.supervision.AddonCapability;
import io.steward.supervision.AddonId;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AssignmentSource;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.function.Supplier;
import javax.inject.Inject;
import org.junit.Before;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The one options helper of the integration tests: every runtime bundle, the Steward bundles
 * from the reactor, JUnit, and a fresh {@code steward.data} / {@code steward.etc} per test class
 * handed to the framework as properties. Subclasses run with
 * {@code @RunWith(PaxExam.class) @ExamReactorStrategy(PerClass.class)}.
 * <p>
 * The {@link #config()} method runs in the driver; everything else runs inside the framework, so
 * the directories are read back from framework properties, never from static fields.
 */
public abstract class PlatformTestSupport {
    /** Framework property naming the assignment file. */
    public static final String ASSIGNMENTS = "steward.assignments";
    /** PID of the file source; {@code poll.millis} is lowered to keep tests fast. */
    public static final String SOURCE_FILE_PID = "io.steward.source.file";
    /** The poll interval the tests give the file source. */
    public static final long POLL_MILLIS = 100;

    /** Default deadline of {@link #await}: generous for a loaded 2-core CI machine. */
    public static final Duration DEADLINE = Duration.ofSeconds(20);

    /** The Steward bundles, by failsafe system property naming the reactor-built jar, in start order. */
    private static final List<String> STEWARD_BUNDLES = List.of(
            "bundle.api", "bundle.core", "bundle.source.file", "bundle.config.toggle", "bundle.shell");

    @Inject
    protected BundleContext context;

    @Inject
    protected ConfigurationAdmin configAdmin;

    @Configuration
    public Option[] config() throws IOException {
        Path work = Path.of(System.getProperty("itest.work", "target/itest-work")).toAbsolutePath();
        Files.createDirectories(work);
        Path root = Files.createTempDirectory(work, getClass().getSimpleName() + "-");
        Path data = Files.createDirectories(root.resolve("data"));
        Path etc = Files.createDirectories(root.resolve("etc"));
        beforeBoot(data, etc);
        List<Option> options = new ArrayList<>(List.of(
                cleanCaches(true),
                frameworkProperty("steward.data").value(data.toString()),
                frameworkProperty("steward.etc").value(etc.toString()),
                frameworkProperty("steward.trust").value(etc.resolve("trust").toString()),
                frameworkProperty("steward.unit.dir").value(unitDir(root).toString()),
                frameworkProperty("steward.privileged.root").value(privilegedRoot(root).toString()),
                frameworkProperty(ASSIGNMENTS).value(etc.resolve("assignments.json").toString()),
                systemProperty("org.ops4j.pax.logging.DefaultServiceLog.level").value("INFO"),

                // features/runtime: what SCR needs, then the services Steward uses
                mavenBundle("org.ops4j.pax.logging", "pax-logging-api").versionAsInProject(),
                mavenBundle("org.osgi", "org.osgi.util.function").versionAsInProject(),
                mavenBundle("org.osgi", "org.osgi.util.promise").versionAsInProject(),
                mavenBundle("org.osgi", "org.osgi.service.component").versionAsInProject(),
                mavenBundle("org.apache.felix", "org.apache.felix.configadmin").versionAsInProject(),
                mavenBundle("org.apache.felix", "org.apache.felix.scr").versionAsInProject(),
                mavenBundle("org.apache.felix", "org.apache.felix.metatype").versionAsInProject(),
                mavenBundle("org.apache.felix", "org.apache.felix.fileinstall").versionAsInProject(),
                mavenBundle("org.apache.felix", "org.apache.felix.gogo.runtime").versionAsInProject(),
                mavenBundle("org.apache.felix", "org.apache.felix.gogo.command").versionAsInProject(),
                mavenBundle("com.google.code.gson", "gson").versionAsInProject(),
                junitBundles()));
        for (String property : STEWARD_BUNDLES) {
            String jar = System.getProperty(property);
            if (jar == null) {
                throw new IllegalStateException("system property " + property + " is not set (failsafe configuration)");
            }
            File file = new File(jar);
            if (!file.isFile()) {
                throw new IllegalStateException(property + "=" + jar + " does not exist; build the reactor first");
            }
            options.add(bundle(file.toURI().toString()));
        }
        return options(options.toArray(new Option[0]));
    }

    /** Runs in the driver before the framework starts: a subclass may seed the directories. */
    protected void beforeBoot(Path data, Path etc) throws IOException {
    }

    /**
     * Runs in the driver: the unit directory handed to the framework ({@code steward.unit.dir}). A subclass
     * that drives a real systemd returns the directory that systemd loads units from.
     */
    protected Path unitDir(Path root) {
        return root.resolve("units");
    }

    /**
     * Runs in the driver: the privileged root handed to the framework ({@code steward.privileged.root}). A
     * subclass whose units a sandboxed systemd runs returns a directory that systemd sees.
     */
    protected Path privilegedRoot(Path root) throws IOException {
        return root.resolve("privileged");
    }

    /**
     * Runs in the driver: a reactor-built bundle jar, from the failsafe property {@code property} when the
     * POM sets it, else from the reactor layout next to {@code bundle.api}
     * ({@code bundles/<directory>/target/<artifactId>-<version>.jar}).
     */
    protected static File reactorBundle(String property, String directory, String artifactId) {
        String configured = System.getProperty(property);
        File jar;
        if (configured != null) {
            jar = new File(configured);
        } else {
            File api = new File(System.getProperty("bundle.api", "bundle.api-is-not-set"));
            String version = api.getName().replaceFirst("^io\\.steward\\.api-", "").replaceFirst("\\.jar$", "");
            jar = new File(api.getParentFile().getParentFile().getParentFile(),
                    directory + "/target/" + artifactId + "-" + version + ".jar");
        }
        if (!jar.isFile()) {
            throw new IllegalStateException(jar + " does not exist; build bundles/" + directory + " first");
        }
        return jar;
    }

    /**
     * Runs in the driver: the real delivery bundle and the libraries its tar reader needs, for the tests
     * of kinds that stage signed artifacts (made by {@link SignedArtifacts} in {@link #beforeBoot}).
     */
    protected static List<Option> deliveryBundles() {
        return List.of(mavenBundle("commons-io", "commons-io").versionAsInProject(),
                mavenBundle("org.apache.commons", "commons-lang3").versionAsInProject(),
                mavenBundle("org.apache.commons", "commons-compress").versionAsInProject(),
                bundle(reactorBundle("bundle.delivery", "delivery", "io.steward.delivery").toURI().toString()));
    }

    // ---------------------------------------------------------------- inside the framework

    /** {@code steward.data} of this class's framework. */
    protected Path dataDir() {
        return Path.of(Objects.requireNonNull(context.getProperty("steward.data"), "steward.data"));
    }

    /** The watched assignment file. */
    protected Path assignmentFile() {
        return Path.of(Objects.requireNonNull(context.getProperty(ASSIGNMENTS), ASSIGNMENTS));
    }

    /** The audit log. */
    protected Path auditLog() {
        return dataDir().resolve("state").resolve("audit.jsonl");
    }

    /** The durable ledger: one {@code <id>.json} per add-on. */
    protected Path ledger() {
        return dataDir().resolve("state").resolve("ledger");
    }

    /** Replaces the assignment file atomically, so the source never reads half a document. */
    protected void writeAssignments(String json) throws IOException {
        Path file = assignmentFile();
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, json, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Whether the file source runs with a {@value #POLL_MILLIS} ms poll, set before every test by
     * {@link #configureFastPolling()}. A subclass that needs the default configuration overrides this.
     */
    protected boolean fastPolling() {
        return true;
    }

    /**
     * Gives the file source a {@value #POLL_MILLIS} ms poll and waits until the re-created source
     * exists. Waiting matters: SCR re-creates the source on a configuration change and the new
     * instance reads the file in its constructor, so a file written during that swap would be seen by
     * neither instance's poller. Getting the service object of the re-registered AssignmentSource
     * (service property {@code poll.millis=100}) returns only once the new instance is constructed.
     */
    @Before
    public void configureFastPolling() throws Exception {
        if (!fastPolling()) {
            return;
        }
        // "?" is a multi-location binding: visible to the Steward bundle, not bound to the probe
        org.osgi.service.cm.Configuration configuration = configAdmin.getConfiguration(SOURCE_FILE_PID, "?");
        Dictionary<String, Object> current = configuration.getProperties();
        if (current == null || !Long.valueOf(POLL_MILLIS).equals(current.get("poll.millis"))) {
            Dictionary<String, Object> properties = new Hashtable<>();
            properties.put("poll.millis", POLL_MILLIS);
            configuration.update(properties);
        }
        String filter = "(poll.millis=" + POLL_MILLIS + ")";
        await("the file source runs with poll.millis=" + POLL_MILLIS, () -> {
            for (ServiceReference<AssignmentSource> ref : context.getServiceReferences(AssignmentSource.class, filter)) {
                AssignmentSource source = context.getService(ref);
                if (source != null) {
                    context.ungetService(ref);
                    return true;
                }
            }
            return false;
        });
    }

    /** The installed bundle with this symbolic name. */
    protected Bundle installedBundle(String symbolicName) {
        for (Bundle b : context.getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        throw new AssertionError("no bundle " + symbolicName + " is installed");
    }

    // ---------------------------------------------------------------- Steward

    /** The SupervisionService core provides now (waits for it, so a restarted core is found again). */
    protected SupervisionService supervision() {
        AtomicReference<ServiceReference<SupervisionService>> holder = new AtomicReference<>();
        await("core registers SupervisionService", () -> {
            holder.set(context.getServiceReference(SupervisionService.class));
            return holder.get() != null;
        });
        SupervisionService service = context.getService(holder.get());
        if (service == null) {
            throw new AssertionError("SupervisionService went away while being fetched");
        }
        return service;
    }

    /** Current state of one add-on; empty when Steward does not know it. */
    protected Optional<SupervisionState> state(String id) {
        return supervision().status(new AddonId(id)).map(SupervisionStatus::state);
    }

    /** Waits until the add-on is in one of {@code states}. */
    protected void awaitState(String id, SupervisionState... states) {
        awaitState(DEADLINE, id, states);
    }

    /** Waits until the add-on is in one of {@code states}; the failure shows the statuses at the deadline. */
    protected void awaitState(Duration deadline, String id, SupervisionState... states) {
        List<SupervisionState> wanted = List.of(states);
        await(id + " is " + wanted, deadline, () -> {
            Optional<SupervisionState> s = state(id);
            return s.isPresent() && wanted.contains(s.get());
        }, this::describeStatuses);
    }

    /** Waits until the add-on is {@code removed} or no longer listed. */
    protected void awaitRemovedOrGone(String id) {
        await(id + " is removed or gone", DEADLINE, () -> {
            Optional<SupervisionState> s = state(id);
            return s.isEmpty() || s.get() == SupervisionState.REMOVED;
        }, this::describeStatuses);
    }

    /** The statuses, for failure messages. */
    protected String describeStatuses() {
        try {
            ServiceReference<SupervisionService> ref = context.getServiceReference(SupervisionService.class);
            if (ref == null) {
                return "no SupervisionService";
            }
            SupervisionService s = context.getService(ref);
            return s == null ? "no SupervisionService" : "statuses " + s.statuses();
        } catch (RuntimeException e) {
            return "statuses unavailable: " + e;
        }
    }

    /** Registered AddonCapability services of one add-on ({@code null}: of every add-on). */
    protected List<ServiceReference<AddonCapability>> capabilities(String addonId) throws InvalidSyntaxException {
        String filter = addonId == null ? null : "(" + AddonCapability.ADDON_ID + "=" + addonId + ")";
        return new ArrayList<>(context.getServiceReferences(AddonCapability.class, filter));
    }

    /** Waits until exactly one AddonCapability service of the add-on is registered; returns it. */
    protected ServiceReference<AddonCapability> awaitCapability(String addonId) {
        List<ServiceReference<AddonCapability>> found = new ArrayList<>();
        await("an AddonCapability service with addon.id=" + addonId + " is registered", () -> {
            found.clear();
            found.addAll(capabilities(addonId));
            return found.size() == 1;
        });
        return found.get(0);
    }

    /** Waits until no AddonCapability service of the add-on is registered. */
    protected void awaitNoCapability(String addonId) {
        await("no AddonCapability service with addon.id=" + addonId + " is registered",
                () -> capabilities(addonId).isEmpty());
    }

    /** Runs a reconcile pass and waits for it; returns after every earlier request has been served. */
    protected ReconcileReport reconcileNow() throws Exception {
        return supervision().reconcile().toCompletableFuture().get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** A dry run. */
    protected ReconcileReport planNow() throws Exception {
        return supervision().plan().toCompletableFuture().get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Every line of the audit log, parsed. */
    protected List<JsonObject> auditLines() throws IOException {
        Path log = auditLog();
        List<JsonObject> lines = new ArrayList<>();
        if (Files.exists(log)) {
            for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    lines.add(JsonParser.parseString(line).getAsJsonObject());
                }
            }
        }
        return lines;
    }

    /** Lines of the audit log about one add-on whose action satisfies {@code action}. */
    protected List<JsonObject> auditLines(String addonId, Predicate<String> action) throws IOException {
        List<JsonObject> found = new ArrayList<>();
        for (JsonObject line : auditLines()) {
            if (line.has("addon") && addonId.equals(line.get("addon").getAsString())
                    && line.has("action") && action.test(line.get("action").getAsString())) {
                found.add(line);
            }
        }
        return found;
    }

    // ---------------------------------------------------------------- waiting

    /** A condition {@link #await} polls; may throw, which counts as "not yet". */
    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    /** Polls {@code condition} every 50 ms until it holds or {@code deadline} passes, then fails naming it. */
    public static void await(String description, Duration deadline, Condition condition) {
        await(description, deadline, condition, () -> "");
    }

    /** {@link #await(String, Duration, Condition)} whose failure message ends with {@code diagnostics} at the deadline. */
    public static void await(String description, Duration deadline, Condition condition, Supplier<String> diagnostics) {
        long end = System.nanoTime() + deadline.toNanos();
        Throwable last = null;
        while (true) {
            try {
                if (condition.holds()) {
                    return;
                }
                last = null;
            } catch (Exception | AssertionError e) {
                last = e;
            }
            if (System.nanoTime() - end > 0) {
                String diagnostic = diagnostics.get();
                AssertionError failure = new AssertionError("timed out after " + deadline.toMillis()
                        + " ms waiting until " + description + (last == null ? "" : " (last error: " + last + ")")
                        + (diagnostic.isEmpty() ? "" : "; " + diagnostic));
                if (last != null) {
                    failure.initCause(last);
                }
                throw failure;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting until " + description, e);
            }
        }
    }

    /** {@link #await(String, Duration, Condition)} with {@link #DEADLINE}. */
    public static void await(String description, Condition condition) {
        await(description, DEADLINE, condition);
    }
}
