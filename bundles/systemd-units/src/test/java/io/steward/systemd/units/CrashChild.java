package io.steward.systemd.units;

import io.steward.systemd.CallStatistics;
import io.steward.systemd.JobResult;
import io.steward.systemd.SystemdException;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.UnitState;
import io.steward.systemd.bus.DbusSystemdManager;
import io.steward.systemd.units.testing.Fixture;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The agent that dies: applies one version and, when the installer has written and enabled the units and
 * asks systemd to start the primary, prints {@value #MARKER} and waits to be killed (-9) by the test.
 * Args: bus repo data privileged unitDir id kind version.
 */
public final class CrashChild {
    static final String MARKER = "STEWARD-CRASH-POINT";

    private CrashChild() {
    }

    public static void main(String[] args) throws Exception {
        DbusSystemdManager real = new DbusSystemdManager(args[0], Duration.ofSeconds(10));
        SystemdManager pausing = new SystemdManager() {
            private void pause() {
                System.out.println(MARKER);
                System.out.flush();
                Object forever = new Object();
                synchronized (forever) {
                    while (true) {
                        try {
                            forever.wait();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            return;
                        }
                    }
                }
            }

            @Override public String systemState() throws SystemdException { return real.systemState(); }
            @Override public UnitState unit(String name) throws SystemdException { return real.unit(name); }
            @Override public java.util.Optional<UnitState> loadedUnit(String name) throws SystemdException { return real.loadedUnit(name); }
            @Override public List<UnitState> units(List<String> names) throws SystemdException { return real.units(names); }
            @Override public void reload() throws SystemdException { real.reload(); }
            @Override public io.steward.systemd.LoadedUnit loaded(String name) throws SystemdException { return real.loaded(name); }
            @Override public JobResult start(String name, Duration t) throws SystemdException { pause(); return real.start(name, t); }
            @Override public JobResult stop(String name, Duration t) throws SystemdException { return real.stop(name, t); }
            @Override public JobResult restart(String name, Duration t) throws SystemdException { pause(); return real.restart(name, t); }
            @Override public void resetFailed(String name) throws SystemdException { real.resetFailed(name); }
            @Override public CallStatistics statistics() { return real.statistics(); }
        };
        Fixture f = new Fixture(Path.of(args[1]), Path.of(args[2]), Path.of(args[3]), Path.of(args[4]), pausing);
        f.supervisor(args[6]).apply(f.record(args[5], args[6], args[7]));
        System.out.println("finished without pausing");
        System.exit(3);
    }
}
