package io.steward.supervision.sidecar.internal;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;

/**
 * Starts a sidecar so that it is not a child of the agent: the JDK keeps one {@code process reaper} thread
 * blocked in {@code waitpid} for every live child, which made the agent's thread count grow with its sidecars.
 * <p>
 * The agent runs a short-lived launcher ({@code /bin/sh}) that forks a keeper — a subshell of a few lines that
 * ignores the signals a terminal sends the agent's process group — and exits once the keeper has reported the
 * pids. The keeper starts the program as the leader of a new session (same environment, plus {@value Launches#ENV}, which the keeper itself does not carry), waits
 * for it, and writes {@code <launch id> <wait status>} atomically to the add-on's exit file, so whoever
 * supervises the add-on then — this dispatcher, the next one, or the next agent — learns how it ended.
 * The keeper is reaped by PID 1 (or the service manager), never by the agent. Stateless.
 */
final class Keeper {
    private static final String SH = "/bin/sh";
    /**
     * The launcher, with $0 {@code steward-keeper}, $1 launch id, $2 exit file, $3 stdout log, $4 stderr log, then
     * the command. The keeper is a forked subshell (no exec: a fork is cheap, an exec of {@code /bin/sh} or
     * {@code setsid} costs milliseconds); it stays in the agent's process group and ignores what a terminal or a
     * hangup sends that group, and its command line (the launcher's) carries the launch id. Its report goes
     * through a pipe to a reader that the launcher waits for, so the agent reads the line from the launcher's own
     * stdout before the launcher exits (the JDK drains and closes a child's pipe when the child exits; a line
     * written to it later would be lost).
     */
    private static final String LAUNCH = """
            launch=$1 exits=$2 out=$3 err=$4; shift 4
            { {
            trap '' HUP INT QUIT TERM TSTP
            read -r self rest </proc/self/stat
            STEWARD_LAUNCH_ID=$launch /usr/bin/setsid "$@" </dev/null >>"$out" 2>>"$err" &
            child=$!
            echo "$self $child"
            exec >/dev/null
            wait "$child"
            status=$?
            printf '%s %s\n' "$launch" "$status" >"$exits.$self" && mv -f "$exits.$self" "$exits"
            } & } | { IFS= read -r line; printf '%s\n' "$line"; }
            """;
    private static final long LAUNCH_TIMEOUT_SECONDS = 10;

    /** A keeper, known by pid and start time (a recycled pid is another process), and what it records. */
    record Watch(long pid, long startTicks, Path exitFile, String launchId) {
        boolean alive() {
            return Processes.alive(pid, startTicks);
        }

        /**
         * Whether the keeper has recorded how this launch ended: one stat, and a read only once the file is there
         * ({@link File#exists} rather than {@code Files.exists}, which throws and catches for a missing file).
         */
        boolean recorded() {
            return exitFile.toFile().exists() && status().isPresent();
        }

        /** The wait status the keeper recorded for this launch (128 + n for signal n); empty until it has. */
        OptionalInt status() {
            return exitStatus(exitFile, launchId);
        }
    }

    /** A started program: its pid and start time, and its keeper. */
    record Launched(long pid, long startTicks, Watch keeper) {
    }

    private Keeper() {
    }

    /**
     * Starts {@code command} (absolute program path first) in {@code dir} with exactly {@code env}, output
     * appended to {@code out} and {@code err}.
     */
    static Launched launch(List<String> command, Map<String, String> env, Path dir, String launchId, Path exitFile,
                           Path out, Path err) throws IOException {
        Files.deleteIfExists(exitFile);
        List<String> argv = new ArrayList<>(List.of(SH, "-c", LAUNCH, "steward-keeper", launchId, exitFile.toString(),
                out.toString(), err.toString()));
        argv.addAll(command);
        ProcessBuilder pb = new ProcessBuilder(argv).directory(dir.toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.redirectError(ProcessBuilder.Redirect.appendTo(err.toFile()));
        Process launcher = pb.start();
        String line;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(launcher.getInputStream(), StandardCharsets.US_ASCII))) {
            line = r.readLine();
        }
        try {
            if (!launcher.waitFor(LAUNCH_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                launcher.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        String[] pids = line == null ? new String[0] : line.trim().split(" ");
        if (pids.length != 2 || !Processes.isNumber(pids[0]) || !Processes.isNumber(pids[1])) {
            throw new IOException("its keeper (" + SH + ") did not start: the launcher said "
                    + (line == null || line.isBlank() ? "nothing" : "\"" + line.strip() + "\"") + " (see " + err + ")");
        }
        long keeperPid = Long.parseLong(pids[0]);
        long pid = Long.parseLong(pids[1]);
        // a keeper that already ended (its program exited at once) still wrote the status: start ticks -1
        Watch keeper = new Watch(keeperPid, Processes.stat(keeperPid).map(Processes.Stat::startTicks).orElse(-1L),
                exitFile, launchId);
        return new Launched(pid, Processes.stat(pid).map(Processes.Stat::startTicks).orElse(-1L), keeper);
    }

    /**
     * The keeper of a process found again after a restart: its parent, when that is still the keeper started for
     * {@code launchId} (its command line carries the launch id); empty when the keeper is gone.
     */
    static Optional<Watch> of(long pid, String launchId, Path exitFile) {
        Optional<Processes.Stat> child = Processes.stat(pid);
        if (child.isEmpty() || child.get().ppid() <= 1 || launchId == null) {
            return Optional.empty();
        }
        long ppid = child.get().ppid();
        try {
            byte[] cmdline = Files.readAllBytes(Path.of("/proc", Long.toString(ppid), "cmdline"));
            if (!new String(cmdline, StandardCharsets.US_ASCII).contains("\0steward-keeper\0" + launchId + "\0")) {
                return Optional.empty();
            }
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
        return Processes.stat(ppid).map(st -> new Watch(ppid, st.startTicks(), exitFile, launchId));
    }

    /** The status recorded in {@code exitFile} for {@code launchId}; empty when none (or another launch's). */
    static OptionalInt exitStatus(Path exitFile, String launchId) {
        try {
            String[] f = Files.readString(exitFile, StandardCharsets.US_ASCII).trim().split(" ");
            if (f.length == 2 && f[0].equals(launchId) && Processes.isNumber(f[1]) && f[1].length() <= 3) {
                return OptionalInt.of(Integer.parseInt(f[1]));
            }
        } catch (IOException e) {         // none yet (NoSuchFileException) or unreadable: not recorded
            return OptionalInt.empty();
        }
        return OptionalInt.empty();
    }
}
