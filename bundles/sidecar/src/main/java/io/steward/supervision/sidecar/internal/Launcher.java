package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.sidecar.internal.Supervised.Running;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts a spec's program through its {@link Keeper}: binds the notify socket, records the launch id durably
 * before the spawn, builds the command line and environment, applies the resource limits and records the pid.
 * <p>
 * Threading: the caller holds the add-on (an operation) or is the supervisor thread with its monitor held;
 * takes the add-on's monitor around each change of its state.
 */
final class Launcher {
    // the dispatcher's logger: log categories stay what they were before the dispatcher was split
    private static final Logger LOG = LoggerFactory.getLogger(SidecarDispatcher.class);
    private static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    /** Variables of the agent's own environment a sidecar inherits; everything else starts empty. */
    private static final List<String> INHERITED_ENV = List.of("LANG", "LC_ALL", "TZ");

    private final AddonFiles files;
    private final NotifySockets sockets;
    private final Recorder recorder;
    private final Cgroups cgroups;

    Launcher(AddonFiles files, NotifySockets sockets, Recorder recorder, Cgroups cgroups) {
        this.files = files;
        this.sockets = sockets;
        this.recorder = recorder;
        this.cgroups = cgroups;
    }

    /** Starts the spec's program in its own session; records it durably before returning. */
    Running start(Supervised s, Spec spec) throws IOException {
        AddonId id = s.id;
        Path home = files.home(id);
        Path stateDir = Files.createDirectories(home.resolve("state"));
        Path logDir = Files.createDirectories(home.resolve("log"));
        files.rotateLogs(id);
        String address = sockets.address(id);
        sockets.hub().bind(id, address);
        String launchId = Launches.newId();
        synchronized (s) {
            // durable before the process exists: an agent killed before the pid is recorded finds it by this id
            s.launching(launchId);
            try {
                recorder.persist(s);
            } catch (IOException e) {
                throw new IOException("cannot record the launch in " + recorder.stateFile(id) + ": " + e.getMessage(), e);
            }
        }

        List<String> command = new ArrayList<>();
        // the JVM's children inherit its ignored signals (HUP under nohup) and a blocked SIGQUIT;
        // env resets them, then execs the program (same pid). A path with '=' would read as an assignment.
        if (!spec.exec().toString().contains("=")) {
            command.add(Processes.ENV);
            command.add("--default-signal");
        }
        command.add(spec.exec().toString());
        command.addAll(spec.args());
        Map<String, String> env = environment(id, spec, stateDir, address);

        synchronized (s) {
            Keeper.Launched launched = Keeper.launch(command, env, stateDir, launchId, recorder.records().exitFile(id),
                    logDir.resolve("stdout.log"), logDir.resolve("stderr.log"));
            long startedNanos = System.nanoTime();
            long pid = launched.pid();
            Instant startInstant = ProcessHandle.of(pid).flatMap(h -> h.info().startInstant()).orElse(Instant.now());
            Running run = new Running(pid, launched.keeper(), false, startInstant, launched.startTicks(), startedNanos);
            s.started(run);
            s.limitsProblem = cgroups.apply(id, pid, spec.resources()).orElse(null);
            try {
                recorder.persist(s);
            } catch (IOException e) {
                // without a durable record the process would be an orphan after a crash: do not keep it
                Processes.signalGroup(pid, "KILL");
                Processes.signal(pid, "KILL");
                s.run = null;
                throw new IOException("cannot record the started process in " + recorder.stateFile(id) + ": "
                        + e.getMessage(), e);
            }
            LOG.info("Add-on {}: started version {} as pid {}", id, spec.version(), pid);
            return run;
        }
    }

    private Map<String, String> environment(AddonId id, Spec spec, Path stateDir, String address) {
        Map<String, String> env = new HashMap<>();
        env.put("PATH", DEFAULT_PATH);
        INHERITED_ENV.forEach(k -> {
            if (System.getenv(k) != null) {
                env.put(k, System.getenv(k));
            }
        });
        env.putAll(spec.env());
        env.put("STEWARD_ADDON_ID", id.value());
        env.put("STEWARD_ADDON_VERSION", spec.version());
        env.put("STEWARD_ADDON_CONFIG", files.configFile(id).toString());
        env.put("STEWARD_ADDON_STATE", stateDir.toString());
        env.put("NOTIFY_SOCKET", address);
        env.remove(Launches.ENV);            // the keeper adds it for the program only (Launches.find)
        env.remove("WATCHDOG_PID");
        if (spec.params().watchdog().isZero()) {
            env.remove("WATCHDOG_USEC");
        } else {
            env.put("WATCHDOG_USEC", Long.toString(spec.params().watchdog().toNanos() / 1000));
        }
        return env;
    }
}
