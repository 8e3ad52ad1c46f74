package io.steward.itests;

import static org.junit.Assert.assertNotNull;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.mavenBundle;
import static org.ops4j.pax.exam.CoreOptions.options;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

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
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.supervision.AddonCapability;
import io.steward.supervision.AddonId;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import javax.inject.Inject;
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
    /** PID of core. */
    public static final String CORE_PID = "io.steward.core";

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
        List<Option> options = new ArrayList<>(List.of(
                cleanCaches(true),
                frameworkProperty("steward.data").value(data.toString()),
                frameworkProperty("steward.etc").value(etc.toString()),
                frameworkProperty("steward.trust").value(etc.resolve("trust").toString()),
                frameworkProperty("steward.unit.dir").value(root.resolve("units").toString()),
                frameworkProperty("steward.privileged.root").value(root.resolve("privileged").toString()),
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
                continue; // TEMPORARY while the lead's bundles are being written
            }
            File file = new File(jar);
            if (!file.isFile()) {
                throw new IllegalStateException(property + "=" + jar + " does not exist; build the reactor first");
            }
            options.add(bundle(file.toURI().toString()));
        }
        return options(options.toArray(new Option[0]));
    }

    // ---------------------------------------------------------------- inside the framework

    /** {@code steward.data} of this class's framework. */
    protected Path dataDir() {
        return Path.of(Objects.requireNonNull(context.getProperty("steward.data"), "steward.data"));
    }

    /** {@code steward.etc} of this class's framework. */
    protected Path etcDir() {
        return Path.of(Objects.requireNonNull(context.getProperty("steward.etc"), "steward.etc"));
    }

    /** The watched assignment file. */
    protected Path assignmentFile() {
        return Path.of(Objects.requireNonNull(context.getProperty(ASSIGNMENTS), ASSIGNMENTS));
    }

    /** The audit log. */
    protected Path auditLog() {
        return dataDir().resolve("state").resolve("audit.jsonl");
    }

    /** The durable ledger. */
    protected Path ledger() {
        return dataDir().resolve("state").resolve("ledger.json");
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
     * Gives the file source a 100 ms poll and core a long periodic interval (so only changes
     * trigger passes). Updates only when the values differ, so components are not re-activated
     * by every test method.
     */
    protected void configureFastPolling() throws IOException {
        updateIfDifferent(SOURCE_FILE_PID, "poll.millis", 100L);
        updateIfDifferent(CORE_PID, "interval.seconds", 30L);
    }

    private void updateIfDifferent(String pid, String key, Object value) throws IOException {
        // "?" is a multi-location binding: the configuration is visible to the Steward bundle, not bound to the probe
        org.osgi.service.cm.Configuration configuration = configAdmin.getConfiguration(pid, "?");
        Dictionary<String, Object> current = configuration.getProperties();
        if (current != null && value.equals(current.get(key))) {
            return;
        }
        Dictionary<String, Object> properties = new Hashtable<>();
        properties.put(key, value);
        configuration.update(properties);
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
        List<SupervisionState> wanted = List.of(states);
        await(id + " is " + wanted + " (statuses: " + describeStatuses() + ")", () -> {
            Optional<SupervisionState> s = state(id);
            return s.isPresent() && wanted.contains(s.get());
        });
    }

    /** Waits until the add-on is {@code removed} or no longer listed. */
    protected void awaitRemovedOrGone(String id) {
        await(id + " is removed or gone", () -> {
            Optional<SupervisionState> s = state(id);
            return s.isEmpty() || s.get() == SupervisionState.REMOVED;
        });
    }

    /** One line per add-on, for failure messages. */
    protected String describeStatuses() {
        try {
            ServiceReference<SupervisionService> ref = context.getServiceReference(SupervisionService.class);
            if (ref == null) {
                return "no SupervisionService";
            }
            SupervisionService s = context.getService(ref);
            return s == null ? "no SupervisionService" : s.statuses().toString();
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
                AssertionError failure = new AssertionError("timed out after " + deadline.toMillis()
                        + " ms waiting until " + description + (last == null ? "" : " (last error: " + last + ")"));
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

    /** Fails unless {@code value} is non-null; returns it. */
    protected static <T> T present(String what, T value) {
        assertNotNull(what, value);
        return value;
    }
}
