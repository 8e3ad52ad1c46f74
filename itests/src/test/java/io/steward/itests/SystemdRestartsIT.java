package io.steward.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;

import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.UnitState;
import io.steward.systemd.testing.SystemdSandbox;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.ServiceReference;

/**
 * systemd's own restarts in the metrics: a signed {@code systemd_service} add-on with {@code Restart=always} runs
 * in the sandbox's real systemd, its main process is killed (SIGKILL through systemd's {@code KillUnit}, as
 * {@code systemctl kill} does), systemd restarts it and counts {@code NRestarts}; the add-on's status carries the
 * count and the scraped {@code steward_addon_restarts_total} series of the add-on shows it.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class SystemdRestartsIT extends PlatformTestSupport {
    /** Framework property: the add-on id of this run (the sandbox's unit directory is shared). */
    private static final String ID_PROPERTY = "test.restarts.id";
    private static final String PREPARED = "restarts-prepared.json";
    private static final Duration CONVERGE = Duration.ofSeconds(60);

    // driver only (no field of a type the probe bundle lacks, such as SystemdSandbox)
    private Path sandboxUnits;
    private Path sandboxDirectory;
    private String id;

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
        sandboxUnits = sandbox.unitDir();
        sandboxDirectory = sandbox.newDirectory("restarts-");
        id = "rs" + UUID.randomUUID().toString().substring(0, 6);
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        List<Option> options = new ArrayList<>(List.of(super.config()));
        options.add(frameworkProperty("steward.systemd.bus").value(sandbox.address()));
        options.add(frameworkProperty("steward.metrics.port").value(Integer.toString(port)));
        options.add(frameworkProperty(ID_PROPERTY).value(id));
        options.addAll(deliveryBundles());
        for (File jar : List.of(
                reactorBundle("bundle.lib.dbus.java", "lib-dbus-java", "io.steward.lib.dbus-java"),
                reactorBundle("bundle.systemd.dbus", "systemd-dbus", "io.steward.systemd.dbus"),
                reactorBundle("bundle.lib.junixsocket", "lib-junixsocket", "io.steward.lib.junixsocket"),
                reactorBundle("bundle.systemd.service", "systemd-service", "io.steward.supervision.systemd.service"),
                reactorBundle("bundle.lib.prometheus", "lib-prometheus", "io.steward.lib.prometheus"),
                reactorBundle("bundle.metrics", "metrics", "io.steward.metrics"))) {
            options.add(bundle(jar.toURI().toString()));
        }
        return options.toArray(new Option[0]);
    }

    @Override
    protected Path unitDir(Path root) {
        return sandboxUnits;
    }

    /** Under the sandbox's scratch directory: the sandboxed systemd runs the unit's program from there. */
    @Override
    protected Path privilegedRoot(Path root) throws IOException {
        return Files.createDirectories(sandboxDirectory.resolve("privileged"));
    }

    /** Signs the artifact and writes its document next to the watched file: the test moves it into place. */
    @Override
    protected void beforeBoot(Path data, Path etc) throws IOException {
        SignedArtifacts signer = new SignedArtifacts("restarts");
        signer.trust(etc.resolve("trust"));
        String service = "steward-" + id + ".service";
        String artifact = signer.pack(id, "1.0.0", Map.of(
                "addon.json", "{\"id\":\"" + id + "\",\"version\":\"1.0.0\",\"supervision\":\"systemd_service\","
                        + "\"binary\":\"run.sh\",\"units\":[\"" + service + "\"]}",
                "run.sh", "#!/bin/sh\nexec sleep infinity\n",
                service, "[Unit]\nDescription=restarts test " + id + "\n[Service]\nExecStart=@ADDON_HOME@/run.sh\n"
                        + "Restart=always\nRestartSec=1\n[Install]\nWantedBy=multi-user.target\n"),
                data.getParent().resolve("artifacts").resolve(id + "-1.0.0.tar.gz"));
        Files.writeString(etc.resolve(PREPARED), Assignments.document("restarts-1", "{\"id\":\"" + id
                + "\",\"version\":\"1.0.0\",\"supervision\":\"systemd_service\",\"delivery\":\"pushed_artifact\","
                + "\"artifact\":" + artifact + "}"), StandardCharsets.UTF_8);
    }

    private String id() {
        return Objects.requireNonNull(context.getProperty(ID_PROPERTY), ID_PROPERTY);
    }

    private String unit() {
        return "steward-" + id() + ".service";
    }

    private String series() {
        return "steward_addon_restarts_total{addon=\"" + id() + "\"}";
    }

    @Test
    public void aKilledServiceThatSystemdRestartsCountsInTheAddonsRestartsSeries() throws Exception {
        writeAssignments(Files.readString(assignmentFile().resolveSibling(PREPARED), StandardCharsets.UTF_8));
        awaitState(CONVERGE, id(), SupervisionState.READY);
        UnitState before = systemd().unit(unit());
        assertTrue(before.describe(), before.active() && before.mainPid().isPresent());
        assertEquals("NRestarts before the kill", 0, before.restarts());
        await("the series of " + id() + " is 0", () -> Scrape.value(Scrape.metrics(context, "text/plain"),
                series()) == 0.0);

        killMainProcess();
        await("systemd restarted " + unit() + " (NRestarts >= 1, a new main pid)", CONVERGE, () -> {
            UnitState u = systemd().unit(unit());
            return u.restarts() >= 1 && u.active() && u.mainPid().isPresent()
                    && u.mainPid().getAsLong() != before.mainPid().getAsLong();
        });
        long restarts = systemd().unit(unit()).restarts();
        await("the status of " + id() + " carries NRestarts " + restarts + " after a pass", DEADLINE, () -> {
            reconcileNow();
            SupervisionStatus s = supervision().status(new AddonId(id())).orElseThrow();
            return s.restarts() >= restarts && s.state() == SupervisionState.READY;
        }, this::describeStatuses);
        String text = Scrape.metrics(context, "text/plain");
        assertTrue(text, Scrape.value(text, series()) >= restarts);
    }

    /** SIGKILL to the unit's main process, the way {@code systemctl kill -s KILL --kill-whom=main} sends it. */
    private void killMainProcess() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("/usr/bin/busctl", "--address=" + context.getProperty("steward.systemd.bus"),
                "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                "KillUnit", "ssi", unit(), "main", "9").redirectErrorStream(true).start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue("busctl did not finish", p.waitFor(30, TimeUnit.SECONDS));
        assertEquals("busctl KillUnit: " + out, 0, p.exitValue());
    }

    private SystemdManager systemd() {
        AtomicReference<ServiceReference<SystemdManager>> ref = new AtomicReference<>();
        await("SystemdManager is registered", () -> {
            ref.set(context.getServiceReference(SystemdManager.class));
            return ref.get() != null;
        });
        return Objects.requireNonNull(context.getService(ref.get()), "SystemdManager went away");
    }

    /** The unit goes with the add-on: nothing is left in the shared sandbox. */
    @After
    public void cleanUp() throws Exception {
        writeAssignments(Assignments.document(Assignments.nextRevision("restarts-none")));
        awaitRemovedOrGone(id());
        assertTrue(unit() + " is left", !Files.exists(Path.of(context.getProperty("steward.unit.dir"), unit())));
    }
}
