package io.steward.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OptionsTest {

    private static Options parse(String... args) throws UsageException {
        return Options.parse(List.of(args));
    }

    @Test
    void parsesCommandAndOptions() throws UsageException {
        Options options = parse("apply", "-a", "doc.json", "--json", "--data", "/d", "--etc=/e",
                "--trust", "/t", "--unit-dir", "/u", "--privileged-root", "/p", "--systemd-bus", "unix:path=/b",
                "--verbose");
        assertEquals(Command.APPLY, options.command());
        assertEquals(Optional.of("doc.json"), options.value(Option.ASSIGNMENTS));
        assertEquals(Optional.of("/e"), options.value(Option.ETC));
        assertEquals(Optional.of("unix:path=/b"), options.value(Option.SYSTEMD_BUS));
        assertTrue(options.flag(Option.JSON));
        assertTrue(options.flag(Option.VERBOSE));
        assertFalse(options.flag(Option.SHELL));
    }

    @Test
    void artifactToolsPassTheirOwnArgumentsOnAndKeepThePlatformOptions() throws UsageException {
        Options options = parse("pack", "addon dir", "--key", "demo.pem", "--trust", "/t", "--out", "a.tar.gz",
                "--json", "--verbose");
        assertEquals(Command.PACK, options.command());
        assertEquals(List.of("addon dir", "--key", "demo.pem", "--out", "a.tar.gz", "--json"), options.toolArgs());
        assertEquals(Optional.of("/t"), options.value(Option.TRUST));
        assertTrue(options.flag(Option.VERBOSE));
        assertEquals(List.of("--out", "k"), parse("keygen", "--out", "k").toolArgs());
        assertEquals(List.of("f", "--version", "1.0"), parse("verify", "f", "--version", "1.0").toolArgs(),
                "--version after a tool is the tool's option");
    }

    @Test
    void toolArgumentsBecomeOneJsonArray() {
        assertEquals("[\"a b\",\"q\\\"uote\",\"back\\\\slash\",\"\\u0001\"]",
                FrameworkProperties.jsonArray(List.of("a b", "q\"uote", "back\\slash", "\u0001")));
        assertEquals("[]", FrameworkProperties.jsonArray(List.of()));
    }

    @Test
    void longAssignmentsWithEquals() throws UsageException {
        assertEquals(Optional.of("x.json"), parse("plan", "--assignments=x.json").value(Option.ASSIGNMENTS));
    }

    @Test
    void everyCommandWithoutOptions() throws UsageException {
        assertEquals(Command.RUN, parse("run").command());
        assertEquals(Command.PLAN, parse("plan").command());
        assertEquals(Command.STATUS, parse("status").command());
        assertEquals(Command.HELP, parse("help").command());
        assertTrue(parse("run", "--shell").flag(Option.SHELL));
    }

    @Test
    void helpAndVersion() throws UsageException {
        assertEquals(Command.HELP, parse("--help").command());
        assertEquals(Command.HELP, parse("-h").command());
        assertEquals(Command.HELP, parse("apply", "--help").command());
        assertTrue(parse("--version").version());
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "''                              | missing command",
        "frobnicate                      | unknown command frobnicate",
        "--foo                           | unknown option --foo",
        "--data /d                       | missing command before --data",
        "status --foo                    | unknown option --foo",
        "status --foo=bar                | unknown option --foo",
        "status -x                       | unknown option -x",
        "status extra                    | unexpected argument extra",
        "status -                        | unexpected argument -",
        "apply                           | 'apply' needs -a FILE",
        "apply --json                    | 'apply' needs -a FILE",
        "apply -a                        | option -a needs a value",
        "apply --assignments=            | option --assignments needs a value",
        "apply -a --json                 | option -a needs a value",
        "status --data                   | option --data needs a value",
        "status --etc                    | option --etc needs a value",
        "status --trust                  | option --trust needs a value",
        "status --unit-dir               | option --unit-dir needs a value",
        "status --privileged-root        | option --privileged-root needs a value",
        "status --systemd-bus            | option --systemd-bus needs a value",
        "status --json=yes               | option --json takes no value",
        "status --data /a --data /b      | option --data is given twice",
        "apply -a x --assignments y      | option --assignments is given twice",
        "apply -a x --shell              | option --shell does not apply to 'apply'",
        "status -a x                     | option -a does not apply to 'status'",
        "run --json                      | option --json does not apply to 'run'",
        "help --data /d                  | option --data does not apply to 'help'",
        "--version extra                 | unexpected argument extra after --version",
    })
    void invalidInvocation(String line, String expected) {
        List<String> args = line.isBlank() ? List.of() : List.of(line.trim().split("\\s+"));
        UsageException e = assertThrows(UsageException.class, () -> Options.parse(args));
        assertEquals(expected, e.getMessage());
    }

    @Test
    void mainPrintsOneSentenceAndExitsTwo() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = Main.run(List.of("status", "--foo"), Map.of(), stream(out), stream(err));
        assertEquals(2, exit);
        assertEquals("", out.toString(StandardCharsets.UTF_8));
        assertEquals("steward: unknown option --foo; see 'steward help'\n", err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void mainHelpGoesToStdout() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, Main.run(List.of("help"), Map.of(), stream(out), stream(err)));
        String help = out.toString(StandardCharsets.UTF_8);
        assertTrue(help.startsWith("Usage: steward <command> [options]"), help);
        for (Command command : Command.values()) {
            assertTrue(help.contains("  " + command.word() + " "), command.word());
        }
        for (Option option : Option.values()) {
            assertTrue(help.contains(option.longName()), option.longName());
        }
        // the artifact tools' own flags (parsed by the delivery bundle)
        for (String flag : List.of("--out", "--key", "--expect-id", "--expect-version", "--id", "--version", "--sha256",
                "--signature")) {
            assertTrue(help.contains(flag + " "), flag);
        }
        assertEquals("", err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void applyOfAMissingDocumentIsAnInvocationError(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        String missing = dir.resolve("missing.json").toString();
        int exit = Main.run(List.of("apply", "-a", missing), Map.of("STEWARD_HOME", dir.toString()),
                stream(new ByteArrayOutputStream()), stream(err));
        assertEquals(2, exit);
        assertEquals("steward: assignment document " + missing + " does not exist; see 'steward help'\n",
                err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void documentsThatAreNotThereOrNotFilesAreInvocationErrorsForEveryCommand(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        String missing = dir.resolve("missing.json").toString();
        for (String command : List.of("run", "apply", "plan")) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            assertEquals(2, Main.run(List.of(command, "-a", missing), Map.of("STEWARD_HOME", dir.toString()),
                    stream(new ByteArrayOutputStream()), stream(err)), command);
            assertEquals("steward: assignment document " + missing + " does not exist; see 'steward help'\n",
                    err.toString(StandardCharsets.UTF_8), command);
            err.reset();
            assertEquals(2, Main.run(List.of(command, "-a", dir.toString()), Map.of("STEWARD_HOME", dir.toString()),
                    stream(new ByteArrayOutputStream()), stream(err)), command);
            assertEquals("steward: assignment document " + dir + " is a directory, not a file; see 'steward help'\n",
                    err.toString(StandardCharsets.UTF_8), command);
        }
    }

    @Test
    void withJsonAnInvocationErrorIsAlsoJsonOnStdout(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        String missing = dir.resolve("missing.json").toString();
        assertEquals(2, Main.run(List.of("apply", "-a", missing, "--json"), Map.of("STEWARD_HOME", dir.toString()),
                stream(out), stream(new ByteArrayOutputStream())));
        assertEquals("{\"ok\":false,\"error\":\"assignment document " + missing + " does not exist\"}\n",
                out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aSecondAgentOnOneDataDirectoryRefusesAtStart(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path state = java.nio.file.Files.createDirectories(dir.resolve("data/state"));
        java.nio.file.Path lock = state.resolve("agent.lock");
        java.nio.file.Files.writeString(lock, "pid 4242 agent since 2026-12-06T21:00:00Z\n");
        java.nio.file.Files.createDirectories(dir.resolve("etc"));
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(lock,
                java.nio.file.StandardOpenOption.WRITE); var held = ch.lock()) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int exit = Main.run(List.of("run", "--shell"), Map.of("STEWARD_HOME", dir.toString()),
                    stream(new ByteArrayOutputStream()), stream(err));
            assertEquals(2, exit);
            assertEquals("steward: another Steward agent is working on " + dir.resolve("data") + " (it holds " + lock
                    + ": pid 4242 agent since 2026-12-06T21:00:00Z); stop it or use its shell\n",
                    err.toString(StandardCharsets.UTF_8));
        }
    }

    @ParameterizedTest
    @CsvSource({"abc", "0", "-5", "1.5"})
    void invalidCommandTimeout(String value) {
        UsageException e = assertThrows(UsageException.class,
                () -> Main.commandTimeout(Map.of("STEWARD_COMMAND_TIMEOUT", value)));
        assertTrue(e.getMessage().startsWith("STEWARD_COMMAND_TIMEOUT must be"), e.getMessage());
    }

    @Test
    void commandTimeout() throws UsageException {
        assertEquals(300, Main.commandTimeout(Map.of()).toSeconds());
        assertEquals(7, Main.commandTimeout(Map.of("STEWARD_COMMAND_TIMEOUT", "7")).toSeconds());
    }

    private static PrintStream stream(ByteArrayOutputStream bytes) {
        return new PrintStream(bytes, true, StandardCharsets.UTF_8);
    }
}
