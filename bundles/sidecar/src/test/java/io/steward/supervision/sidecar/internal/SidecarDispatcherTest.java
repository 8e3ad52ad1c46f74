package io.steward.supervision.sidecar.internal;

import static io.steward.supervision.sidecar.internal.TestSupport.alive;
import static io.steward.supervision.sidecar.internal.TestSupport.assignment;
import static io.steward.supervision.sidecar.internal.TestSupport.await;
import static io.steward.supervision.sidecar.internal.TestSupport.pids;
import static io.steward.supervision.sidecar.internal.TestSupport.prepare;
import static io.steward.supervision.sidecar.internal.TestSupport.record;
import static io.steward.supervision.sidecar.internal.TestSupport.script;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.sidecar.internal.TestSupport.FakeStager;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The dispatcher against real processes: bash add-ons that talk sd_notify through systemd-notify. */
class SidecarDispatcherTest {
    private static final String NOTIFYING = script("""
            reload() { echo reload >> "$STEWARD_ADDON_STATE/reloads"; notify --status="reloaded $(tr -d ' \\n' < "$STEWARD_ADDON_CONFIG")"; }
            trap reload HUP
            trap 'exit 0' TERM
            env | sort > "$STEWARD_ADDON_STATE/env.$$"
            pwd > "$STEWARD_ADDON_STATE/cwd"
            echo "args: $*"
            notify --ready --status="serving"
            while true; do idle; done
            """);

    private Path root;
    private HostLayout layout;
    private FakeStager stager;
    private final List<SidecarDispatcher> dispatchers = new ArrayList<>();

    @BeforeAll
    static void needsSystemdNotify() {
        assertTrue(Files.isExecutable(Path.of(TestSupport.SYSTEMD_NOTIFY)),
                TestSupport.SYSTEMD_NOTIFY + " is needed by the test add-ons (Debian package systemd)");
    }

    @BeforeEach
    void setUp() throws IOException {
        Path work = Path.of(System.getProperty("sidecar.test.work", "target/sidecar-test")).toAbsolutePath();
        Files.createDirectories(work);
        root = Files.createTempDirectory(work, "d");
        layout = TestSupport.layout(root);
        stager = new FakeStager(layout);
    }

    @AfterEach
    void tearDown() throws IOException {
        dispatchers.forEach(SidecarDispatcher::deactivate);
        TestSupport.killAll(root);
        TestSupport.deleteTree(root);
    }

    private SidecarDispatcher dispatcher(Map<String, Object> overrides) throws IOException {
        Map<String, Object> values = TestSupport.fast();
        values.putAll(overrides);
        SidecarDispatcher d = new SidecarDispatcher(layout, stager, TestSupport.config(values));
        dispatchers.add(d);
        return d;
    }

    private SidecarDispatcher dispatcher() throws IOException {
        return dispatcher(Map.of());
    }

    private static long pidOf(SupervisionStatus s) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("pid (\\d+)").matcher(s.detail());
        assertTrue(m.find(), "no pid in: " + s.detail());
        return Long.parseLong(m.group(1));
    }

    private static boolean signalSet(String procStatus, String field, int signal) {
        for (String line : procStatus.split("\n")) {
            if (line.startsWith(field + ":")) {
                return (Long.parseUnsignedLong(line.substring(field.length() + 1).trim(), 16) & (1L << (signal - 1))) != 0;
            }
        }
        throw new AssertionError("no " + field + " in " + procStatus);
    }

    private JsonObject stateFile(String id) throws IOException {
        return JsonParser.parseString(Files.readString(layout.state().resolve("sidecar").resolve(id + ".json")))
                .getAsJsonObject();
    }

    private SupervisionState state(SidecarDispatcher d, String id) {
        return d.status(new AddonId(id)).state();
    }

    // ---------------------------------------------------------------- readiness

    @Test
    void readyByNotifyWithTheEnvironmentConfigAndDirectoriesItWasPromised() throws Exception {
        prepare(stager, layout, "probe", "1.0.0", NOTIFYING, Map.of("notify", "true"),
                "{\"log\":{\"level\":\"info\",\"format\":\"json\"},\"interval\":30}");
        SidecarDispatcher d = dispatcher(Map.of("ready.grace.millis", 60_000L));   // only READY=1 can make it ready
        Assignment a = assignment("probe", "1.0.0", "{\"log\":{\"level\":\"debug\"}}", Map.of("LOG_LEVEL", "debug"),
                List.of("--interval", "5"));

        SupervisionStatus s = d.apply(record(layout, a));

        assertEquals(SupervisionState.READY, s.state(), s.detail());
        assertEquals(Optional.of("1.0.0"), s.activeVersion());
        assertTrue(s.detail().contains("serving"), s.detail());
        long pid = pidOf(s);
        assertEquals(List.of(pid), pids(layout, "probe"));
        assertEquals(1, stager.commits.get());

        Path home = layout.addonHome(new AddonId("probe"));
        JsonObject config = JsonParser.parseString(Files.readString(home.resolve("config.json"))).getAsJsonObject();
        assertEquals("debug", config.getAsJsonObject("log").get("level").getAsString());
        assertEquals("json", config.getAsJsonObject("log").get("format").getAsString(), "nested objects merge");
        assertEquals(30, config.get("interval").getAsInt());

        List<String> env = Files.readAllLines(home.resolve("state").resolve("env." + pid));
        assertTrue(env.contains("STEWARD_ADDON_ID=probe"), env.toString());
        assertTrue(env.contains("STEWARD_ADDON_CONFIG=" + home.resolve("config.json")), env.toString());
        assertTrue(env.contains("LOG_LEVEL=debug"), env.toString());
        assertTrue(env.stream().anyMatch(l -> l.startsWith("NOTIFY_SOCKET=/")), env.toString());
        assertFalse(env.stream().anyMatch(l -> l.startsWith("MAVEN_") || l.startsWith("JAVA_HOME=")),
                "the agent's environment is not inherited: " + env);
        assertEquals(home.resolve("state").toString(), Files.readString(home.resolve("state/cwd")).trim());
        await("stdout.log has the args line", () -> Files.readString(home.resolve("log/stdout.log")).contains("args: --interval 5"));

        // its own session and process group, with default signal handling whatever the JVM ignores or blocks
        Processes.Stat stat = Processes.stat(pid).orElseThrow();
        assertEquals(pid, stat.pgrp());
        String procStatus = Files.readString(Path.of("/proc/" + pid + "/status"));
        assertFalse(signalSet(procStatus, "SigBlk", 3), "SIGQUIT is not blocked: " + procStatus);
        assertFalse(signalSet(procStatus, "SigIgn", 1), "SIGHUP is not ignored: " + procStatus);

        JsonObject state = stateFile("probe");
        assertEquals(pid, state.get("pid").getAsLong());
        assertEquals(Processes.bootId(), state.get("boot_id").getAsString());
        assertEquals(ProcessHandle.of(pid).orElseThrow().info().startInstant().orElseThrow().toString(),
                state.get("start_time").getAsString());
        assertTrue(state.get("ready").getAsBoolean());
    }

    @Test
    void anAddOnThatMustNotifyAndNeverDoesFailsTheFirstInstallAndLeavesNothing() throws Exception {
        prepare(stager, layout, "mute", "1.0.0", script("while true; do idle; done"),
                Map.of("notify", "true", "start_timeout_seconds", "0.6"), null);
        SidecarDispatcher d = dispatcher();

        SupervisionException e = assertThrows(SupervisionException.class,
                () -> d.apply(record(layout, assignment("mute", "1.0.0", "{}"))));

        assertEquals(Disposition.TRANSIENT, e.disposition());
        assertTrue(e.getMessage().contains("READY=1"), e.getMessage());
        long pid = pids(layout, "mute").get(0);
        assertFalse(alive(pid), "the process was stopped");
        Path home = layout.addonHome(new AddonId("mute"));
        assertFalse(Files.exists(home.resolve("current")), "current rolled back");
        assertFalse(Files.exists(home.resolve("config.json")));
        assertFalse(Files.exists(layout.state().resolve("sidecar/mute.json")));
        assertEquals(SupervisionState.PENDING, state(d, "mute"));
        assertEquals(1, stager.rollbacks.get());
    }

    @Test
    void anAddOnThatDoesNotNotifyIsReadyAfterTheGracePeriod() throws Exception {
        prepare(stager, layout, "plain", "1.0.0", script("while true; do idle; done"), Map.of(), null);
        SidecarDispatcher d = dispatcher(Map.of("ready.grace.millis", 300L));
        long t0 = System.nanoTime();
        SupervisionStatus s = d.apply(record(layout, assignment("plain", "1.0.0", "{}")));
        long took = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(SupervisionState.READY, s.state(), s.detail());
        assertTrue(took >= 300, "ready only after the grace period, took " + took + " ms");
    }

    @Test
    void anAddOnThatExitsDuringStartFailsTransientlyUnlessItsCodeIsPermanent() throws Exception {
        prepare(stager, layout, "oops", "1.0.0", script("exit 3"), Map.of(), null);
        prepare(stager, layout, "oops", "2.0.0", script("exit 125"), Map.of(), null);
        SidecarDispatcher d = dispatcher();
        SupervisionException e1 = assertThrows(SupervisionException.class,
                () -> d.apply(record(layout, assignment("oops", "1.0.0", "{}"))));
        assertEquals(Disposition.TRANSIENT, e1.disposition());
        assertTrue(e1.getMessage().contains("exited with code 3"), e1.getMessage());
        SupervisionException e2 = assertThrows(SupervisionException.class,
                () -> d.apply(record(layout, assignment("oops", "2.0.0", "{}"))));
        assertEquals(Disposition.PERMANENT, e2.disposition());
        assertTrue(e2.getMessage().contains("exited with code 125"), e2.getMessage());
    }

    // ---------------------------------------------------------------- restart policy

    @Test
    void aCrashLoopBacksOffAndRecovers() throws Exception {
        // ready at first; once "crash" exists every run exits 1 at once
        prepare(stager, layout, "flaky", "1.0.0", script("""
                c="$STEWARD_ADDON_STATE/crash"
                [ -e "$c" ] && { echo "crashing" >&2; exit 1; }
                notify --ready
                while [ ! -e "$c" ]; do idle 0.02; done
                exit 1
                """), Map.of("notify", "true"), null);
        SidecarDispatcher d = dispatcher(Map.of("crash.loop.delay.seconds", 2L));
        long first = pidOf(d.apply(record(layout, assignment("flaky", "1.0.0", "{}"))));
        Path crash = layout.addonHome(new AddonId("flaky")).resolve("state/crash");

        Files.writeString(crash, "");
        // 1 exit of the ready run + 3 restarts that exit at once = 4 exits within the window > 3
        await("flaky is in a crash loop", () -> d.status(new AddonId("flaky")).detail().contains("crash loop"));
        SupervisionStatus loop = d.status(new AddonId("flaky"));
        assertEquals(SupervisionState.BACKOFF, loop.state());
        assertTrue(loop.detail().contains("exited with code 1"), loop.detail());
        assertTrue(loop.detail().contains("next start in"), loop.detail());
        assertEquals(4, pids(layout, "flaky").size(), "the first run and 3 restarts: " + pids(layout, "flaky"));

        Files.delete(crash);
        await("flaky is ready again after the crash-loop delay", () -> state(d, "flaky") == SupervisionState.READY);
        long recovered = pidOf(d.status(new AddonId("flaky")));
        assertNotEquals(first, recovered);
        assertEquals(5, pids(layout, "flaky").size());
        assertTrue(alive(recovered));
    }

    @Test
    void aPermanentExitCodeRejectsAndIsNotRestartedNorReadoptedIntoARestart() throws Exception {
        prepare(stager, layout, "fatal", "1.0.0", script("""
                notify --ready
                while [ ! -e "$STEWARD_ADDON_STATE/fatal" ]; do idle 0.02; done
                exit 3
                """), Map.of("notify", "true", "permanent_exit_codes", "[3]"), null);
        SidecarDispatcher d = dispatcher();
        Assignment a = assignment("fatal", "1.0.0", "{}");
        d.apply(record(layout, a));
        Files.writeString(layout.addonHome(new AddonId("fatal")).resolve("state/fatal"), "");

        await("fatal is rejected", () -> state(d, "fatal") == SupervisionState.REJECTED);
        assertTrue(d.status(new AddonId("fatal")).detail().contains("exited with code 3"));
        // nothing restarts it: 20 supervision passes later it is still the one rejected process
        long passes = d.supervisionTicks() + 20;
        await("20 supervision passes", () -> d.supervisionTicks() >= passes);
        assertEquals(1, pids(layout, "fatal").size());
        assertEquals(SupervisionState.REJECTED, state(d, "fatal"));
        assertTrue(stateFile("fatal").has("rejected"));

        // a new dispatcher (bundle update, agent restart) adopting the same assignment keeps it rejected
        d.deactivate();
        dispatchers.remove(d);
        SidecarDispatcher next = dispatcher();
        assertEquals(SupervisionState.REJECTED, next.adopt(record(layout, a)).state());
        assertEquals(1, pids(layout, "fatal").size());
        // a changed assignment is tried again
        Files.delete(layout.addonHome(new AddonId("fatal")).resolve("state/fatal"));
        assertEquals(SupervisionState.READY, next.apply(record(layout, assignment("fatal", "1.0.0", "{\"x\":1}")))
                .state());
        assertEquals(2, pids(layout, "fatal").size());
    }

    @Test
    void noSidecarIsAChildOfTheAgentYetTheNextDispatcherKnowsHowItsAdoptedProcessExited() throws Exception {
        prepare(stager, layout, "later", "1.0.0", script("""
                notify --ready
                while [ ! -e "$STEWARD_ADDON_STATE/fatal" ]; do idle 0.02; done
                exit 3
                """), Map.of("notify", "true", "permanent_exit_codes", "[3]"), null);
        SidecarDispatcher first = dispatcher();
        Assignment a = assignment("later", "1.0.0", "{}");
        long pid = pidOf(first.apply(record(layout, a)));
        long keeper = TestSupport.keeperOf(pid).orElseThrow(() -> new AssertionError("pid " + pid + " has no keeper"));
        assertTrue(ProcessHandle.current().children().noneMatch(c -> c.pid() == pid || c.pid() == keeper),
                "neither the sidecar nor its keeper is a child of the agent (no JDK reaper thread per sidecar)");

        first.deactivate();
        dispatchers.remove(first);
        SidecarDispatcher next = dispatcher();
        assertEquals(SupervisionState.READY, next.adopt(record(layout, a)).state());
        Files.writeString(layout.addonHome(new AddonId("later")).resolve("state/fatal"), "");

        await("the adopted process's permanent exit code rejects it", () -> state(next, "later") == SupervisionState.REJECTED);
        assertTrue(next.status(new AddonId("later")).detail().contains("exited with code 3"),
                next.status(new AddonId("later")).detail());
        assertEquals(List.of(pid), pids(layout, "later"), "not restarted");
    }

    @Test
    void aMissedWatchdogKillsAndRestartsTheAddOn() throws Exception {
        // pings every 100 ms; the first run stops pinging (but keeps running) when "hang" appears
        prepare(stager, layout, "dog", "1.0.0", script("""
                notify --ready --status=fine
                while true; do
                  if [ -e "$STEWARD_ADDON_STATE/hang" ]; then rm "$STEWARD_ADDON_STATE/hang"; while true; do idle; done; fi
                  notify WATCHDOG=1
                  echo >> "$STEWARD_ADDON_STATE/pings"
                  idle 0.1
                done
                """), Map.of("notify", "true", "watchdog_seconds", "1.5"), null);
        SidecarDispatcher d = dispatcher();
        long first = pidOf(d.apply(record(layout, assignment("dog", "1.0.0", "{}"))));
        // pinging keeps it alive past several watchdog periods: 35 pings 0.1 s apart, over two periods
        Path pings = layout.addonHome(new AddonId("dog")).resolve("state/pings");
        await("35 watchdog pings", () -> Files.exists(pings) && Files.readAllLines(pings).size() >= 35);
        assertEquals(1, pids(layout, "dog").size(), "not restarted while it pings");
        assertEquals(SupervisionState.READY, state(d, "dog"));

        Files.writeString(layout.addonHome(new AddonId("dog")).resolve("state/hang"), "");
        await("dog is degraded once its watchdog is late", () -> d.status(new AddonId("dog")).detail()
                .contains("watchdog late"));
        assertEquals(SupervisionState.DEGRADED, state(d, "dog"));
        await("dog was restarted", () -> pids(layout, "dog").size() == 2);
        await("the hung process is gone", () -> !alive(first));
        await("dog is ready again", () -> state(d, "dog") == SupervisionState.READY);
        assertNotEquals(first, pidOf(d.status(new AddonId("dog"))));
    }

    // ---------------------------------------------------------------- changes

    @Test
    void aConfigOnlyChangeReloadsTheSameProcess() throws Exception {
        prepare(stager, layout, "cfg", "1.0.0", NOTIFYING, Map.of("notify", "true"), "{\"a\":1,\"b\":{\"c\":1}}");
        SidecarDispatcher d = dispatcher();
        long pid = pidOf(d.apply(record(layout, assignment("cfg", "1.0.0", "{}"))));
        int stagesBefore = stager.stages.get();

        SupervisionStatus s = d.apply(record(layout, assignment("cfg", "1.0.0", "{\"b\":{\"d\":2}}")));

        assertEquals(pid, pidOf(s), "same pid");
        assertEquals(stagesBefore, stager.stages.get(), "nothing staged for a config change");
        Path home = layout.addonHome(new AddonId("cfg"));
        await("the add-on got SIGHUP", () -> Files.exists(home.resolve("state/reloads")));
        JsonObject config = JsonParser.parseString(Files.readString(home.resolve("config.json"))).getAsJsonObject();
        assertEquals(1, config.getAsJsonObject("b").get("c").getAsInt());
        assertEquals(2, config.getAsJsonObject("b").get("d").getAsInt());
        await("its STATUS after the reload reaches the status detail",
                () -> d.status(new AddonId("cfg")).detail().contains("reloaded"));
        assertTrue(d.status(new AddonId("cfg")).detail().contains("config reloaded with SIGHUP"));
        assertEquals(List.of(pid), pids(layout, "cfg"));

        // the same config again changes nothing
        d.apply(record(layout, assignment("cfg", "1.0.0", "{\"b\":{\"d\":2}}")));
        assertEquals(1, Files.readAllLines(home.resolve("state/reloads")).size());
    }

    @Test
    void aConfigChangeRestartsWhenTheManifestAsksForNoReloadSignal() throws Exception {
        prepare(stager, layout, "nosig", "1.0.0", NOTIFYING, Map.of("notify", "true", "reload_signal", "\"none\""), null);
        SidecarDispatcher d = dispatcher();
        long pid = pidOf(d.apply(record(layout, assignment("nosig", "1.0.0", "{}"))));
        long next = pidOf(d.apply(record(layout, assignment("nosig", "1.0.0", "{\"a\":2}"))));
        assertNotEquals(pid, next);
        assertFalse(alive(pid));
    }

    @Test
    void aNewVersionReplacesTheProcessAndAFailingOneRollsBack() throws Exception {
        prepare(stager, layout, "up", "1.0.0", NOTIFYING, Map.of("notify", "true"), null);
        prepare(stager, layout, "up", "2.0.0", NOTIFYING, Map.of("notify", "true"), null);
        prepare(stager, layout, "up", "3.0.0", script("echo broken >&2; exit 1"), Map.of("notify", "true"), null);
        SidecarDispatcher d = dispatcher();
        Path current = layout.addonHome(new AddonId("up")).resolve("current");

        long v1 = pidOf(d.apply(record(layout, assignment("up", "1.0.0", "{}"))));
        SupervisionStatus s2 = d.apply(record(layout, assignment("up", "2.0.0", "{}")));
        long v2 = pidOf(s2);
        assertNotEquals(v1, v2);
        assertFalse(alive(v1), "the old version was stopped");
        assertEquals(Optional.of("2.0.0"), s2.activeVersion());
        assertTrue(Files.readSymbolicLink(current).toString().endsWith("2.0.0"));

        SupervisionException e = assertThrows(SupervisionException.class,
                () -> d.apply(record(layout, assignment("up", "3.0.0", "{}"))));
        assertEquals(Disposition.TRANSIENT, e.disposition());
        assertTrue(Files.readSymbolicLink(current).toString().endsWith("2.0.0"), "current rolled back");
        assertFalse(alive(v2), "2.0.0 was stopped for the attempt");
        await("2.0.0 runs again", () -> state(d, "up") == SupervisionState.READY);
        SupervisionStatus back = d.status(new AddonId("up"));
        assertEquals(Optional.of("2.0.0"), back.activeVersion());
        assertTrue(alive(pidOf(back)));
        assertEquals("2.0.0", stateFile("up").getAsJsonObject("spec").get("version").getAsString());
    }

    @Test
    void resourceLimitsAreAppliedOrTheStatusSaysWhyNot() throws Exception {
        prepare(stager, layout, "lim", "1.0.0", NOTIFYING, Map.of("notify", "true"), null);
        SidecarDispatcher d = dispatcher();
        Assignment plain = assignment("lim", "1.0.0", "{}");
        Assignment limited = new Assignment(plain.id(), plain.version(), true, plain.kind(), plain.delivery(),
                plain.artifact(), plain.binary(), plain.args(), plain.env(), plain.configJson(), List.of(),
                new Resources(OptionalDouble.of(50), OptionalLong.of(64L << 20), OptionalLong.of(32)));
        SupervisionStatus s = d.apply(record(layout, limited));
        long pid = pidOf(s);
        Path cgroup = Cgroups.findMount(Path.of("/proc/self/mountinfo")).orElse(Path.of("/nonexistent"))
                .resolve("steward/lim/cgroup.procs");
        if (Files.exists(cgroup)) {
            assertEquals(SupervisionState.READY, s.state(), s.detail());
            assertTrue(Files.readString(cgroup).contains(Long.toString(pid)));
        } else {
            assertEquals(SupervisionState.DEGRADED, s.state(), s.detail());
            assertTrue(s.detail().contains("resource limits not applied"), s.detail());
        }
        // dropping the limits needs no restart
        assertEquals(pid, pidOf(d.apply(record(layout, plain))));
        assertEquals(SupervisionState.READY, state(d, "lim"));
    }

    // ---------------------------------------------------------------- detach, adopt, remove

    @Test
    void aNewDispatcherAdoptsTheRunningProcessAndItsNotifySocket() throws Exception {
        prepare(stager, layout, "keep", "1.0.0", NOTIFYING, Map.of("notify", "true"), null);
        SidecarDispatcher first = dispatcher();
        Assignment a = assignment("keep", "1.0.0", "{}");
        long pid = pidOf(first.apply(record(layout, a)));

        first.deactivate();     // bundle stop or update: detach
        dispatchers.remove(first);
        assertTrue(alive(pid), "deactivation never stops the add-on");
        await("no sidecar- thread survives the deactivation", () -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.getName().startsWith("sidecar-") && t.isAlive()));

        SidecarDispatcher second = dispatcher();
        SupervisionStatus adopted = second.adopt(record(layout, a));
        assertEquals(SupervisionState.READY, adopted.state(), adopted.detail());
        assertEquals(pid, pidOf(adopted), "same pid");
        assertEquals(List.of(pid), pids(layout, "keep"));
        assertEquals(1, stager.stages.get(), "adoption stages nothing");

        // the add-on's notify messages reach the new dispatcher at the address it already knows
        second.apply(record(layout, assignment("keep", "1.0.0", "{\"z\":1}")));
        await("STATUS from the adopted process arrives", () -> second.status(new AddonId("keep")).detail()
                .contains("reloaded"));

        // and it is supervised: an exit is seen and restarted
        Processes.signalGroup(pid, "KILL");
        await("the adopted add-on is restarted after its exit", () -> pids(layout, "keep").size() == 2
                && second.status(new AddonId("keep")).state() == SupervisionState.READY);
    }

    @Test
    void adoptingADeadAddOnStartsItAgain() throws Exception {
        prepare(stager, layout, "dead", "1.0.0", NOTIFYING, Map.of("notify", "true"), null);
        SidecarDispatcher first = dispatcher();
        Assignment a = assignment("dead", "1.0.0", "{}");
        long pid = pidOf(first.apply(record(layout, a)));
        first.deactivate();
        dispatchers.remove(first);
        Processes.signalGroup(pid, "KILL");
        await("it died", () -> !alive(pid));

        SidecarDispatcher second = dispatcher();
        SupervisionStatus s = second.adopt(record(layout, a));
        assertEquals(SupervisionState.READY, s.state(), s.detail());
        assertNotEquals(pid, pidOf(s));
    }

    /** A notifying add-on that holds back READY=1 until the test creates {@code $STEWARD_ADDON_STATE/go}. */
    static final String GATED = script("""
            trap 'exit 0' TERM
            while [ ! -e "$STEWARD_ADDON_STATE/go" ]; do idle; done
            notify --ready --status="let go"
            : > "$STEWARD_ADDON_STATE/notified"
            while true; do idle; done
            """);

    private void letGo(String id) throws IOException {
        Files.writeString(layout.addonHome(new AddonId(id)).resolve("state/go"), "");
    }

    /** Starts {@code d.apply} on another thread and waits until the add-on's process runs (not ready yet). */
    private java.util.concurrent.CompletableFuture<SupervisionStatus> applyUntilSpawned(SidecarDispatcher d, Assignment a)
            throws Exception {
        java.util.concurrent.CompletableFuture<SupervisionStatus> applied = java.util.concurrent.CompletableFuture
                .supplyAsync(() -> {
                    try {
                        return d.apply(record(layout, a));
                    } catch (SupervisionException e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                });
        await("the process was spawned and is starting", () -> pids(layout, a.id().value()).size() == 1
                && state(d, a.id().value()) == SupervisionState.STARTING);
        return applied;
    }

    @Test
    void aDispatcherStoppedWhileASidecarStartsLeavesItToTheNextWhichAdoptsItWithoutASecondCopy() throws Exception {
        prepare(stager, layout, "mid", "1.0.0", GATED, Map.of("notify", "true"), null);
        Assignment a = assignment("mid", "1.0.0", "{}");
        SidecarDispatcher first = dispatcher();
        java.util.concurrent.CompletableFuture<SupervisionStatus> interrupted = applyUntilSpawned(first, a);
        long pid = pids(layout, "mid").get(0);

        first.deactivate();                 // the kind bundle stops between spawn and readiness
        dispatchers.remove(first);
        java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> interrupted.get(10, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(Disposition.TRANSIENT, ((SupervisionException) e.getCause()).disposition());
        assertTrue(alive(pid), "detaching stops nothing");

        SidecarDispatcher second = dispatcher();
        java.util.concurrent.CompletableFuture<SupervisionStatus> resumed = applyUntilSpawned(second, a);
        await("the next dispatcher took pid " + pid + " over", () -> second.status(new AddonId("mid")).detail()
                .contains("starting as pid " + pid));
        letGo("mid");
        SupervisionStatus ready = resumed.get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(SupervisionState.READY, ready.state(), ready.detail());
        assertEquals(pid, pidOf(ready), "adopted, not started again");
        assertEquals(List.of(pid), pids(layout, "mid"), "one process ever");
        assertEquals(1, stager.stages.get(), "nothing staged again");

        Processes.signalGroup(pid, "KILL");    // and it is supervised again: restarted, once
        await("the adopted add-on is restarted after its exit", () -> pids(layout, "mid").size() == 2
                && second.status(new AddonId("mid")).state() == SupervisionState.READY);
        assertEquals(2, pids(layout, "mid").size());
    }

    @Test
    void aLaunchWhosePidWasNeverRecordedIsFoundByTheLaunchIdItCarries() throws Exception {
        prepare(stager, layout, "unrec", "1.0.0", NOTIFYING, Map.of("notify", "true"), null);
        Assignment a = assignment("unrec", "1.0.0", "{}");
        SidecarDispatcher first = dispatcher();
        long pid = pidOf(first.apply(record(layout, a)));
        first.deactivate();
        dispatchers.remove(first);
        // the agent died after the spawn and before it recorded the pid: only the intent is on disk
        JsonObject intent = stateFile("unrec");
        for (String field : List.of("pid", "start_time", "start_ticks", "ready")) {
            intent.remove(field);
        }
        assertTrue(intent.has("launch_id"), intent.toString());
        Files.writeString(layout.state().resolve("sidecar/unrec.json"), intent.toString());

        SidecarDispatcher second = dispatcher();
        SupervisionStatus s = second.apply(record(layout, a));
        assertEquals(pid, pidOf(s), "found by its launch id, not started again: " + s.detail());
        assertEquals(List.of(pid), pids(layout, "unrec"));
        assertEquals(pid, stateFile("unrec").get("pid").getAsLong(), "and recorded now");
    }

    @Test
    void anAdoptedSidecarWhoseReadyWasSentWhileNobodyListenedIsAssumedReadyNotRestarted() throws Exception {
        prepare(stager, layout, "lost", "1.0.0", GATED, Map.of("notify", "true", "start_timeout_seconds", "1"), null);
        Assignment a = assignment("lost", "1.0.0", "{}");
        SidecarDispatcher first = dispatcher();
        java.util.concurrent.CompletableFuture<SupervisionStatus> interrupted = applyUntilSpawned(first, a);
        long pid = pids(layout, "lost").get(0);
        first.deactivate();
        dispatchers.remove(first);
        assertThrows(java.util.concurrent.ExecutionException.class,
                () -> interrupted.get(10, java.util.concurrent.TimeUnit.SECONDS));
        letGo("lost");                      // READY=1 goes out while no dispatcher is bound
        await("it sent READY=1 to nobody", () -> Files.exists(layout.addonHome(new AddonId("lost"))
                .resolve("state/notified")));

        SidecarDispatcher second = dispatcher();
        SupervisionStatus s = second.apply(record(layout, a));
        assertEquals(SupervisionState.READY, s.state(), s.detail());
        assertEquals(pid, pidOf(s));
        assertTrue(s.detail().contains("ready assumed"), s.detail());
        assertEquals(List.of(pid), pids(layout, "lost"));
    }

    @Test
    void removeStopsTheWholeProcessGroupAndForgetsTheAddOn() throws Exception {
        prepare(stager, layout, "grp", "1.0.0", script("""
                trap '' TERM
                sleep 1000 &
                echo $! > "$STEWARD_ADDON_STATE/child"
                notify --ready
                while true; do idle; done
                """), Map.of("notify", "true", "stop_grace_seconds", "0.5"), null);
        SidecarDispatcher d = dispatcher();
        long pid = pidOf(d.apply(record(layout, assignment("grp", "1.0.0", "{}"))));
        long child = Long.parseLong(Files.readString(layout.addonHome(new AddonId("grp")).resolve("state/child")).trim());
        assertTrue(alive(child));

        long t0 = System.nanoTime();
        d.remove(new AddonId("grp"));
        long took = (System.nanoTime() - t0) / 1_000_000;

        assertFalse(alive(pid));
        assertFalse(alive(child), "the group member was stopped with its leader");
        assertTrue(took >= 500 && took < 5000, "TERM was ignored: SIGKILL after the 0.5 s grace, took " + took);
        assertEquals(SupervisionState.PENDING, state(d, "grp"));
        assertFalse(Files.exists(layout.state().resolve("sidecar/grp.json")));
        assertEquals(1, stager.removals.get());
        // removing again, or an unknown add-on, succeeds
        d.remove(new AddonId("grp"));
        d.remove(new AddonId("never"));
    }

    @Test
    void removeFindsAProcessOfAnEarlierDispatcherThatNobodyAdopted() throws Exception {
        prepare(stager, layout, "orphan", "1.0.0", NOTIFYING, Map.of("notify", "true"), null);
        SidecarDispatcher first = dispatcher();
        long pid = pidOf(first.apply(record(layout, assignment("orphan", "1.0.0", "{}"))));
        first.deactivate();
        dispatchers.remove(first);

        dispatcher().remove(new AddonId("orphan"));
        assertFalse(alive(pid));
    }

    @Test
    void aLongDataDirectoryUsesTheAbstractNamespace() throws Exception {
        Path deep = root.resolve("x".repeat(60)).resolve("y".repeat(60));
        layout = TestSupport.layout(deep);
        stager = new FakeStager(layout);
        prepare(stager, layout, "far", "1.0.0", NOTIFYING, Map.of("notify", "true"), null);
        SidecarDispatcher d = dispatcher();
        long pid = pidOf(d.apply(record(layout, assignment("far", "1.0.0", "{}"))));
        List<String> env = Files.readAllLines(layout.addonHome(new AddonId("far")).resolve("state/env." + pid));
        String socket = env.stream().filter(l -> l.startsWith("NOTIFY_SOCKET=")).findFirst().orElseThrow();
        assertTrue(socket.startsWith("NOTIFY_SOCKET=@steward-") && socket.endsWith("-far"), socket);
    }

    @Test
    void anOsPackageSidecarRunsItsAbsoluteBinary() throws Exception {
        Path bin = Files.createDirectories(root.resolve("usr-bin")).resolve("pkg-daemon");
        Files.writeString(bin, NOTIFYING);
        bin.toFile().setExecutable(true);
        SidecarDispatcher d = dispatcher();
        Assignment a = new Assignment(new AddonId("pkg"), "9.9", true, "sidecar", "os_package", Optional.empty(),
                Optional.of(bin.toString()), List.of(), Map.of(), "{\"k\":\"v\"}", List.of(), Resources.NONE);
        SupervisionStatus s = d.apply(record(layout, a));
        assertEquals(SupervisionState.READY, s.state(), s.detail());   // the default: ready after the grace
        assertEquals(0, stager.stages.get());
    }

    @Test
    void notifyDatagramsDoNotLeakFileDescriptors() throws Exception {
        // systemd-notify without --no-block sends a BARRIER=1 carrying a file descriptor
        prepare(stager, layout, "fds", "1.0.0", script("""
                notify --ready
                for i in $(seq 1 40); do /usr/bin/systemd-notify --status="tick $i"; done
                echo done > "$STEWARD_ADDON_STATE/done"
                while true; do idle; done
                """), Map.of("notify", "true"), null);
        SidecarDispatcher d = dispatcher();
        long before = openFds();
        d.apply(record(layout, assignment("fds", "1.0.0", "{}")));
        await("40 status updates were sent", () -> Files.exists(layout.addonHome(new AddonId("fds")).resolve("state/done")));
        await("the last status arrived", () -> d.status(new AddonId("fds")).detail().contains("tick 40"));
        assertTrue(openFds() - before < 15, "open fds before " + before + ", after " + openFds());
    }

    private static long openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    @Test
    void theStatusOfAnUnknownAddOnIsPending() throws Exception {
        assertEquals(SupervisionState.PENDING, dispatcher().status(new AddonId("nobody")).state());
    }

    @Test
    void invalidManifestParametersRejectTheAssignment() throws Exception {
        prepare(stager, layout, "badp", "1.0.0", NOTIFYING, Map.of("watchdog_seconds", "\"soon\""), null);
        SupervisionException e = assertThrows(SupervisionException.class,
                () -> dispatcher().apply(record(layout, assignment("badp", "1.0.0", "{}"))));
        assertEquals(Disposition.PERMANENT, e.disposition());
        assertTrue(e.getMessage().contains("watchdog_seconds"), e.getMessage());
        assertFalse(Files.exists(layout.addonHome(new AddonId("badp")).resolve("current")));
    }

    @Test
    void capabilitiesNeedAPrivilegedOperationsService() throws Exception {
        prepare(stager, layout, "caps", "1.0.0", NOTIFYING, Map.of(), null);
        Assignment plain = assignment("caps", "1.0.0", "{}");
        Assignment a = new Assignment(plain.id(), plain.version(), true, plain.kind(), plain.delivery(),
                plain.artifact(), plain.binary(), plain.args(), plain.env(), plain.configJson(), List.of("cap_net_raw"),
                Resources.NONE);
        SidecarDispatcher d = dispatcher();
        SupervisionException e = assertThrows(SupervisionException.class, () -> d.apply(record(layout, a)));
        assertEquals(Disposition.TRANSIENT, e.disposition());

        AtomicReference<String> granted = new AtomicReference<>();
        d.privileged = new io.steward.privileged.PrivilegedOperations() {
            @Override
            public Path grantCapabilities(AddonId id, io.steward.delivery.StagedArtifact staged, String binary,
                                          List<String> capabilities) {
                granted.set(binary + " " + capabilities);
                return staged.directory().resolve(binary);
            }

            @Override
            public void release(AddonId id) {
                granted.set("released");
            }
        };
        SupervisionStatus s = d.apply(record(layout, a));
        assertEquals(SupervisionState.READY, s.state(), s.detail());
        assertEquals("run.sh [cap_net_raw]", granted.get());
        String exec = stateFile("caps").getAsJsonObject("spec").get("exec").getAsString();
        assertTrue(exec.endsWith("versions/1.0.0/run.sh"), "runs the path PrivilegedOperations returned: " + exec);
        d.remove(new AddonId("caps"));
        assertEquals("released", granted.get());
    }

    @Test
    void logsGoToFilesThatRotate() throws Exception {
        prepare(stager, layout, "chatty", "1.0.0", script("""
                notify --ready
                while true; do head -c 2000 /dev/zero | tr '\\0' 'x'; echo; idle 0.05; done
                """), Map.of("notify", "true"), null);
        SidecarDispatcher d = dispatcher(Map.of("log.max.bytes", 4096L, "log.keep", 1));
        d.apply(record(layout, assignment("chatty", "1.0.0", "{}")));
        Path log = layout.addonHome(new AddonId("chatty")).resolve("log/stdout.log");
        await("stdout.log was rotated", Duration.ofSeconds(20), () -> Files.exists(Files2.numbered(log, 1)));
        assertFalse(Files.exists(Files2.numbered(log, 2)));
        await("the add-on keeps writing to stdout.log after the truncation", () -> Files.size(log) > 0);
        assertTrue(Files.readString(log, StandardCharsets.UTF_8).chars().filter(c -> c == 0).count() < 2000,
                "no hole of NULs: the file was opened O_APPEND");
    }
}
