package io.steward.systemd.bus;

import io.steward.systemd.ActiveState;
import io.steward.systemd.CallStatistics;
import io.steward.systemd.JobOutcome;
import io.steward.systemd.JobResult;
import io.steward.systemd.LoadedUnit;
import io.steward.systemd.SystemdException;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.UnitState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link SystemdManager} over D-Bus, on its own connection to {@code address}, opened by the first call and
 * re-opened by the next call after it is lost; closed by {@link #close}. A host without a reachable bus still
 * gets a manager (so the systemd kinds are visible): each call then fails with a {@link SystemdException}
 * naming the address, which the kinds report as a transient failure of the add-on. Thread-safe: calls run on
 * the caller's thread; dbus-java's own reader threads deliver {@code JobRemoved} and die with the connection.
 * <p>
 * Not final: {@code io.steward.systemd.dbus}'s DS component {@code SystemdDbusManager} is this class with its
 * configuration; the root updater, tests and benchmarks use it as it is.
 */
public class DbusSystemdManager implements SystemdManager {
    private static final Logger LOG = LoggerFactory.getLogger(DbusSystemdManager.class);

    private final Bus bus;
    private final Bus.Jobs jobs = new Bus.Jobs();
    private final AtomicLong mutating = new AtomicLong();
    private final GroupCommit<SystemdException> reloads = new GroupCommit<>(
            () -> new SystemdException("", "", "interrupted while waiting for a daemon reload"));

    /** The first call connects. */
    public DbusSystemdManager(String address, Duration callTimeout) {
        if (callTimeout.isNegative() || callTimeout.isZero()) {
            throw new IllegalArgumentException("call.timeout.millis must be positive: " + callTimeout.toMillis());
        }
        this.bus = new Bus(address, callTimeout, jobs::ended);
        LOG.info("systemd at {} (call timeout {} ms)", address, callTimeout.toMillis());
    }

    /** Disconnects; a later call connects again. */
    public void close() {
        jobs.cancelAll();
        bus.close();
        LOG.info("Disconnected from systemd at {}", bus.address());
    }

    // ---- reads ------------------------------------------------------------------------------------

    @Override
    public String systemState() throws SystemdException {
        Map<String, Object> props = bus.getAll("", Bus.MANAGER_PATH, Bus.MANAGER);
        return String.valueOf(props.getOrDefault("SystemState", "unknown"));
    }

    @Override
    public UnitState unit(String name) throws SystemdException {
        // one GetAll over every interface of the unit's object (systemd loads the unit on access)
        Map<String, Object> u = bus.getAll(name, Bus.unitPath(name), "");
        Map<String, Object> t = u;
        OptionalLong pid = OptionalLong.empty();
        long mainPid = number(t, "MainPID");
        if (mainPid > 0) {
            pid = OptionalLong.of(mainPid);
        }
        // the Unit property is cached until the next reload; the manager method reads the disk
        String fileState;
        try {
            fileState = String.valueOf(bus.call(name, Bus.MANAGER_PATH, Bus.MANAGER, "GetUnitFileState", true, "s",
                    name)[0]);
        } catch (SystemdException e) {
            fileState = "";     // no unit file
        }
        Optional<Instant> next = instant(t, "NextElapseUSecRealtime");
        long nextMonotonic = number(t, "NextElapseUSecMonotonic");
        if (next.isEmpty() && nextMonotonic > 0 && nextMonotonic != Long.MAX_VALUE) {
            // a monotonic timer (OnActiveSec=, OnUnitActiveSec=, ...): CLOCK_MONOTONIC is System.nanoTime()
            long inMicros = nextMonotonic - System.nanoTime() / 1000;
            next = Optional.of(Instant.now().plus(Duration.ofNanos(Math.max(0, inMicros) * 1000)));
        }
        OptionalInt status = t.containsKey("ExecMainStatus") && number(t, "ExecMainCode") != 0
                ? OptionalInt.of((int) number(t, "ExecMainStatus")) : OptionalInt.empty();
        return new UnitState(name, text(u, "LoadState"), ActiveState.of(text(u, "ActiveState")), text(u, "SubState"),
                text(t, "Result"), fileState, Boolean.TRUE.equals(u.get("NeedDaemonReload")),
                text(u, "FragmentPath"), instant(u, "ActiveEnterTimestamp"), text(t, "Type"), pid, status,
                next, instant(t, "LastTriggerUSec"),
                name.endsWith(".timer") ? text(t, "Unit") : "", Math.max(0, number(t, "NRestarts")));
    }

    @Override
    public Optional<UnitState> loadedUnit(String name) throws SystemdException {
        try {
            bus.call(name, Bus.MANAGER_PATH, Bus.MANAGER, "GetUnit", true, "s", name);
        } catch (SystemdException e) {
            if (e.errorName().orElse("").equals("org.freedesktop.systemd1.NoSuchUnit")) {
                return Optional.empty();
            }
            throw e;
        }
        return Optional.of(unit(name));
    }

    @Override
    public LoadedUnit loaded(String name) throws SystemdException {
        // LoadUnit (not the object path) so that a unit never loaded, or cached as not-found, is read from disk
        String path = bus.loadUnit(name);
        Map<String, Object> p = bus.getAll(name, path, "");
        return loadedUnit(name, p);
    }

    /** {@link LoadedUnit} from the properties of all interfaces of a unit's object. */
    static LoadedUnit loadedUnit(String requested, Map<String, Object> p) {
        Map<String, List<LoadedUnit.ExecCommand>> exec = new LinkedHashMap<>();
        for (String property : LoadedUnit.EXEC_PROPERTIES) {
            exec.put(property, commands(p, property));
        }
        Map<String, List<String>> deps = new LinkedHashMap<>();
        for (String property : LoadedUnit.DEPENDENCY_PROPERTIES) {
            deps.put(property, Bus.strings(p.get(property)));
        }
        String id = text(p, "Id");
        List<String> loadCredentials = new ArrayList<>(firsts(p.get("LoadCredential")));
        loadCredentials.addAll(firsts(p.get("LoadCredentialEncrypted")));
        List<String> setCredentials = new ArrayList<>(firsts(p.get("SetCredential")));
        setCredentials.addAll(firsts(p.get("SetCredentialEncrypted")));
        return new LoadedUnit(id.isEmpty() ? requested : id, Bus.strings(p.get("Names")), text(p, "LoadState"),
                text(p, "FragmentPath"), Bus.strings(p.get("DropInPaths")),
                Boolean.TRUE.equals(p.get("NeedDaemonReload")), exec, Bus.strings(p.get("Environment")),
                firsts(p.get("EnvironmentFiles")), Bus.strings(p.get("PassEnvironment")),
                text(p, "WorkingDirectory"), text(p, "RootDirectory"), text(p, "RootImage"),
                binds(p.get("BindPaths")), binds(p.get("BindReadOnlyPaths")), Bus.strings(p.get("ExecSearchPath")),
                firsts(p.get("TemporaryFileSystem")), firsts(p.get("MountImages")), firsts(p.get("ExtensionImages")),
                Bus.strings(p.get("ExtensionDirectories")), loadCredentials, setCredentials, text(p, "User"),
                text(p, "Group"), Bus.strings(p.get("SupplementaryGroups")), Boolean.TRUE.equals(p.get("DynamicUser")),
                text(p, "PIDFile"), p.containsKey("ExecStart") ? text(p, "Type") : "", deps);
    }

    /**
     * {@code a(sasbttttuii)} commands; the prefixes come from the {@code …Ex} twin ({@code a(sasasttttuii)},
     * whose third member names the flags), since the plain property shows only {@code -} (as a boolean).
     */
    private static List<LoadedUnit.ExecCommand> commands(Map<String, Object> p, String property) {
        List<Object> plainList = Bus.members(p.get(property));
        List<Object> exList = Bus.members(p.get(property + "Ex"));
        List<LoadedUnit.ExecCommand> out = new ArrayList<>(plainList.size());
        boolean useEx = exList.size() == plainList.size();
        for (int i = 0; i < plainList.size(); i++) {
            List<Object> c = Bus.members(plainList.get(i));
            List<String> flags;
            if (useEx) {
                List<Object> x = Bus.members(exList.get(i));
                flags = x.size() > 2 ? Bus.strings(x.get(2)) : List.of();
            } else {
                flags = c.size() > 2 && Boolean.TRUE.equals(c.get(2)) ? List.of("ignore-failure") : List.of();
            }
            out.add(new LoadedUnit.ExecCommand(c.isEmpty() ? "" : String.valueOf(c.get(0)),
                    c.size() > 1 ? Bus.strings(c.get(1)) : List.of(), flags));
        }
        return out;
    }

    /** The first member of each struct of an array ({@code a(sb)}, {@code a(ss)}, {@code a(say)}, …). */
    private static List<String> firsts(Object array) {
        List<String> out = new ArrayList<>();
        for (Object entry : Bus.members(array)) {
            List<Object> m = Bus.members(entry);
            if (!m.isEmpty()) {
                out.add(String.valueOf(m.get(0)));
            }
        }
        return out;
    }

    private static List<LoadedUnit.BindPath> binds(Object array) {
        List<LoadedUnit.BindPath> out = new ArrayList<>();
        for (Object entry : Bus.members(array)) {
            List<Object> m = Bus.members(entry);
            if (m.size() >= 2) {
                out.add(new LoadedUnit.BindPath(String.valueOf(m.get(0)), String.valueOf(m.get(1))));
            }
        }
        return out;
    }

    @Override
    public List<UnitState> units(List<String> names) throws SystemdException {
        List<UnitState> out = new ArrayList<>(names.size());
        for (String n : names) {
            out.add(unit(n));
        }
        return out;
    }

    private static String text(Map<String, Object> props, String key) {
        Object v = props.get(key);
        return v == null ? "" : String.valueOf(v);
    }

    private static long number(Map<String, Object> props, String key) {
        return props.get(key) instanceof Long l ? l : 0;
    }

    /** A realtime µs timestamp; 0 and infinity mean "none". */
    private static Optional<Instant> instant(Map<String, Object> props, String key) {
        long us = number(props, key);
        if (us <= 0 || us == Long.MAX_VALUE) {
            return Optional.empty();
        }
        return Optional.of(Instant.ofEpochSecond(us / 1_000_000, (us % 1_000_000) * 1000));
    }

    // ---- mutations ----------------------------------------------------------------------------------

    /** Callers that ask while a reload runs share the next one (see {@link GroupCommit}). */
    @Override
    public void reload() throws SystemdException {
        reloads.run(() -> {
            mutating.incrementAndGet();
            bus.call("", Bus.MANAGER_PATH, Bus.MANAGER, "Reload", false, null);
            LOG.debug("systemd reloaded");
        });
    }

    @Override
    public JobResult start(String name, Duration timeout) throws SystemdException {
        return job("StartUnit", name, timeout);
    }

    @Override
    public JobResult stop(String name, Duration timeout) throws SystemdException {
        return job("StopUnit", name, timeout);
    }

    @Override
    public JobResult restart(String name, Duration timeout) throws SystemdException {
        return job("RestartUnit", name, timeout);
    }

    @Override
    public void resetFailed(String name) throws SystemdException {
        mutating.incrementAndGet();
        try {
            bus.call(name, Bus.MANAGER_PATH, Bus.MANAGER, "ResetFailedUnit", false, "s", name);
        } catch (SystemdException e) {
            if (!e.errorName().orElse("").equals("org.freedesktop.systemd1.NoSuchUnit")) {
                throw e;
            }
        }
    }

    /** Queues a job with the subscription in place, matches JobRemoved by path, then reads the unit. */
    private JobResult job(String method, String name, Duration timeout) throws SystemdException {
        mutating.incrementAndGet();
        jobs.watch(name);     // before the call: JobRemoved may overtake the reply
        String job = "";
        try {
            try {
                job = Bus.path(bus.call(name, Bus.MANAGER_PATH, Bus.MANAGER, method, false, "ss", name, "replace")[0]);
            } catch (SystemdException e) {
                if (method.equals("StopUnit") && e.errorName().orElse("").equals("org.freedesktop.systemd1.NoSuchUnit")) {
                    return new JobResult(name, "", JobOutcome.NONE, unit(name));
                }
                throw e;
            }
            CompletableFuture<String> end = jobs.future(job);
            String result;
            try {
                result = end.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                throw new SystemdException(name, "", true, method + " " + name + ": job " + job
                        + " did not finish within " + timeout.toSeconds() + "s", e);
            } catch (ExecutionException e) {
                throw new SystemdException(name, "", false, method + " " + name + ": " + e.getCause().getMessage(),
                        e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SystemdException(name, "", false, method + " " + name + " was interrupted", e);
            }
            return new JobResult(name, job, JobOutcome.of(result), unit(name));
        } finally {
            jobs.unwatch(name);
            if (!job.isEmpty()) {
                jobs.forget(job);
            }
        }
    }

    @Override
    public CallStatistics statistics() {
        return new CallStatistics(bus.calls(), mutating.get(), bus.reconnects());
    }
}
