package io.steward.supervision.ephemeral.helper.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.delivery.StagedArtifact;
import io.steward.helper.AddonHelper;
import io.steward.helper.HelperException;
import io.steward.helper.HelperException.Reason;
import io.steward.helper.HelperRequest;
import io.steward.helper.HelperResult;
import io.steward.privileged.PrivilegedOperations;
import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.Resources;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dispatcher against a fake stager and a fake bundle context, running real processes: bash
 * scripts written into the staged directory. Synchronisation is by conditions with deadlines: the
 * blocking scripts wait on a FIFO that the test writes to when it wants them to go on.
 */
class EphemeralHelperDispatcherTest {
    private static final String ID = "probe";
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    private FakeStager stager;
    private FakeContext context;
    private Path home;
    private Path fifo;
    private Path started;
    private final List<EphemeralHelperDispatcher> dispatchers = new ArrayList<>();
    private final ExecutorService callers = Executors.newCachedThreadPool();
    private RandomAccessFile release;

    /**
     * A helper that notes it started (and its pid), then waits for one byte on the FIFO (bash reads a
     * pipe byte by byte, so concurrent runs each take exactly one).
     */
    private static final String BLOCKING = """
            echo $$ >> "$DIR/started"
            read -r -n 1 token < "$DIR/fifo"
            echo "got $token"
            """;

    @BeforeEach
    void setUp() throws Exception {
        stager = new FakeStager(Files.createDirectories(tmp.resolve("prepared")));
        context = new FakeContext();
        home = tmp.resolve("data/addons").resolve(ID);
        fifo = tmp.resolve("fifo");
        started = tmp.resolve("started");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertEquals(0, mkfifo.waitFor());
    }

    @AfterEach
    void tearDown() throws Exception {
        if (release != null) {
            release.close();
        }
        dispatchers.forEach(EphemeralHelperDispatcher::deactivate);
        callers.shutdownNow();
        assertTrue(callers.awaitTermination(10, TimeUnit.SECONDS));
    }

    // ---------------------------------------------------------------- fixtures

    private EphemeralHelperDispatcher dispatcher(Map<String, Object> settings) {
        EphemeralHelperDispatcher d = new EphemeralHelperDispatcher(context.context, stager, config(settings));
        dispatchers.add(d);
        return d;
    }

    private EphemeralHelperDispatcher dispatcher() {
        return dispatcher(Map.of());
    }

    /** The Config annotation with {@code settings} (by method name) over its defaults. */
    static EphemeralHelperDispatcher.Config config(Map<String, Object> settings) {
        return (EphemeralHelperDispatcher.Config) Proxy.newProxyInstance(
                EphemeralHelperDispatcherTest.class.getClassLoader(),
                new Class<?>[] {EphemeralHelperDispatcher.Config.class}, (proxy, method, args) ->
                        settings.containsKey(method.getName()) ? settings.get(method.getName())
                                : method.getDefaultValue());
    }

    private AddonRecord record(String version, List<String> args, Map<String, String> env) {
        return record(version, "pushed_artifact", Optional.empty(), args, env, List.of());
    }

    private AddonRecord record(String version) {
        return record(version, List.of(), Map.of("DIR", tmp.toString()));
    }

    private AddonRecord record(String version, String delivery, Optional<String> binary, List<String> args,
                               Map<String, String> env, List<String> capabilities) {
        Optional<ArtifactRef> artifact = delivery.equals("pushed_artifact")
                ? Optional.of(new ArtifactRef("file:///srv/" + ID + ".tar.gz", "0".repeat(64), "", Optional.empty()))
                : Optional.empty();
        Assignment a = new Assignment(new AddonId(ID), version, true, "ephemeral_helper", delivery, artifact, binary,
                args, env, "{}", capabilities, Resources.NONE);
        return new AddonRecord(a, home, 1);
    }

    private List<FakeContext.Registration> helpers() {
        return context.services(AddonHelper.class);
    }

    private AddonHelper helper() {
        List<FakeContext.Registration> found = helpers();
        assertEquals(1, found.size(), "AddonHelper services registered: " + found);
        return (AddonHelper) found.get(0).service();
    }

    private static HelperResult run(AddonHelper helper, HelperRequest request) throws HelperException {
        return helper.run(request);
    }

    private Future<HelperResult> runAsync(AddonHelper helper) {
        return callers.submit(() -> helper.run(HelperRequest.of()));
    }

    private List<Long> startedPids() throws IOException {
        if (!Files.exists(started)) {
            return List.of();
        }
        return Files.readAllLines(started).stream().filter(l -> !l.isBlank()).map(Long::parseLong).toList();
    }

    private void awaitStarted(int n) {
        await(n + " helper runs started", () -> {
            try {
                return startedPids().size() >= n;
            } catch (IOException e) {
                return false;
            }
        });
    }

    /** Lets {@code n} blocked runs go on; the FIFO stays open (read-write) so no byte is lost. */
    private void releaseRuns(int n) throws IOException {
        if (release == null) {
            release = new RandomAccessFile(fifo.toFile(), "rw");   // O_RDWR on a FIFO never blocks
        }
        release.write("g".repeat(n).getBytes(StandardCharsets.US_ASCII));
    }

    private static void await(String what, BooleanSupplier condition) {
        try {
            Awaitility.await(what).atMost(DEADLINE).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(20))
                    .pollInSameThread().until(condition::getAsBoolean);
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("timed out waiting until " + what, e);
        }
    }

    private static void awaitGone(long pid) {
        await("process " + pid + " is gone", () -> ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)
                == false);
    }

    private static <T> T get(Future<T> f) throws Exception {
        return f.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    }

    private static HelperException failureOf(Future<?> f) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> get(f));
        assertTrue(e.getCause() instanceof HelperException, "failed with a HelperException: " + e.getCause());
        return (HelperException) e.getCause();
    }

    // ---------------------------------------------------------------- running

    /** A session leader running {@code sleep} with {@code STEWARD_HELPER_OWNER=owner}, as a run of that agent. */
    private static Process runOf(String owner) throws IOException {
        ProcessBuilder pb = new ProcessBuilder("/usr/bin/setsid", "/bin/sleep", "600");
        pb.environment().clear();
        pb.environment().put(OrphanRuns.ENV, owner);
        return pb.start();
    }

    @Test
    void aRunWhoseAgentDiedIsKilledByTheNextDispatcherAndALiveAgentsRunIsNot() throws Exception {
        Process gone = new ProcessBuilder("/bin/true").start();
        assertTrue(gone.waitFor(10, TimeUnit.SECONDS));
        Process orphan = runOf(gone.pid() + ":1");          // its agent was killed with SIGKILL mid-run
        Process live = runOf(OrphanRuns.self());            // a run of this very agent
        try {
            await("both runs started", () -> orphan.toHandle().info().command().orElse("").endsWith("sleep")
                    && live.toHandle().info().command().orElse("").endsWith("sleep"));
            dispatcher();
            assertTrue(orphan.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS), "the orphaned run is killed");
            assertTrue(live.isAlive(), "a run whose agent lives is left alone");
        } finally {
            orphan.destroyForcibly();
            live.destroyForcibly();
        }
    }

    @Test
    void runCapturesOutputExitCodeAndPassesArgsStdinAndEnvironment() throws Exception {
        stager.prepare(ID, "1.0.0", """
                printf 'arg:%s\\n' "$@"
                echo "id:$STEWARD_ADDON_ID"
                echo "fixed:$FIXED extra:$EXTRA"
                echo "path:$PATH"
                echo "home:${HOME-unset}"
                echo "cwd:$(pwd -P)"
                cat
                echo oops >&2
                exit 3
                """);
        EphemeralHelperDispatcher d = dispatcher();
        d.apply(record("1.0.0", List.of("--fixed"), Map.of("FIXED", "from-assignment")));

        HelperResult r = run(helper(), new HelperRequest(List.of("a b", "c"), Map.of("EXTRA", "from-request",
                "STEWARD_ADDON_ID", "spoofed"), "line one\nline two\n".getBytes(StandardCharsets.UTF_8),
                Duration.ofSeconds(20)));

        assertEquals(3, r.exitCode());
        assertFalse(r.timedOut());
        assertFalse(r.truncated());
        assertFalse(r.succeeded());
        assertEquals(String.join("\n", "arg:--fixed", "arg:a b", "arg:c", "id:" + ID,
                "fixed:from-assignment extra:from-request", "path:" + ProcessRunner.PATH, "home:unset",
                "cwd:" + home.resolve("versions/1.0.0").toRealPath(), "line one", "line two", ""), r.stdoutText());
        assertEquals("oops\n", r.stderrText());
        assertTrue(r.duration().compareTo(Duration.ZERO) > 0);
    }

    @Test
    void aRunWritesResultsIntoTheSpoolNamedBySTEWARD_ADDON_SPOOL() throws Exception {
        stager.prepare(ID, "1.0.0", """
                printf '{"n":1}\\n' > "$STEWARD_ADDON_SPOOL/r.tmp" && mv "$STEWARD_ADDON_SPOOL/r.tmp" "$STEWARD_ADDON_SPOOL/r.jsonl"
                echo "spool:$STEWARD_ADDON_SPOOL"
                """);
        EphemeralHelperDispatcher d = dispatcher();
        d.apply(record("1.0.0"));
        HelperResult r = run(helper(), new HelperRequest(List.of(), Map.of("STEWARD_ADDON_SPOOL", "/tmp"),
                new byte[0], Duration.ofSeconds(20)));
        assertEquals(0, r.exitCode(), r.stderrText());
        assertEquals("spool:" + home.resolve("spool") + "\n", r.stdoutText(), "the request cannot point it elsewhere");
        assertEquals("{\"n\":1}\n", Files.readString(home.resolve("spool/r.jsonl")));
    }

    @Test
    void shortRunsNeverLoseTheirOutput() throws Exception {
        // the group kill after each run must leave the pipes to the drainers (Process.destroyForcibly
        // closes them: under load, output a late drainer had not read yet was lost)
        stager.prepare(ID, "1.0.0", "echo one");
        EphemeralHelperDispatcher d = dispatcher();
        d.apply(record("1.0.0"));
        AddonHelper helper = helper();
        List<Future<List<String>>> callersDone = new ArrayList<>();
        for (int c = 0; c < 4; c++) {
            callersDone.add(callers.submit(() -> {
                List<String> outputs = new ArrayList<>();
                for (int i = 0; i < 20; i++) {
                    outputs.add(helper.run(HelperRequest.of()).stdoutText());
                }
                return outputs;
            }));
        }
        for (Future<List<String>> f : callersDone) {
            assertEquals(java.util.Collections.nCopies(20, "one\n"), get(f));
        }
    }

    @Test
    void outputBeyondTheCapIsReadDiscardedAndFlagged() throws Exception {
        stager.prepare(ID, "1.0.0", "head -c 300000 /dev/zero\necho done >&2");
        EphemeralHelperDispatcher d = dispatcher(Map.of("output_limit_bytes", 1000));
        d.apply(record("1.0.0"));

        HelperResult r = run(helper(), HelperRequest.of());

        assertEquals(0, r.exitCode(), r.stderrText());
        assertEquals(1000, r.stdout().length);
        assertArrayEquals(new byte[1000], r.stdout());
        assertTrue(r.stdoutTruncated());
        assertFalse(r.stderrTruncated());
        assertEquals("done\n", r.stderrText());
    }

    @Test
    void largeStdinIsFedWhileOutputIsDrained() throws Exception {
        stager.prepare(ID, "1.0.0", "cat");
        EphemeralHelperDispatcher d = dispatcher();
        d.apply(record("1.0.0"));
        byte[] input = new byte[512 * 1024];   // far above a pipe's buffer in both directions
        for (int i = 0; i < input.length; i++) {
            input[i] = (byte) i;
        }

        HelperResult r = run(helper(), HelperRequest.of().withStdin(input));

        assertEquals(0, r.exitCode());
        assertArrayEquals(input, r.stdout());
    }

    @Test
    void timeoutKillsTheWholeProcessGroupAndDescendantsThatLeftIt() throws Exception {
        stager.prepare(ID, "1.0.0", """
                sleep 1000 &
                echo $! >> "$DIR/started"
                /usr/bin/setsid sleep 1000 &
                echo $! >> "$DIR/started"
                echo $$ >> "$DIR/started"
                echo ready
                wait
                """);
        EphemeralHelperDispatcher d = dispatcher();
        d.apply(record("1.0.0"));

        HelperResult r = run(helper(), HelperRequest.of().withTimeout(Duration.ofSeconds(3)));

        assertTrue(r.timedOut());
        assertEquals(137, r.exitCode());
        assertFalse(r.succeeded());
        assertEquals("ready\n", r.stdoutText());
        List<Long> pids = startedPids();
        assertEquals(3, pids.size(), "pids written by the script: " + pids);
        pids.forEach(EphemeralHelperDispatcherTest::awaitGone);
    }

    @Test
    void whatAHelperLeavesBehindIsKilledWhenItExits() throws Exception {
        stager.prepare(ID, "1.0.0", """
                sleep 1000 &
                echo $! >> "$DIR/started"
                echo bye
                """);
        EphemeralHelperDispatcher d = dispatcher();
        d.apply(record("1.0.0"));

        // the background sleep holds stdout open: the run ends only because its group is killed
        HelperResult r = run(helper(), HelperRequest.of().withTimeout(Duration.ofSeconds(15)));

        assertEquals(0, r.exitCode());
        assertFalse(r.timedOut());
        assertEquals("bye\n", r.stdoutText());
        assertTrue(r.duration().compareTo(Duration.ofSeconds(15)) < 0);
        startedPids().forEach(EphemeralHelperDispatcherTest::awaitGone);
    }

    @Test
    void concurrencyLimitRejectsTheRunBeyondItAtOnce() throws Exception {
        stager.prepare(ID, "1.0.0", BLOCKING);
        EphemeralHelperDispatcher d = dispatcher(Map.of("max_concurrent_runs", 3));
        d.apply(record("1.0.0"));
        AddonHelper helper = helper();

        List<Future<HelperResult>> runs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            runs.add(runAsync(helper));
        }
        awaitStarted(3);
        HelperException busy = assertThrows(HelperException.class, () -> helper.run(HelperRequest.of()));
        assertEquals(Reason.BUSY, busy.reason());
        assertTrue(busy.getMessage().contains(ID) && busy.getMessage().contains("3 runs in flight"),
                busy.getMessage());
        assertEquals(3, startedPids().size(), "the rejected run started nothing");

        releaseRuns(3);
        for (Future<HelperResult> f : runs) {
            HelperResult r = get(f);
            assertEquals(0, r.exitCode(), r.stderrText());
            assertEquals("got g\n", r.stdoutText());
        }
        releaseRuns(1);
        HelperResult again = helper.run(HelperRequest.of());
        assertEquals("got g\n", again.stdoutText(), "a slot is free again: " + again + " " + again.stderrText());
    }

    // ---------------------------------------------------------------- registration

    @Test
    void serviceIsRegisteredWhileAssignedReplacedOnUpdateAndGoneAfterRemoval() throws Exception {
        stager.prepare(ID, "1.0.0", "echo one");
        stager.prepare(ID, "2.0.0", "echo two");
        EphemeralHelperDispatcher d = dispatcher();
        assertEquals(SupervisionState.PENDING, d.status(new AddonId(ID)).state());

        SupervisionStatus s = d.apply(record("1.0.0"));
        assertEquals(SupervisionState.READY, s.state());
        assertEquals(Optional.of("1.0.0"), s.activeVersion());
        assertEquals(List.of("stage probe 1.0.0", "activate probe 1.0.0", "commit probe 1.0.0"), stager.calls);
        FakeContext.Registration first = helpers().get(0);
        assertEquals(Map.of(AddonHelper.ADDON_ID, ID, AddonHelper.ADDON_VERSION, "1.0.0"), first.properties());
        assertEquals(new AddonId(ID), helper().addon());
        assertEquals("one\n", helper().run(HelperRequest.of()).stdoutText());

        d.apply(record("1.0.0"));
        assertSame(first, helpers().get(0), "applying the same assignment keeps the registration");

        d.apply(record("2.0.0"));
        assertEquals("2.0.0", helpers().get(0).properties().get(AddonHelper.ADDON_VERSION));
        assertEquals("2.0.0", helper().version());
        assertEquals("two\n", helper().run(HelperRequest.of()).stdoutText());
        assertEquals(Optional.of("2.0.0"), d.status(new AddonId(ID)).activeVersion());

        AddonHelper held = helper();
        d.remove(new AddonId(ID));
        assertEquals(List.of(), helpers());
        assertEquals(SupervisionState.PENDING, d.status(new AddonId(ID)).state());
        assertEquals(1, stager.count("remove probe"));
        assertFalse(Files.exists(home));
        HelperException gone = assertThrows(HelperException.class, () -> held.run(HelperRequest.of()));
        assertEquals(Reason.UNAVAILABLE, gone.reason());

        d.remove(new AddonId(ID));   // idempotent
        assertEquals(2, stager.count("remove probe"));
    }

    @Test
    void failedActivationRollsBackAndKeepsThePreviousHelper() throws Exception {
        stager.prepare(ID, "1.0.0", "echo one");
        stager.prepare(ID, "2.0.0", "echo two").toFile().setExecutable(false);
        EphemeralHelperDispatcher d = dispatcher();
        d.apply(record("1.0.0"));

        SupervisionException e = assertThrows(SupervisionException.class, () -> d.apply(record("2.0.0")));

        assertEquals(Disposition.PERMANENT, e.disposition());
        assertEquals("add-on probe: activation failed: helper.sh is not an executable file in version 2.0.0",
                e.getMessage());
        assertEquals(1, stager.count("rollback probe"));
        assertEquals(0, stager.count("commit probe 2.0.0"));
        assertEquals(home.resolve("versions/1.0.0").toRealPath(), home.resolve("current").toRealPath());
        assertEquals("1.0.0", helper().version());
        assertEquals("one\n", helper().run(HelperRequest.of()).stdoutText());
        assertEquals(SupervisionState.READY, d.status(new AddonId(ID)).state());
    }

    @Test
    void adoptRegistersTheStagedCurrentAgainWithoutStaging() throws Exception {
        stager.prepare(ID, "1.0.0", "echo one");
        EphemeralHelperDispatcher first = dispatcher();
        first.apply(record("1.0.0"));
        first.deactivate();
        dispatchers.remove(first);
        assertEquals(List.of(), helpers(), "a stopped dispatcher leaves no service");
        assertTrue(Files.isExecutable(home.resolve("current").resolve(FakeStager.BINARY)), "but the files stay");

        EphemeralHelperDispatcher second = dispatcher();
        SupervisionStatus s = second.adopt(record("1.0.0"));

        assertEquals(SupervisionState.READY, s.state());
        assertEquals(1, stager.count("stage "), "adopt staged nothing: " + stager.calls);
        assertEquals(1, stager.count("current probe"));
        assertEquals("one\n", helper().run(HelperRequest.of()).stdoutText());
    }

    @Test
    void adoptStagesAgainWhenCurrentIsNotTheInstalledVersion() throws Exception {
        stager.prepare(ID, "1.0.0", "echo one");
        EphemeralHelperDispatcher d = dispatcher();

        SupervisionStatus s = d.adopt(record("1.0.0"));

        assertEquals(SupervisionState.READY, s.state());
        assertEquals(1, stager.count("stage probe 1.0.0"));
        assertEquals("one\n", helper().run(HelperRequest.of()).stdoutText());
    }

    @Test
    void aVanishedProgramIsReportedFailedSoCoreAppliesItAgain() throws Exception {
        stager.prepare(ID, "1.0.0", "echo one");
        EphemeralHelperDispatcher d = dispatcher();
        d.apply(record("1.0.0"));
        Files.delete(home.resolve("versions/1.0.0").resolve(FakeStager.BINARY));

        assertEquals(SupervisionState.FAILED, d.status(new AddonId(ID)).state());
        HelperException e = assertThrows(HelperException.class, () -> helper().run(HelperRequest.of()));
        assertEquals(Reason.START_FAILED, e.reason());
    }

    @Test
    void compiledInDeliveryIsRejected() {
        EphemeralHelperDispatcher d = dispatcher();
        SupervisionException e = assertThrows(SupervisionException.class, () -> d.apply(record("1.0.0",
                "compiled_in", Optional.empty(), List.of(), Map.of(), List.of())));
        assertEquals(Disposition.PERMANENT, e.disposition());
        assertTrue(e.getMessage().startsWith("add-on probe: apply failed:"), e.getMessage());
        assertEquals(List.of(), helpers());
    }

    @Test
    void osPackageRunsTheInstalledProgram() throws Exception {
        Path program = tmp.resolve("usr/lib/probe/helper");
        Files.createDirectories(program.getParent());
        Files.writeString(program, "#!/bin/bash\necho \"packaged $1 in $(pwd)\"\n");
        program.toFile().setExecutable(true);
        EphemeralHelperDispatcher d = dispatcher();

        d.apply(record("1.0.0", "os_package", Optional.of(program.toString()), List.of(), Map.of(), List.of()));

        assertEquals("packaged x in /\n", helper().run(HelperRequest.of("x")).stdoutText());
        assertEquals(0, stager.calls.size(), "nothing staged: " + stager.calls);
    }

    @Test
    void capabilitiesNeedThePrivilegedServiceAndRunItsCopy() throws Exception {
        stager.prepare(ID, "1.0.0", "echo staged");
        Path copy = tmp.resolve("privileged/probe/helper.sh");
        Files.createDirectories(copy.getParent());
        Files.writeString(copy, "#!/bin/bash\necho privileged copy\n");
        copy.toFile().setExecutable(true);
        EphemeralHelperDispatcher d = dispatcher();
        AddonRecord withCaps = record("1.0.0", "pushed_artifact", Optional.empty(), List.of(), Map.of(),
                List.of("cap_net_raw"));

        SupervisionException e = assertThrows(SupervisionException.class, () -> d.apply(withCaps));
        assertEquals(Disposition.TRANSIENT, e.disposition());
        assertTrue(e.getMessage().contains("no privileged-operations service"), e.getMessage());
        assertEquals(1, stager.count("rollback probe"));

        List<String> granted = new ArrayList<>();
        d.privileged = new PrivilegedOperations() {
            @Override
            public Path grantCapabilities(AddonId id, StagedArtifact staged, String binary, List<String> caps) {
                granted.add(id + " " + binary + " " + caps);
                return copy;
            }

            @Override
            public void release(AddonId id) {
                granted.add("release " + id);
            }
        };
        d.apply(withCaps);
        assertEquals("privileged copy\n", helper().run(HelperRequest.of()).stdoutText());
        d.remove(new AddonId(ID));
        assertEquals(List.of("probe helper.sh [cap_net_raw]", "release probe"), granted);
    }

    // ---------------------------------------------------------------- removal and stop with runs in flight

    @Test
    void removalWithFinishWaitsForTheRunInFlight() throws Exception {
        stager.prepare(ID, "1.0.0", BLOCKING);
        EphemeralHelperDispatcher d = dispatcher(Map.of("in_flight_on_remove", "finish",
                "in_flight_grace_seconds", 60));
        d.apply(record("1.0.0"));
        AddonHelper helper = helper();
        Future<HelperResult> inFlight = runAsync(helper);
        awaitStarted(1);

        CompletableFuture<Void> removal = CompletableFuture.runAsync(() -> {
            try {
                d.remove(new AddonId(ID));
            } catch (SupervisionException e) {
                throw new IllegalStateException(e);
            }
        }, callers);
        await("the service is unregistered", () -> helpers().isEmpty());
        HelperException refused = assertThrows(HelperException.class, () -> helper.run(HelperRequest.of()));
        assertEquals(Reason.UNAVAILABLE, refused.reason());
        // the run is blocked on the FIFO, so the removal is still waiting for it
        assertFalse(removal.isDone(), "removal waits for the run in flight");
        assertEquals(0, stager.count("remove "), "nothing removed while the run is in flight");

        releaseRuns(1);
        HelperResult r = get(inFlight);
        assertEquals(0, r.exitCode());
        assertEquals("got g\n", r.stdoutText());
        removal.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
        assertEquals(1, stager.count("remove probe"));
    }

    @Test
    void removalWithKillKillsTheRunInFlight() throws Exception {
        stager.prepare(ID, "1.0.0", BLOCKING);
        EphemeralHelperDispatcher d = dispatcher(Map.of("in_flight_on_remove", "kill"));
        d.apply(record("1.0.0"));
        Future<HelperResult> inFlight = runAsync(helper());
        awaitStarted(1);

        d.remove(new AddonId(ID));

        assertEquals(Reason.ABORTED, failureOf(inFlight).reason());
        awaitGone(startedPids().get(0));
        assertEquals(List.of(), helpers());
        assertEquals(1, stager.count("remove probe"));
    }

    @Test
    void finishRuleKillsARunThatOutlastsTheGrace() throws Exception {
        stager.prepare(ID, "1.0.0", BLOCKING);
        EphemeralHelperDispatcher d = dispatcher(Map.of("in_flight_on_remove", "finish",
                "in_flight_grace_seconds", 1));
        d.apply(record("1.0.0"));
        Future<HelperResult> inFlight = runAsync(helper());
        awaitStarted(1);

        long t0 = System.nanoTime();
        d.remove(new AddonId(ID));
        long tookMillis = (System.nanoTime() - t0) / 1_000_000;

        assertTrue(tookMillis >= 1000 && tookMillis < DEADLINE.toMillis(), "removal took " + tookMillis + " ms");
        assertEquals(Reason.ABORTED, failureOf(inFlight).reason());
        awaitGone(startedPids().get(0));
        assertEquals(1, stager.count("remove probe"));
    }

    @Test
    void deactivateUnregistersKillsRunsInFlightAndStopsItsThreads() throws Exception {
        stager.prepare(ID, "1.0.0", BLOCKING);
        EphemeralHelperDispatcher d = dispatcher(Map.of("in_flight_on_remove", "kill"));
        d.apply(record("1.0.0"));
        Future<HelperResult> inFlight = runAsync(helper());
        awaitStarted(1);
        await("pump threads serve the run", () -> !helperThreads().isEmpty());   // submitted just after the start

        d.deactivate();
        dispatchers.remove(d);

        assertEquals(Reason.ABORTED, failureOf(inFlight).reason());
        awaitGone(startedPids().get(0));
        assertEquals(List.of(), helpers());
        assertEquals(0, stager.count("remove "), "a stop removes nothing from disk");
        await("no ephemeral-helper-* thread is left (" + helperThreads() + ")", () -> helperThreads().isEmpty());
        SupervisionException e = assertThrows(SupervisionException.class, () -> d.apply(record("1.0.0")));
        assertEquals(Disposition.TRANSIENT, e.disposition());
    }

    @Test
    void deactivateWithFinishLetsTheRunComplete() throws Exception {
        stager.prepare(ID, "1.0.0", BLOCKING);
        EphemeralHelperDispatcher d = dispatcher(Map.of("in_flight_grace_seconds", 60));
        d.apply(record("1.0.0"));
        Future<HelperResult> inFlight = runAsync(helper());
        awaitStarted(1);

        CompletableFuture<Void> stop = CompletableFuture.runAsync(d::deactivate, callers);
        dispatchers.remove(d);
        await("the service is unregistered", () -> helpers().isEmpty());
        assertFalse(stop.isDone(), "the stop waits for the run in flight");
        releaseRuns(1);

        HelperResult r = get(inFlight);
        assertEquals("got g\n", r.stdoutText(), r + " " + r.stderrText());
        stop.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
        await("no ephemeral-helper-* thread is left (" + helperThreads() + ")", () -> helperThreads().isEmpty());
    }

    private static List<String> helperThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("ephemeral-helper-")).toList();
    }

    // ---------------------------------------------------------------- configuration

    @Test
    void badConfigurationIsRefusedNamingTheProperty() {
        Map<String, Map<String, Object>> bad = new HashMap<>();
        bad.put("max.concurrent.runs", Map.of("max_concurrent_runs", 0));
        bad.put("in.flight.on.remove", Map.of("in_flight_on_remove", "later"));
        bad.put("in.flight.grace.seconds", Map.of("in_flight_grace_seconds", -1));
        bad.put("setsid.path", Map.of("setsid_path", "setsid"));
        bad.put("kill.path", Map.of("kill_path", "/nonexistent/kill"));
        bad.forEach((property, settings) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new EphemeralHelperDispatcher(context.context, stager, config(settings)));
            assertTrue(e.getMessage().startsWith(property), e.getMessage());
        });
    }
}
