package io.steward.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.delivery.AddonManifest;
import io.steward.delivery.StagedArtifact;
import io.steward.privileged.PrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.SupervisionDispatcher;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
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
import org.osgi.framework.ServiceReference;

/**
 * The {@code sidecar} kind in a real Felix with core and the file source: three sidecars assigned through
 * the watched file become ready through sd_notify (a junixsocket datagram socket inside Felix), then the kind
 * bundle is updated, stopped and started while they run: they are adopted, never restarted (same pids), and
 * no {@code sidecar-} thread outlives a stop. Also: the in-process privileged operations of a root agent.
 * <p>
 * The add-ons are real signed artifacts (made by the driver with the JDK's Ed25519, the key in the trust
 * store) staged by the real delivery bundle: a bash program that sends READY=1 with
 * {@code /usr/bin/systemd-notify} and reports its config on SIGHUP.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class SidecarIT extends PlatformTestSupport {
    static final String SIDECAR_BUNDLE = "io.steward.supervision.sidecar";
    static final String JUNIXSOCKET_BUNDLE = "io.steward.lib.junixsocket";
    static final String PRIVILEGED_BUNDLE = "io.steward.privileged.local";
    private static final List<String> IDS = List.of("alpha", "bravo", "charlie");
    /** A sidecar that holds back READY=1 until {@code $STEWARD_ADDON_STATE/go} exists. */
    private static final String GATED = "delta";

    /** Where the driver leaves the signed artifacts' assignment fields for the probe: id → artifact object. */
    private static final String ARTIFACTS = "sidecar-artifacts.json";

    /** The kind, delivery and privileged bundles next to the common platform. */
    @Configuration
    @Override
    public Option[] config() throws IOException {
        List<Option> options = new ArrayList<>(List.of(super.config()));
        options.addAll(deliveryBundles());
        for (File jar : List.of(reactorBundle("bundle.lib.junixsocket", "lib-junixsocket", JUNIXSOCKET_BUNDLE),
                reactorBundle("bundle.sidecar", "sidecar", SIDECAR_BUNDLE),
                reactorBundle("bundle.privileged.local", "privileged-local", PRIVILEGED_BUNDLE))) {
            options.add(bundle(jar.toURI().toString()));
        }
        return options.toArray(new Option[0]);
    }

    /** Driver: signs one artifact per add-on, trusts the key, and leaves the artifact objects in etc. */
    @Override
    protected void beforeBoot(Path data, Path etc) throws IOException {
        SignedArtifacts signer = new SignedArtifacts("sidecar-it");
        signer.trust(etc.resolve("trust"));
        JsonObject artifacts = new JsonObject();
        String program = String.join("\n", "#!/bin/bash",
                "notify() { /usr/bin/systemd-notify --no-block \"$@\"; }",
                "echo $$ >> \"$STEWARD_ADDON_STATE/pids\"",
                "reload() { notify --status=\"reloaded $(tr -d ' \\n' < \"$STEWARD_ADDON_CONFIG\")\"; }",
                "trap reload HUP",
                "trap 'exit 0' TERM",
                "notify --ready --status=\"serving 1.0.0\"",
                "while true; do sleep 0.2 & wait $!; done", "");
        for (String id : IDS) {
            String manifest = "{\"id\":\"" + id + "\",\"version\":\"1.0.0\",\"supervision\":\"sidecar\","
                    + "\"binary\":\"run.sh\",\"notify\":true}";
            artifacts.add(id, JsonParser.parseString(signer.pack(id, "1.0.0", Map.of("addon.json", manifest,
                    "run.sh", program), data.getParent().resolve("artifacts").resolve(id + "-1.0.0.tar.gz"))));
        }
        String gated = String.join("\n", "#!/bin/bash",
                "echo $$ >> \"$STEWARD_ADDON_STATE/pids\"",
                "trap 'exit 0' TERM",
                "while [ ! -e \"$STEWARD_ADDON_STATE/go\" ]; do sleep 0.05 & wait $!; done",
                "/usr/bin/systemd-notify --no-block --ready --status=\"let go\"",
                "while true; do sleep 0.2 & wait $!; done", "");
        String manifest = "{\"id\":\"" + GATED + "\",\"version\":\"1.0.0\",\"supervision\":\"sidecar\","
                + "\"binary\":\"run.sh\",\"notify\":true,\"start_timeout_seconds\":120}";
        artifacts.add(GATED, JsonParser.parseString(signer.pack(GATED, "1.0.0", Map.of("addon.json", manifest,
                "run.sh", gated), data.getParent().resolve("artifacts").resolve(GATED + "-1.0.0.tar.gz"))));
        Files.writeString(etc.resolve(ARTIFACTS), artifacts.toString(), StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- fixtures

    @Before
    public void setUp() throws Exception {
        configureFastPolling();
        // a test that failed halfway may have left the kind bundle stopped
        Bundle kind = installedBundle(SIDECAR_BUNDLE);
        if (kind.getState() != Bundle.ACTIVE) {
            kind.start();
        }
    }

    /** Sidecars outlive their dispatcher by design: a test that failed halfway must not leave them running. */
    @After
    public void killLeftovers() throws Exception {
        for (String id : concat(IDS, GATED)) {
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

    private static List<String> concat(List<String> ids, String more) {
        List<String> all = new ArrayList<>(ids);
        all.add(more);
        return all;
    }

    private List<Long> pids(String id) throws IOException {
        Path file = home(id).resolve("state/pids");
        return Files.exists(file) ? Files.readAllLines(file).stream().filter(l -> !l.isBlank()).map(Long::parseLong).toList()
                : List.of();
    }

    private JsonObject artifact(String id) throws IOException {
        return JsonParser.parseString(Files.readString(assignmentFile().resolveSibling(ARTIFACTS))).getAsJsonObject()
                .getAsJsonObject(id);
    }

    private String sidecar(String id, String config) throws IOException {
        return "{\"id\":\"" + id + "\",\"version\":\"1.0.0\",\"enabled\":true,\"supervision\":\"sidecar\","
                + "\"delivery\":\"pushed_artifact\",\"artifact\":" + artifact(id) + ",\"config\":" + config + "}";
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
        // nothing may fetch again from here on: adoption and a config change use what is staged
        for (String id : IDS) {
            Files.delete(Path.of(java.net.URI.create(artifact(id).get("url").getAsString())));
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
        for (String id : IDS) {
            try (Stream<Path> versions = Files.list(home(id).resolve("versions"))) {
                assertEquals(id + ": one version staged, nothing fetched again (the artifacts are gone)",
                        List.of("1.0.0"), versions.map(v -> v.getFileName().toString()).toList());
            }
        }

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
        for (String id : IDS) {
            assertFalse(id + ": current is removed with the add-on", Files.exists(home(id).resolve("current"),
                    java.nio.file.LinkOption.NOFOLLOW_LINKS));
        }
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
                new AddonManifest("capper", "1.0.0", "sidecar", "capper", List.of(), List.of("cap_net_bind_service"), Optional.empty(),
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

    /**
     * Issue 15 §0: the kind bundle stops while a sidecar it has just spawned waits to become ready. The add-on
     * is detached (not failed, no backoff), the process keeps running, and the next dispatcher takes it over
     * mid-start: one process, the same pid, readiness continued, and supervised again (killed, it is restarted
     * once).
     */
    @Test
    public void aSidecarStillStartingWhenItsKindStopsIsAdoptedByTheNextDispatcherNotStartedTwice() throws Exception {
        writeAssignments(Assignments.document(Assignments.nextRevision("gated"), sidecar(GATED, "{}")));
        AddonId id = new AddonId(GATED);
        await("delta was spawned and is starting", () -> pids(GATED).size() == 1
                && sidecarDispatcher().status(id).state() == SupervisionState.STARTING);
        long pid = pids(GATED).get(0);
        Bundle kind = installedBundle(SIDECAR_BUNDLE);
        kind.stop();
        try {
            awaitState(GATED, SupervisionState.DETACHED);
            await("the interrupted install is audited as such", () -> auditLines(GATED,
                    a -> a.equals("install-interrupted")).size() == 1);
            assertEquals("not a failure: no backoff", List.of(), auditLines(GATED, a -> a.endsWith("-failed")));
            assertTrue("it keeps running while its kind is away", alive(pid));
        } finally {
            kind.start();
        }
        await("the next dispatcher took pid " + pid + " over, still starting", () -> sidecarDispatcher().status(id)
                .detail().contains("starting as pid " + pid));
        Files.writeString(home(GATED).resolve("state/go"), "");
        awaitState(GATED, SupervisionState.READY);
        assertTrue(supervision().status(id).orElseThrow().detail(),
                supervision().status(id).orElseThrow().detail().contains("pid " + pid));
        assertEquals("one process, never a second copy", List.of(pid), pids(GATED));
        assertEquals(pid, recordedPid(GATED));

        new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + pid).start().waitFor(10, TimeUnit.SECONDS);
        await("restarted by the new dispatcher (its go file is still there)", () -> pids(GATED).size() == 2
                && sidecarDispatcher().status(id).state() == SupervisionState.READY);
        long second = pids(GATED).get(1);
        assertTrue(alive(second));
        assertEquals("restarted once", 2, pids(GATED).size());

        writeAssignments(Assignments.document(Assignments.nextRevision("none")));
        awaitRemovedOrGone(GATED);
        await("the restarted process is stopped on removal", () -> !alive(second));
    }
}
