package io.steward.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;

import io.steward.privileged.UnitInstaller;
import io.steward.systemd.ActiveState;
import io.steward.systemd.JobOutcome;
import io.steward.systemd.JobResult;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.testing.SystemdSandbox;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.wiring.FrameworkWiring;

/**
 * The systemd-dbus bundle (and the dbus-java wrapper) started, stopped and refreshed inside a real Felix,
 * talking to a real systemd: the sandbox CI started, or one this class starts (root).
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class SystemdDbusIT extends PlatformTestSupport {
    private static final String BUS = "steward.systemd.bus";
    private static final String UNITS = "steward.test.systemd.unitdir";
    private static final String SYMBOLIC_NAME = "io.steward.systemd.dbus";

    @Configuration
    @Override
    public Option[] config() throws IOException {
        SystemdSandbox sandbox;
        try {
            sandbox = SystemdSandbox.shared();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        List<Option> options = new ArrayList<>(List.of(super.config()));
        options.add(frameworkProperty(BUS).value(sandbox.address()));
        options.add(frameworkProperty(UNITS).value(sandbox.unitDir().toString()));
        for (String property : List.of("bundle.lib.dbus.java", "bundle.systemd.dbus")) {
            String jar = Objects.requireNonNull(System.getProperty(property), property);
            options.add(bundle(new File(jar).toURI().toString()));
        }
        return options.toArray(new Option[0]);
    }

    private SystemdManager systemd() {
        ServiceReference<SystemdManager>[] holder = new ServiceReference[1];
        await("systemd-dbus registers SystemdManager", () -> {
            holder[0] = context.getServiceReference(SystemdManager.class);
            return holder[0] != null;
        });
        return Objects.requireNonNull(context.getService(holder[0]));
    }

    private static long dbusThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().contains("DBus")).count();
    }

    @Test
    public void startsAUnitThroughTheBundleAndSurvivesARefresh() throws Exception {
        Bundle bundle = installedBundle(SYMBOLIC_NAME);
        assertEquals(Bundle.ACTIVE, bundle.getState());
        assertNotNull("the in-process installer is registered (root)", context.getServiceReference(UnitInstaller.class));
        SystemdManager systemd = systemd();
        assertTrue(List.of("running", "degraded").contains(systemd.systemState()));

        String unit = "steward-it" + UUID.randomUUID().toString().substring(0, 6) + ".service";
        Path file = Path.of(context.getProperty(UNITS)).resolve(unit);
        Files.writeString(file, "[Service]\nExecStart=/bin/sleep 600\n");
        try {
            JobResult started = systemd.start(unit, Duration.ofSeconds(30));
            assertEquals(JobOutcome.DONE, started.outcome());
            assertEquals(ActiveState.ACTIVE, started.after().activeState());

            // stop: the service goes, and so does every dbus-java thread of the bundle
            bundle.stop();
            await("SystemdManager is unregistered", () -> context.getServiceReference(SystemdManager.class) == null);
            await("no dbus-java thread survives the stop (" + dbusThreads() + " left)", () -> dbusThreads() == 0);
            bundle.start();

            // refresh (update + rewire): a new connection, and the unit kept running meanwhile
            CountDownLatch refreshed = new CountDownLatch(1);
            bundle.update();
            context.getBundle(0).adapt(FrameworkWiring.class).refreshBundles(List.of(bundle),
                    event -> refreshed.countDown());
            assertTrue(refreshed.await(30, TimeUnit.SECONDS));
            SystemdManager again = systemd();
            assertEquals(ActiveState.ACTIVE, again.unit(unit).activeState());
            assertEquals(started.after().activeEnterTimestamp(), again.unit(unit).activeEnterTimestamp());
            assertEquals(JobOutcome.DONE, again.stop(unit, Duration.ofSeconds(30)).outcome());
            assertEquals(0, again.statistics().reconnects());
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
