package io.steward.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.delivery.Activation;
import io.steward.delivery.AddonManifest;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.privileged.PrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionDispatcher;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;

/**
 * The {@code sidecar} kind in a real Felix with core and the file source: three sidecars assigned through
 * the watched file become ready through sd_notify (a junixsocket datagram socket inside Felix), then the kind
 * bundle is updated, stopped and started while they run: they are adopted, never restarted (same pids), and
 * no {@code sidecar-} thread outlives a stop. Also: the in-process privileged operations of a root agent.
 * <p>
 * The artifact side is a fake {@link ArtifactStager} registered by the test (the delivery bundle is not part
 * of the common platform yet): it writes a bash add-on into {@code versions/<version>} and swaps
 * {@code current}. The add-ons send READY=1 with {@code /usr/bin/systemd-notify}.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class SidecarIT extends PlatformTestSupport {
    static final String SIDECAR_BUNDLE = "io.steward.supervision.sidecar";
    static final String JUNIXSOCKET_BUNDLE = "io.steward.lib.junixsocket";
    static final String PRIVILEGED_BUNDLE = "io.steward.privileged.local";
    private static final List<String> IDS = List.of("alpha", "bravo", "charlie");
    private static final String FAKE = "steward.test.fake";

    /** The three bundles of issue 4 next to the common platform (from failsafe properties, or the reactor layout). */
    @Configuration
    @Override
    public Option[] config() throws IOException {
        List<Option> options = new ArrayList<>(List.of(super.config()));
        options.add(bundle(jar("bundle.lib.junixsocket", "lib-junixsocket", JUNIXSOCKET_BUNDLE).toURI().toString()));
        options.add(bundle(jar("bundle.sidecar", "sidecar", SIDECAR_BUNDLE).toURI().toString()));
        options.add(bundle(jar("bundle.privileged.local", "privileged-local", PRIVILEGED_BUNDLE).toURI().toString()));
        return options.toArray(new Option[0]);
    }

    private static File jar(String property, String directory, String artifactId) {
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

    // ---------------------------------------------------------------- the fake stager

    /** Stages a bash add-on per version that reports READY=1 and reloads on SIGHUP. */
    static final class ScriptStager implements ArtifactStager {
        final AtomicInteger stages = new AtomicInteger();
        final AtomicInteger removes = new AtomicInteger();
        private final HostLayout layout;

        ScriptStager(HostLayout layout) {
            this.layout = layout;
        }

        @Override
        public StagedArtifact stage(AddonRecord addon) {
            stages.incrementAndGet();
            String version = addon.assignment().version();
            Path dir = addon.home().resolve("versions").resolve(version);
            try {
                Files.createDirectories(dir);
                Path script = dir.resolve("run.sh");
                Files.writeString(script, String.join("\n", "#!/bin/bash",
                        "notify() { /usr/bin/systemd-notify --no-block \"$@\"; }",
                        "echo $$ >> \"$STEWARD_ADDON_STATE/pids\"",
                        "reload() { notify --status=\"reloaded $(tr -d ' \\n' < \"$STEWARD_ADDON_CONFIG\")\"; }",
                        "trap reload HUP",
                        "trap 'exit 0' TERM",
                        "notify --ready --status=\"serving " + version + "\"",
                        "while true; do sleep 0.2 & wait $!; done", ""), StandardCharsets.UTF_8);
                Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new StagedArtifact(dir, new AddonManifest(addon.id().value(), version, "sidecar", "run.sh",
                    List.of(), List.of(), Optional.empty(), Map.of("notify", "true")), "0".repeat(64));
        }

        @Override
        public Activation activate(AddonRecord addon, StagedArtifact staged) {
            Path current = addon.current();
            Optional<Path> previous = target(current);
            point(current, staged.directory());
            return new Activation() {
                @Override
                public StagedArtifact staged() {
                    return staged;
                }

                @Override
                public Optional<Path> previous() {
                    return previous;
                }

                @Override
                public void rollback() {
                    if (previous.isPresent()) {
                        point(current, previous.get());
                    } else {
                        delete(current);
                    }
                }

                @Override
                public void commit() {
                }
            };
        }

        @Override
        public Optional<StagedArtifact> current(AddonId id) {
            return Optional.empty();
        }

        @Override
        public void remove(AddonId id) {
            removes.incrementAndGet();
            Path versions = layout.addonHome(id).resolve("versions");
            delete(layout.addonHome(id).resolve("current"));
            if (Files.exists(versions)) {
                try (Stream<Path> all = Files.walk(versions)) {
                    all.sorted(Comparator.reverseOrder()).forEach(ScriptStager::delete);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }

        private static Optional<Path> target(Path link) {
            try {
                return Files.isSymbolicLink(link)
                        ? Optional.of(link.resolveSibling(Files.readSymbolicLink(link)).normalize()) : Optional.empty();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static void point(Path link, Path dir) {
            try {
                Path tmp = link.resolveSibling("current.tmp");
                Files.deleteIfExists(tmp);
                Files.createSymbolicLink(tmp, link.getParent().relativize(dir));
                Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static void delete(Path p) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    // ---------------------------------------------------------------- fixtures

    private ScriptStager stager;

    @Before
    public void setUp() throws Exception {
        configureFastPolling();
        stager = fakeStager();
        // a test that failed halfway may have left the kind bundle stopped
        Bundle kind = installedBundle(SIDECAR_BUNDLE);
        if (kind.getState() != Bundle.ACTIVE) {
            kind.start();
        }
    }

    /** Sidecars outlive their dispatcher by design: a test that failed halfway must not leave them running. */
    @After
    public void killLeftovers() throws Exception {
        for (String id : IDS) {
            Path pids = home(id).resolve("state/pids");
            if (Files.exists(pids)) {
                for (String line : Files.readAllLines(pids)) {
                    if (!line.isBlank() && alive(Long.parseLong(line.trim()))) {
                        ProcessBuilder kill = new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + line.trim());
                        kill.environment().clear();
                        kill.start().waitFor(10, TimeUnit.SECONDS);
                    }
                }
            }
        }
    }

    /** The probe's fake stager: registered once per framework, found again by later test methods. */
    private ScriptStager fakeStager() throws Exception {
        Collection<ServiceReference<ArtifactStager>> refs =
                context.getServiceReferences(ArtifactStager.class, "(" + FAKE + "=sidecar)");
        if (!refs.isEmpty()) {
            return (ScriptStager) context.getService(refs.iterator().next());
        }
        ScriptStager s = new ScriptStager(HostLayout.from(context::getProperty));
        Hashtable<String, Object> properties = new Hashtable<>();
        properties.put(FAKE, "sidecar");
        properties.put(Constants.SERVICE_RANKING, 1000);
        context.registerService(ArtifactStager.class, s, properties);
        return s;
    }

    private static String sidecar(String id, String config) {
        return "{\"id\":\"" + id + "\",\"version\":\"1.0.0\",\"enabled\":true,\"supervision\":\"sidecar\","
                + "\"delivery\":\"pushed_artifact\",\"artifact\":{\"url\":\"file:///srv/addons/" + id
                + "-1.0.0.tar.gz\",\"sha256\":\"" + "ab".repeat(32) + "\"},\"config\":" + config + "}";
    }

    private void assignThree(String alphaConfig) throws IOException {
        writeAssignments(Assignments.document(Assignments.nextRevision("sidecars"), sidecar("alpha", alphaConfig),
                sidecar("bravo", "{}"), sidecar("charlie", "{}")));
    }

    private Path home(String id) {
        return dataDir().resolve("addons").resolve(id);
    }

    /** The pid recorded in the sidecar kind's durable state. */
    private long recordedPid(String id) throws IOException {
        JsonObject state = JsonParser.parseString(Files.readString(dataDir().resolve("state/sidecar/" + id + ".json")))
                .getAsJsonObject();
        return state.get("pid").getAsLong();
    }

    /** Every pid each add-on ever ran as (the add-on appends its pid when it starts). */
    private Map<String, List<String>> startedPids() throws IOException {
        Map<String, List<String>> pids = new TreeMap<>();
        for (String id : IDS) {
            pids.put(id, Files.readAllLines(home(id).resolve("state/pids")));
        }
        return pids;
    }

    private static boolean alive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X';
        } catch (IOException e) {
            return false;
        }
    }

    private static List<String> sidecarThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("sidecar-")).map(Thread::getName).sorted().toList();
    }

    private SupervisionDispatcher sidecarDispatcher() throws Exception {
        List<SupervisionDispatcher> found = new ArrayList<>();
        await("a sidecar dispatcher is registered", () -> {
            Collection<ServiceReference<SupervisionDispatcher>> refs =
                    context.getServiceReferences(SupervisionDispatcher.class, "(supervision.kind=sidecar)");
            if (refs.isEmpty()) {
                return false;
            }
            found.clear();
            found.add(context.getService(refs.iterator().next()));
            return found.get(0) != null;
        });
        return found.get(0);
    }

    // ---------------------------------------------------------------- tests

    @Test
    public void threeSidecarsAreAdoptedNotRestartedAcrossUpdateStopAndStartOfTheKindBundle() throws Exception {
        assignThree("{}");
        for (String id : IDS) {
            awaitState(id, SupervisionState.READY);
        }
        reconcileNow();
        Map<String, List<String>> before = startedPids();
        for (String id : IDS) {
            assertEquals(id + " started once: " + before, 1, before.get(id).size());
            long pid = recordedPid(id);
            assertEquals(String.valueOf(pid), before.get(id).get(0));
            assertTrue(id + " runs", alive(pid));
            SupervisionStatus s = supervision().status(new AddonId(id)).orElseThrow();
            assertEquals("sidecar", s.kind());
            assertEquals(Optional.of("1.0.0"), s.activeVersion());
            assertTrue(s.detail(), s.detail().contains("pid " + pid));
        }
        assertTrue("READY=1 arrived over the junixsocket datagram socket: " + sidecarDispatcher().status(new AddonId("alpha")),
                sidecarDispatcher().status(new AddonId("alpha")).detail().contains("serving 1.0.0"));
        assertEquals("one supervisor and one notify thread: " + sidecarThreads(), 2, sidecarThreads().size());
        Bundle kind = installedBundle(SIDECAR_BUNDLE);

        // update: detach, then the new bundle's dispatcher adopts
        long lastModified = kind.getLastModified();
        kind.update();
        await("the updated sidecar bundle is ACTIVE", () -> kind.getState() == Bundle.ACTIVE);
        await("the sidecar kind is back", () -> supervision().kinds().stream().anyMatch(k -> k.kind().equals("sidecar")));
        reconcileNow();
        for (String id : IDS) {
            awaitState(id, SupervisionState.READY);
        }
        assertTrue("the bundle was really updated", kind.getLastModified() >= lastModified);
        assertEquals("no sidecar was restarted by the update", before, startedPids());
        for (String id : IDS) {
            assertTrue(id + " still runs", alive(recordedPid(id)));
        }
        await("the old dispatcher's threads are gone: " + sidecarThreads(), () -> sidecarThreads().size() == 2);

        // the adopted add-ons are really supervised: their notify sockets are bound again
        assignThree("{\"greeting\":\"hi\"}");
        await("alpha reloaded its config and said so over sd_notify", () -> sidecarDispatcher()
                .status(new AddonId("alpha")).detail().contains("reloaded {\"greeting\":\"hi\"}"));
        assertEquals("a config change reloads in place", before, startedPids());

        // stop: detached, still running, no thread left behind
        kind.stop();
        try {
            for (String id : IDS) {
                awaitState(id, SupervisionState.DETACHED);
            }
            await("no sidecar- thread survives the stop: " + sidecarThreads(), () -> sidecarThreads().isEmpty());
            for (String id : IDS) {
                assertTrue(id + " keeps running while its kind is away", alive(recordedPid(id)));
            }
            assertTrue("SupervisionService keeps answering", supervision().statuses().size() >= 3);
        } finally {
            kind.start();
        }
        for (String id : IDS) {
            awaitState(id, SupervisionState.READY);
        }
        assertEquals("no sidecar was restarted by stop and start", before, startedPids());
        assertEquals("only the first installs staged; adoption and the config change staged nothing", 3,
                stager.stages.get());

        // removal stops them
        writeAssignments(Assignments.document(Assignments.nextRevision("none")));
        List<Long> pids = new ArrayList<>();
        for (String id : IDS) {
            pids.add(Long.parseLong(before.get(id).get(0)));
            awaitRemovedOrGone(id);
        }
        for (long pid : pids) {
            await("pid " + pid + " is stopped", () -> !alive(pid));
        }
        assertEquals(3, stager.removes.get());
    }

    @Test
    public void aRootAgentHasInProcessPrivilegedOperations() throws Exception {
        List<PrivilegedOperations> found = new ArrayList<>();
        await("PrivilegedOperations is registered (the itests run as root)", () -> {
            ServiceReference<PrivilegedOperations> ref = context.getServiceReference(PrivilegedOperations.class);
            if (ref == null) {
                return false;
            }
            assertEquals(PRIVILEGED_BUNDLE, ref.getBundle().getSymbolicName());
            found.add(context.getService(ref));
            return true;
        });
        Path staged = Files.createDirectories(dataDir().resolve("addons/capper/versions/1.0.0"));
        Files.copy(Path.of("/bin/true"), staged.resolve("capper"), StandardCopyOption.REPLACE_EXISTING);
        Path program = found.get(0).grantCapabilities(new AddonId("capper"), new StagedArtifact(staged,
                new AddonManifest("capper", "1.0.0", "sidecar", "capper", List.of(), List.of(), Optional.empty(),
                        Map.of()), "0".repeat(64)), "capper", List.of("cap_net_bind_service"));
        ProcessBuilder pb = new ProcessBuilder("/usr/sbin/getcap", program.toString()).redirectErrorStream(true);
        pb.environment().clear();
        Process getcap = pb.start();
        String shown = new String(getcap.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(getcap.waitFor(10, TimeUnit.SECONDS));
        assertTrue(shown, shown.endsWith("cap_net_bind_service=ep"));
        assertNotNull(program);
        assertFalse(Files.isSymbolicLink(program));
    }
}
