package io.steward.supervision.ephemeral.helper.internal;

import io.steward.helper.AddonHelper;
import io.steward.helper.HelperException;
import io.steward.helper.HelperException.Reason;
import io.steward.helper.HelperRequest;
import io.steward.helper.HelperResult;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs helper programs. Each run is started through {@code setsid(1)}, so the program leads a
 * process group of its own (a child of the JVM is never a group leader, so {@code setsid} execs in
 * place and the group id is the pid Java sees). The calling thread waits for the program; stdin is
 * fed and stdout/stderr are drained by the component's {@code io} executor. When the program exits or
 * times out, its whole group is killed with {@code kill -KILL -- -pgid}, and so are its descendants
 * found through {@link ProcessHandle} (which catches one that left the group but kept its parent):
 * nothing a helper started outlives its run, and no pipe stays open behind it.
 */
final class ProcessRunner {
    /** The only {@code PATH} a helper sees; nothing of the agent's environment is passed on. */
    static final String PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private static final Logger LOG = LoggerFactory.getLogger(ProcessRunner.class);
    private static final Duration KILL_WAIT = Duration.ofSeconds(5);

    private final Path setsid;
    private final Path kill;
    private final int outputLimit;
    private final Duration drainGrace;
    private final ExecutorService io;
    private final String owner = OrphanRuns.self();

    /**
     * @param setsid      absolute path of {@code setsid(1)}
     * @param kill        absolute path of {@code kill(1)}
     * @param outputLimit bytes kept per stream and run
     * @param drainGrace  how long output may keep flowing after the group was killed
     * @param io          runs the stdin feeder and the output drainers
     */
    ProcessRunner(Path setsid, Path kill, int outputLimit, Duration drainGrace, ExecutorService io) {
        this.setsid = setsid;
        this.kill = kill;
        this.outputLimit = outputLimit;
        this.drainGrace = drainGrace;
        this.io = io;
    }

    /** Runs {@code request} on the calling thread's behalf; {@code run} is how others may abort it. */
    HelperResult run(Invocation invocation, HelperRequest request, HelperRun run) throws HelperException {
        String helper = invocation.id().value();
        if (!Files.isRegularFile(invocation.executable()) || !Files.isExecutable(invocation.executable())) {
            throw new HelperException(Reason.START_FAILED, "helper " + helper + " cannot start: "
                    + invocation.executable() + " is not an executable file");
        }
        List<String> command = new ArrayList<>();
        command.add(setsid.toString());
        command.add(invocation.executable().toString());
        command.addAll(invocation.args());
        command.addAll(request.args());
        ProcessBuilder builder = new ProcessBuilder(command).directory(invocation.workingDirectory().toFile());
        Map<String, String> env = builder.environment();
        env.clear();
        env.put("PATH", PATH);
        env.putAll(invocation.env());
        env.putAll(request.env());
        env.put(AddonHelper.ENV_ADDON_ID, helper);
        env.put(AddonHelper.ENV_ADDON_SPOOL, invocation.spool().toString());
        env.put(OrphanRuns.ENV, owner);     // a later agent kills the run if this one dies under it

        long t0 = System.nanoTime();
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new HelperException(Reason.START_FAILED, "helper " + helper + " cannot start: " + e.getMessage(), e);
        }
        if (!run.attach(process)) {
            killGroup(process);
            throw aborted(helper);
        }
        OutputCapture stdout = new OutputCapture(outputLimit);
        OutputCapture stderr = new OutputCapture(outputLimit);
        List<Future<?>> pumps = new ArrayList<>(3);
        try {
            pumps.add(io.submit(() -> stdout.drain(process.getInputStream())));
            pumps.add(io.submit(() -> stderr.drain(process.getErrorStream())));
            byte[] stdin = request.stdin();
            pumps.add(io.submit(() -> feed(process.getOutputStream(), stdin)));
        } catch (RejectedExecutionException e) {
            killGroup(process);
            throw new HelperException(Reason.UNAVAILABLE, "helper " + helper + " cannot run: its bundle is stopping", e);
        }

        boolean timedOut = false;
        try {
            if (!process.waitFor(request.timeout().toNanos(), TimeUnit.NANOSECONDS)) {
                timedOut = true;
                LOG.info("Helper {} timed out after {} ms; killing its process group", helper,
                        request.timeout().toMillis());
                killGroup(process);
                process.waitFor(KILL_WAIT.toNanos(), TimeUnit.NANOSECONDS);
            }
        } catch (InterruptedException e) {
            killGroup(process);
            Thread.currentThread().interrupt();
            throw new HelperException(Reason.INTERRUPTED, "helper " + helper
                    + " was killed: the thread waiting for it was interrupted", e);
        }
        // The program is gone; whatever it started in its group goes too, and with it the last
        // writers of the pipes, so the drainers reach end of file.
        killGroup(process);
        awaitPumps(helper, process, pumps);
        if (run.aborted()) {
            throw aborted(helper);
        }
        // 137 (SIGKILL) if a killed program is still not reaped, e.g. stuck in uninterruptible I/O
        int exit = process.isAlive() ? 137 : process.exitValue();
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        LOG.debug("Helper {} exited with {} in {} ms", helper, exit, took.toMillis());
        return new HelperResult(exit, stdout.bytes(), stderr.bytes(), took, timedOut, stdout.truncated(),
                stderr.truncated());
    }

    private static HelperException aborted(String helper) {
        return new HelperException(Reason.ABORTED, "helper " + helper
                + " was killed while running: it was removed or its bundle stopped");
    }

    private static void feed(OutputStream stdin, byte[] bytes) {
        try (stdin) {
            stdin.write(bytes);
        } catch (IOException e) {
            // the program exited or closed stdin without reading everything: not an error of the run
        }
    }

    private void awaitPumps(String helper, Process process, List<Future<?>> pumps) {
        long deadline = System.nanoTime() + drainGrace.toNanos();
        for (Future<?> pump : pumps) {
            try {
                pump.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                // Only a process that left both the group and the family of the helper keeps a pipe open
                // this long. Closing our ends may not wake a blocked read; the drainer then ends with it.
                LOG.warn("Helper {}: a process it started still holds its output open after the run; "
                        + "output cut", helper);
                closeQuietly(process);
                return;
            } catch (ExecutionException e) {
                LOG.debug("Helper {}: an output pump failed", helper, e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void closeQuietly(Process process) {
        try {
            process.getInputStream().close();
            process.getErrorStream().close();
            process.getOutputStream().close();
        } catch (IOException e) {
            LOG.debug("Closing the pipes of pid {} failed", process.pid(), e);
        }
    }

    /**
     * SIGKILL to the run's process group and to every descendant still known. Idempotent; safe after
     * the program exited (an empty group is a no-op: a group id is not reused while any member lives).
     */
    void killGroup(Process process) {
        // before the kill: once the group is gone, orphans are no longer descendants of anything we hold
        List<ProcessHandle> descendants = process.descendants().toList();
        signalGroup(process.pid());
        descendants.forEach(ProcessHandle::destroyForcibly);
        // the handle, not Process.destroyForcibly(): that one also closes our ends of the pipes, and
        // output the drainers have not read yet would be lost
        process.toHandle().destroyForcibly();
    }

    /** Kills the process group of every run whose agent died under it; how many there were. */
    int killOrphans() {
        List<Long> orphans = OrphanRuns.find();
        orphans.forEach(this::signalGroup);
        return orphans.size();
    }

    private void signalGroup(long pgid) {
        ProcessBuilder builder = new ProcessBuilder(kill.toString(), "-KILL", "--", "-" + pgid)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        builder.environment().clear();
        try {
            Process k = builder.start();
            if (!k.waitFor(KILL_WAIT.toNanos(), TimeUnit.NANOSECONDS)) {
                k.destroyForcibly();
                LOG.warn("{} did not return within {} s while killing process group {}", kill,
                        KILL_WAIT.toSeconds(), pgid);
            }
        } catch (IOException e) {
            LOG.warn("Cannot run {} to kill process group {}: {}", kill, pgid, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
