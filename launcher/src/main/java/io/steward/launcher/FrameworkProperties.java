package io.steward.launcher;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.osgi.framework.Constants;

/**
 * The framework properties of one launch: where the host's directories are, the command and its arguments for
 * the bundle that serves it, the bundle cache, the log level, and in {@code run} what FileInstall and the agent's
 * bundles read. Stateless; {@link Boot} hands them to the framework factory.
 */
final class FrameworkProperties {
    /** pax-logging-api's default logger level; a -D of the same name (STEWARD_JAVA_OPTS) wins. */
    static final String LOG_LEVEL = "org.ops4j.pax.logging.DefaultServiceLog.level";

    private FrameworkProperties() {
    }

    /** The framework properties for {@code settings}, the bundle cache in {@code storage}. */
    static Map<String, String> properties(Settings settings, Path storage) {
        return properties(settings, storage, false);
    }

    /** The same, and Felix empties {@code storage} first if {@code clean}. */
    static Map<String, String> properties(Settings settings, Path storage, boolean clean) {
        Map<String, String> p = new HashMap<>();
        p.put("steward.home", settings.home().toString());
        p.put("steward.data", settings.data().toString());
        p.put("steward.etc", settings.etc().toString());
        p.put("steward.trust", settings.trust().toString());
        p.put("steward.unit.dir", settings.unitDir().toString());
        p.put("steward.privileged.root", settings.privilegedRoot().toString());
        p.put("steward.assignments", settings.assignments().toString());
        p.put("steward.deploy.dir", settings.deploy().toString());
        // what this installation ships (its deploy/ kinds' build key) and what the operator trusts
        p.put("steward.deploy.trust", settings.home().resolve("etc/deploy-trust") + java.io.File.pathSeparator
                + settings.etc().resolve("deploy-trust"));
        p.put("steward.command", settings.command().word());
        p.put("steward.json", Boolean.toString(settings.json()));
        p.put("steward.verbose", Boolean.toString(settings.verbose()));
        if (settings.systemdBus() != null) {
            p.put("steward.systemd.bus", settings.systemdBus());
        }
        settings.fleet().addTo(p);
        if (settings.command().tool()) {
            p.put("steward.command.args", jsonArray(settings.toolArgs()));
            p.put("steward.cwd", Path.of("").toAbsolutePath().toString());
            p.put("steward.tty", Boolean.toString(System.console() != null));
        }
        p.put(Constants.FRAMEWORK_STORAGE, storage.toString());
        boolean agent = settings.command() == Command.RUN;
        // INFO (lifecycle, every step) only when asked for: an agent on a terminal, or its journal, shows
        // what needs attention; pax-logging-api's own start-up lines are INFO too
        p.put(LOG_LEVEL, System.getProperty(LOG_LEVEL, settings.verbose() ? "INFO" : "WARN"));
        if (clean) {
            p.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        }
        if (agent) {
            // a cache left by an earlier run (or another distribution version) is never reused
            p.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
            if (settings.metricsPort() != 0) {
                p.put("steward.metrics.port", Integer.toString(settings.metricsPort()));
            }
            if (settings.metricsTextfile() != null) {
                p.put("steward.metrics.textfile", settings.metricsTextfile().toString());
            }
            // deploy/ for the kinds, etc/ for the configuration (FileInstall reads a comma-separated list): what each
            // folder may give is io.steward.deploy's to decide (its installer claims everything else of both)
            p.put("felix.fileinstall.dir", settings.deploy() + "," + settings.etc());
            // no exploded directories (and not deploy/.quarantine, etc/trust): only files
            p.put("felix.fileinstall.subdir.mode", "skip");
            // the configuration files are the operator's: Steward never writes them back
            p.put("felix.fileinstall.enableConfigSave", "false");
            if (settings.unsignedKinds()) {
                p.put("steward.deploy.verify", "false");
            }
            p.put("felix.fileinstall.poll", "1000");
            p.put("felix.fileinstall.noInitialDelay", "true");
            p.put("felix.fileinstall.log.level", "2");
            // the daemon resolves on the calling thread: no pool of resolver threads idling for a minute after
            // every bundle change (issue 16, footprint); the few resolves of an agent's life are not worth two threads
            p.put("felix.resolver.parallelism", "1");
            // the shell reads etc/gosh_profile under gosh.home (the distribution's says how to leave and
            // defines 'exit'); the end of the console (Ctrl-D, 'exit') stops the agent as Ctrl-C does (the
            // add-ons keep running), rather than leave it in the foreground without a prompt
            p.put("gosh.home", settings.home().toString());
        }
        return p;
    }

    /** A JSON array of strings: framework properties are strings, and JSON keeps every argument intact. */
    static String jsonArray(List<String> values) {
        StringBuilder out = new StringBuilder("[");
        for (String v : values) {
            out.append(out.length() > 1 ? "," : "").append('"');
            for (char c : v.toCharArray()) {
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    default -> out.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
                }
            }
            out.append('"');
        }
        return out.append(']').toString();
    }
}
