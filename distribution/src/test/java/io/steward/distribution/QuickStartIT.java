package io.steward.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's quick start, black box, with the commands taken from the README itself: the agent
 * command of the first fenced block (after the build's {@code &&}), then every line of the second
 * block in order, in a copy of the built tree laid out as in a clone ({@code distribution/target/steward}).
 * A README edit or a change that breaks the path fails here. Between the README's steps it checks
 * what a new user meets: a second agent on the same data refuses at once, exit 2, in one sentence;
 * {@code apply} beside the agent says so once; after it, the end of {@code run --shell}'s console stops
 * that agent.
 */
class QuickStartIT {
    private static final Path HOME = Path.of(System.getProperty("steward.home", "target/steward")).toAbsolutePath();
    private static final Path README = Path.of(System.getProperty("steward.readme", "../README.md")).toAbsolutePath();
    private static final Duration DEADLINE = Duration.ofSeconds(120);
    private static final Pattern FENCE = Pattern.compile("(?ms)^```sh\\n(.*?)^```");

    @TempDir
    Path tmp;
    private int runs;

    /** What one command line did. */
    record Run(String line, int exit, String stdout, String stderr) {
        @Override
        public String toString() {
            return line + "\nexit " + exit + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
        }
    }

    /** The commands of the README's fenced {@code sh} blocks, comments and blank lines dropped. */
    static List<List<String>> blocks(String readme) {
        List<List<String>> blocks = new ArrayList<>();
        Matcher m = FENCE.matcher(readme);
        while (m.find()) {
            List<String> lines = new ArrayList<>();
            for (String line : m.group(1).split("\n")) {
                int comment = line.indexOf(" #");
                String command = (comment >= 0 ? line.substring(0, comment) : line).strip();
                if (!command.isEmpty() && !command.startsWith("#")) {
                    lines.add(command);
                }
            }
            blocks.add(lines);
        }
        return blocks;
    }

    @Test
    void theQuickStartWorksAsWritten() throws Exception {
        List<List<String>> blocks = blocks(Files.readString(README, StandardCharsets.UTF_8));
        String build = blocks.get(0).get(0);
        assertTrue(build.startsWith("mvn ") && build.contains(" && "), "the first command builds, then runs: " + build);
        String agentCommand = build.substring(build.indexOf(" && ") + 4).strip();
        List<String> steps = blocks.get(1);

        Path clone = Files.createDirectories(tmp.resolve("clone"));
        Path tree = clone.resolve("distribution/target/steward");
        copyTree(HOME, tree);

        Path agentOut = tmp.resolve("agent.out");
        Path agentErr = tmp.resolve("agent.err");
        Process agent = shell(agentCommand, clone).redirectOutput(agentOut.toFile()).redirectError(agentErr.toFile())
                .start();
        Path cwd = clone;
        try {
            for (String step : steps) {
                if (step.startsWith("cd ")) {
                    cwd = cwd.resolve(step.substring(3).strip()).normalize();
                    assertTrue(Files.isDirectory(cwd), step);
                } else if (step.startsWith("tail -f ")) {
                    follow(step, cwd);
                } else if (step.endsWith("steward status")) {
                    Run[] last = new Run[1];
                    Path dir = cwd;
                    await("'" + step + "' shows the agent and four add-ons ready", () -> {
                        last[0] = run(step, dir);
                        return last[0].exit() == 0 && last[0].stdout().startsWith("agent: running (pid ")
                                && last[0].stdout().lines().filter(l -> l.matches("\\S+ +\\S+ +ready .*")).count() == 4;
                    }, () -> last[0] + "\n--- agent stderr\n" + read(agentErr));
                    beside(agent, cwd);
                } else if (step.startsWith("cp ")) {
                    Run cp = run(step, cwd);
                    assertEquals(0, cp.exit(), cp::toString);
                    Run[] last = new Run[1];
                    Path dir = cwd;
                    await("the agent removed the demo add-ons after '" + step + "'", () -> {
                        last[0] = run("bin/steward status", dir);
                        // removed add-ons leave the ledger: the agent's shell lists them as removed for a while
                        return last[0].exit() == 0 && last[0].stdout().startsWith("agent: running (pid ")
                                && last[0].stdout().contains("\nno add-ons");
                    }, () -> last[0] + "\n--- agent stderr\n" + read(agentErr));
                } else {
                    Run r = run(step, cwd);
                    assertEquals(0, r.exit(), r::toString);
                    if (step.contains("steward plan")) {
                        assertEquals(4, r.stdout().lines().filter(l -> l.startsWith("remove ")).count(), r::toString);
                        assertEquals("", r.stderr(), r::toString);
                    }
                }
            }
            assertTrue(agent.isAlive(), "the agent still runs:\n" + read(agentErr));
            assertEquals("", read(agentErr), "the agent logged nothing a user must act on");
            agent.destroy();                                // Ctrl-C / SIGTERM
            assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "the agent stops on SIGTERM");

            // the shell: its end (Ctrl-D, here the end of stdin) stops the agent, which exits 0 and frees the data
            Run shell = run("bin/steward run --shell < /dev/null", tree);
            assertEquals(0, shell.exit(), shell::toString);
            Run after = run("bin/steward status", tree);
            assertTrue(after.stdout().startsWith("agent: not running"), after::toString);
            Run exit = run("printf 'steward:kinds\\nexit\\n' | bin/steward run --shell", tree);
            assertEquals(0, exit.exit(), exit::toString);
            assertTrue(exit.stdout().contains("Ctrl-D or exit stops the agent"), "the shell says how to leave: " + exit);
            assertTrue(exit.stdout().contains("config_toggle"), exit::toString);
            assertTrue(!exit.stdout().contains("Exception") && !exit.stderr().contains("Exception"), exit::toString);
        } finally {
            if (agent.isAlive()) {
                agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            killSidecar(tree);
        }
    }

    /** Beside the running agent: a second agent refuses at start, apply says why once; both leave it alone. */
    private void beside(Process agent, Path tree) throws Exception {
        Run second = run("bin/steward run --shell < /dev/null", tree);
        assertEquals(2, second.exit(), second::toString);
        List<String> lines = second.stderr().lines().toList();
        assertEquals(1, lines.size(), second::toString);
        assertTrue(lines.get(0).startsWith("steward: another Steward agent is working on " + tree.resolve("data")
                + " (it holds " + tree.resolve("data/state/agent.lock") + ": pid " + agent.pid() + " agent since "),
                second::toString);
        assertTrue(lines.get(0).endsWith("); stop it or use its shell"), second::toString);

        Run apply = run("bin/steward apply -a demo/none.json", tree);
        assertEquals(1, apply.exit(), apply::toString);
        assertEquals(1, apply.stderr().lines().count(), "said once: " + apply);
        assertTrue(apply.stderr().contains("another Steward agent is working on"), apply::toString);
        assertTrue(agent.isAlive(), "the agent still runs");
    }

    /** {@code tail -f}: shows a line of the sidecar's output, then the user ends it. */
    private void follow(String step, Path cwd) throws Exception {
        Path out = tmp.resolve("tail.out");
        Process tail = shell("exec " + step, cwd).redirectOutput(out.toFile())
                .redirectError(tmp.resolve("tail.err").toFile()).start();
        try {
            await("'" + step + "' shows the sidecar's output", () -> read(out).contains("demo heartbeat"),
                    () -> read(out) + read(tmp.resolve("tail.err")));
        } finally {
            tail.destroy();
            tail.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private Run run(String line, Path cwd) {
        int n = ++runs;
        Path out = tmp.resolve("step-" + n + ".out");
        Path err = tmp.resolve("step-" + n + ".err");
        try {
            Process p = shell(line, cwd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                fail(line + " did not finish within " + DEADLINE.toSeconds() + " s; stderr:\n" + read(err));
            }
            return new Run(line, p.exitValue(), read(out), read(err));
        } catch (IOException e) {
            throw new AssertionError(line + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(line + ": interrupted", e);
        }
    }

    private static ProcessBuilder shell(String line, Path cwd) {
        ProcessBuilder builder = new ProcessBuilder("bash", "-c", line).directory(cwd.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        builder.environment().remove("STEWARD_HOME");
        builder.environment().remove("STEWARD_JAVA_OPTS");
        builder.environment().remove("DBUS_SYSTEM_BUS_ADDRESS");
        return builder;
    }

    /** The built tree without what a run left in it (data, caches). */
    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                Path rel = from.relativize(p);
                if (rel.startsWith("cache") || rel.startsWith("data") && rel.getNameCount() > 1
                        && !rel.equals(Path.of("data/README"))) {
                    continue;
                }
                Path target = to.resolve(rel.toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }

    /** A sidecar the test left running (it failed before the demo was removed). */
    private static void killSidecar(Path tree) throws Exception {
        Path state = tree.resolve("data/state/sidecar/demo-heartbeat.json");
        if (Files.exists(state)) {
            Matcher m = Pattern.compile("\"pid\"\\s*:\\s*(\\d+)").matcher(Files.readString(state));
            if (m.find()) {
                new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + m.group(1)).start().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static void await(String what, BooleanSupplier condition, Supplier<String> diagnostic)
            throws InterruptedException {
        long end = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                fail("timed out after " + DEADLINE.toSeconds() + " s waiting until " + what + "; " + diagnostic.get());
            }
            Thread.sleep(250);      // polling interval of a condition with a deadline, not synchronisation
        }
    }
}
