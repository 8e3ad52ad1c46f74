package io.steward.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.function.Function;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;
import org.osgi.framework.wiring.FrameworkWiring;

/**
 * Boots the embedded framework: the properties the bundles read, every jar of
 * {@code <home>/bundle} installed and started, the shell bundle last. The jars of
 * {@code <home>/deploy} (the supervision kinds) belong to FileInstall in {@code run}: it installs
 * them when it starts and updates or uninstalls each one when its file changes or goes. One-shot
 * commands do not start FileInstall, so the launcher installs them itself. Not thread-safe except
 * {@link #stop}, which a shutdown hook may call at any time.
 */
final class Boot {
    /** Started last: its one-shot component runs the command as soon as it activates. */
    static final String SHELL_BUNDLE = "io.steward.shell";
    static final String FILEINSTALL_BUNDLE = "org.apache.felix.fileinstall";
    /** Checks the jars of deploy/ (FileInstall's installer in run, a check service for one-shot commands). */
    static final String DEPLOY_BUNDLE = "io.steward.deploy";
    static final String GOGO_SHELL_BUNDLE = "org.apache.felix.gogo.shell";
    /**
     * Started first: a logger made before pax-logging-api's activator has run is a fallback logger that
     * names pax-logging-api as its bundle; after it, each line names the bundle that logs it.
     */
    static final String LOGGING_BUNDLE = "org.ops4j.pax.logging.pax-logging-api";
    /**
     * Installed but not started by one-shot commands, which have no use for them: FileInstall
     * watches deploy/ for the agent, Gogo serves the agent's console (the shell bundle needs Gogo's
     * API package only, so Gogo stays installed), Metatype describes configuration to management
     * tools (its activator alone loads the JDK's locale and calendar data). About 10 ms of apply.
     */
    static final Set<String> AGENT_ONLY = Set.of(FILEINSTALL_BUNDLE, "org.apache.felix.gogo.runtime",
            "org.apache.felix.gogo.command", "org.apache.felix.metatype");

    private final Settings settings;
    private final Framework framework;

    private Boot(Settings settings, Framework framework) {
        this.settings = settings;
        this.framework = framework;
    }

    /** Creates and initializes (does not start) the framework, its cache in {@code storage}. */
    static Boot init(Settings settings, Path storage) throws LaunchException {
        return init(settings, storage, false);
    }

    /**
     * Creates and initializes (does not start) the framework, its cache in {@code storage}, which
     * Felix empties first if {@code clean} (the agent's cache is always emptied).
     */
    static Boot init(Settings settings, Path storage, boolean clean) throws LaunchException {
        if (settings.deploy().toString().contains(",") || settings.etc().toString().contains(",")) {
            throw new LaunchException("the deploy and etc directories may not contain a comma (FileInstall reads its "
                    + "directories as a comma-separated list): " + settings.deploy() + ", " + settings.etc());
        }
        FrameworkFactory factory = ServiceLoader.load(FrameworkFactory.class).findFirst()
                .orElseThrow(() -> new LaunchException("no OSGi framework on the class path (bin/felix.jar is missing)"));
        Map<String, String> properties = FrameworkProperties.properties(settings, storage, clean);
        // pax-logging-api's default logger takes its level from the system properties only
        // (DefaultServiceLog's static initializer), not from the framework properties
        if (System.getProperty(FrameworkProperties.LOG_LEVEL) == null) {
            System.setProperty(FrameworkProperties.LOG_LEVEL, properties.get(FrameworkProperties.LOG_LEVEL));
        }
        Framework framework = factory.newFramework(properties);
        try {
            framework.init();
        } catch (BundleException e) {
            throw new LaunchException("the OSGi framework did not initialize: " + e.getMessage(), e);
        }
        return new Boot(settings, framework);
    }

    BundleContext context() {
        return framework.getBundleContext();
    }

    Framework framework() {
        return framework;
    }

    /**
     * Installs every jar of {@code <home>/bundle} (sorted by file name), and for a one-shot command
     * every jar of {@code <home>/deploy} after them, starts the framework, then the bundles:
     * FileInstall, Gogo and Metatype for {@code run} only ({@link #AGENT_ONLY}); after all others
     * {@value #SHELL_BUNDLE} (its one-shot component runs the command as soon as it activates, so
     * every dispatcher must be there), and
     * after it the Gogo console, for {@code run --shell} only (a console started earlier runs its
     * first commands in a half-started platform).
     * <p>
     * In {@code run}, FileInstall installs and starts {@code deploy/} as it starts (its first scan
     * runs in its activator, in this thread, so the kinds start with the other bundles) with its own location
     * ({@code file:} URL of the jar, content copied into the cache: a jar replaced in place never
     * changes a running revision). Installing them here as well would give FileInstall bundles it
     * did not install and has no checksum for: it would update each one once at start.
     * <p>
     * A jar of {@code deploy/} that cannot be installed or started is reported on stderr and left
     * out, as FileInstall does in {@code run}: one broken drop-in does not stop {@code status}.
     */
    void start() throws LaunchException {
        List<Bundle> installed = install(jars(settings.bundles()));
        try {
            framework.start();
        } catch (BundleException e) {
            throw new LaunchException("the OSGi framework did not start: " + e.getMessage(), e);
        }
        // one resolve for all: starting bundle by bundle would resolve again for each
        framework.adapt(FrameworkWiring.class).resolveBundles(null);
        for (Bundle bundle : installed) {
            if (LOGGING_BUNDLE.equals(bundle.getSymbolicName())) {
                start(bundle, startOptions());
            }
        }
        // before FileInstall (run) or the jars of deploy/ (one-shot): nothing of deploy/ is installed unchecked
        Bundle guard = installed.stream().filter(b -> DEPLOY_BUNDLE.equals(b.getSymbolicName())).findFirst()
                .orElseThrow(() -> new LaunchException("bundle " + DEPLOY_BUNDLE + " is missing from "
                        + settings.bundles() + ", so the jars of deploy/ cannot be checked; nothing was started"));
        start(guard, startOptions());
        Set<Bundle> deployed = new HashSet<>();
        if (settings.command() != Command.RUN) {
            deployed.addAll(installDeployed(deployedJars(settings.deploy())));
            installed.addAll(deployed);
            framework.adapt(FrameworkWiring.class).resolveBundles(deployed);
        }
        Map<String, Bundle> last = new HashMap<>();
        for (Bundle bundle : installed) {
            if (LOGGING_BUNDLE.equals(bundle.getSymbolicName()) || bundle == guard) {
                continue;
            }
            String name = bundle.getSymbolicName();
            if (SHELL_BUNDLE.equals(name) || GOGO_SHELL_BUNDLE.equals(name)) {
                last.put(name, bundle);
            } else if (deployed.contains(bundle)) {
                if (shouldStart(bundle)) {
                    startDeployed(bundle, startOptions());
                }
            } else if (shouldStart(bundle)) {
                start(bundle, startOptions());
            }
        }
        if (last.containsKey(SHELL_BUNDLE)) {
            start(last.get(SHELL_BUNDLE), startOptions());
        } else if (settings.command().oneShot()) {
            throw new LaunchException("bundle " + SHELL_BUNDLE + " is missing from " + settings.bundles()
                    + ", so '" + settings.command().word() + "' cannot run");
        }
        if (last.containsKey(GOGO_SHELL_BUNDLE) && settings.command() == Command.RUN && settings.shell()) {
            start(last.get(GOGO_SHELL_BUNDLE), startOptions());
        }
    }

    /**
     * One-shot commands start bundles transiently: a kept cache ({@link OneShotCache}) then never
     * starts a bundle on its own, in an order the launcher did not choose, and no start rewrites a
     * bundle's state file.
     */
    private int startOptions() {
        return settings.command() == Command.RUN ? 0 : Bundle.START_TRANSIENT;
    }

    private boolean shouldStart(Bundle bundle) {
        boolean fragment = bundle.getHeaders().get(Constants.FRAGMENT_HOST) != null;
        return !fragment && (settings.command() == Command.RUN || !AGENT_ONLY.contains(bundle.getSymbolicName()))
                && !settings.fleet().skips(bundle.getSymbolicName());
    }

    private static List<Path> jars(Path dir) throws LaunchException {
        if (!Files.isDirectory(dir)) {
            throw new LaunchException("the bundle directory " + dir + " does not exist (is STEWARD_HOME right?)");
        }
        List<Path> jars = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, "*.jar")) {
            stream.forEach(jars::add);
        } catch (IOException e) {
            throw new LaunchException("cannot list the bundles in " + dir + ": " + e.getMessage(), e);
        }
        if (jars.isEmpty()) {
            throw new LaunchException("no bundles in " + dir);
        }
        jars.sort(null);
        return jars;
    }

    /** The jars of {@code <home>/deploy}, sorted by file name; none when the directory is absent. */
    static List<Path> deployedJars(Path dir) throws LaunchException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Path> jars = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, "*.jar")) {
            stream.forEach(jars::add);
        } catch (IOException e) {
            throw new LaunchException("cannot list the bundles in " + dir + ": " + e.getMessage(), e);
        }
        jars.sort(null);
        return jars;
    }

    /**
     * The jars of deploy/ for a one-shot command: each checked by {@value #DEPLOY_BUNDLE} on a private copy and
     * installed from that copy (so a jar swapped after the check is not what runs); a refused one is a warning
     * and left where it is (a one-shot command changes nothing in deploy/; the agent quarantines it).
     */
    @SuppressWarnings("unchecked")
    private List<Bundle> installDeployed(List<Path> jars) throws LaunchException {
        BundleContext context = context();
        Function<Path, Path> check;
        try {
            Collection<ServiceReference<Function>> refs = context.getServiceReferences(Function.class,
                    "(steward.deploy.check=true)");
            if (refs.isEmpty()) {
                throw new LaunchException("bundle " + DEPLOY_BUNDLE + " did not register its check of deploy/");
            }
            check = context.getService(refs.iterator().next());
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        List<Bundle> bundles = new ArrayList<>();
        for (Path jar : jars) {
            Path copy = null;
            try {
                copy = check.apply(jar);
                try (InputStream in = Files.newInputStream(copy)) {
                    bundles.add(context.installBundle(jar.toFile().toURI().normalize().toString(), in));
                }
            } catch (IllegalArgumentException e) {
                warn("deploy/" + jar.getFileName() + " was not installed: " + e.getMessage());
            } catch (BundleException | IOException | RuntimeException e) {
                warn("deploy/" + jar.getFileName() + " was not installed: " + reason(e));
            } finally {
                if (copy != null) {
                    try {
                        Files.deleteIfExists(copy);
                    } catch (IOException e) {
                        // a private temporary file
                    }
                }
            }
        }
        return bundles;
    }

    private static void startDeployed(Bundle bundle, int options) {
        try {
            bundle.start(options);
        } catch (BundleException | RuntimeException e) {
            warn("bundle " + bundle.getSymbolicName() + " " + bundle.getVersion() + " of deploy/ did not start: "
                    + reason(e));
        }
    }

    private static void warn(String message) {
        System.err.println("steward: warning: " + message);
    }

    private List<Bundle> install(List<Path> jars) throws LaunchException {
        BundleContext context = context();
        List<Bundle> bundles = new ArrayList<>();
        for (Path jar : jars) {
            try {
                // by reference: the jar is read in place, not copied into the cache
                bundles.add(context.installBundle("reference:" + jar.toUri()));
            } catch (BundleException | RuntimeException e) {
                throw new LaunchException("bundle " + jar.getFileName() + " could not be installed: "
                        + reason(e), e);
            }
        }
        return bundles;
    }

    private static void start(Bundle bundle, int options) throws LaunchException {
        try {
            bundle.start(options);
        } catch (BundleException | RuntimeException e) {
            throw new LaunchException("bundle " + bundle.getSymbolicName() + " " + bundle.getVersion()
                    + " did not start: " + reason(e), e);
        }
    }

    /** One readable reason for a failed install or start. */
    static String reason(Throwable e) {
        String message = describe(e);
        if (e.getCause() != null && message.startsWith("Activator start error")) {
            return "its activator failed: " + describe(e.getCause());
        }
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return root == e ? message : message + ": " + describe(root);
    }

    /**
     * The first line of a message. Felix's resolver messages read "Unable to resolve B [3](R 3.0):
     * missing requirement [B [3](R 3.0)] NAMESPACE; FILTER [caused by: ...] Unresolved
     * requirements: [...]"; keep "missing requirement NAMESPACE; FILTER [caused by: ...]".
     */
    static String describe(Throwable e) {
        String message = e.getMessage() == null ? e.getClass().getName() : e.getMessage();
        message = message.lines().findFirst().orElse("").strip();
        int cut = message.indexOf(" Unresolved requirements:");
        if (cut > 0) {
            message = message.substring(0, cut);
        }
        String missing = "missing requirement [";
        int at = message.indexOf(missing);
        if (message.startsWith("Unable to resolve") && at > 0) {
            int depth = 0;
            for (int i = at + missing.length() - 1; i < message.length(); i++) {
                char c = message.charAt(i);
                depth += c == '[' ? 1 : c == ']' ? -1 : 0;
                if (depth == 0) {
                    message = "missing requirement " + message.substring(i + 1).strip();
                    break;
                }
            }
        }
        return message.endsWith(".") ? message.substring(0, message.length() - 1) : message;
    }

    /**
     * Stops the framework and waits for it, at most {@code bound}; safe to call more than once.
     * Returns whether it stopped within the bound.
     */
    boolean stop(Duration bound) {
        try {
            if ((framework.getState() & (Bundle.STARTING | Bundle.ACTIVE | Bundle.STOPPING)) != 0) {
                framework.stop();
            }
            int type = framework.waitForStop(bound.toMillis()).getType();
            return type != FrameworkEvent.ERROR && type != FrameworkEvent.WAIT_TIMEDOUT;
        } catch (BundleException e) {
            System.err.println("steward: the OSGi framework did not stop cleanly: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return false;
    }
}
