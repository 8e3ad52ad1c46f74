package io.steward.launcher;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code steward} command. Exit codes: 0 success, 1 failure, 2 invalid invocation or
 * document. Errors are one sentence on stderr; stack traces only with {@code --verbose}.
 */
public final class Main {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int USAGE = 2;

    private Main() {
    }

    public static void main(String[] args) {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        // while the platform runs, whatever prints to System.out (the default loggers) goes to
        // stderr: stdout carries only the command's output, e.g. --json
        System.setOut(System.err);
        int exit = run(Arrays.asList(args), System.getenv(), out, err);
        out.flush();
        err.flush();
        System.exit(exit);
    }

    static int run(List<String> args, Map<String, String> env, PrintStream out, PrintStream err) {
        boolean verbose = args.contains("--verbose");
        try {
            Options options = Options.parse(args);
            if (options.version()) {
                out.println("steward " + version());
                return OK;
            }
            if (options.command() == Command.HELP) {
                out.print(help());
                return OK;
            }
            Settings settings = Settings.resolve(options, Settings.home(env, launcherLocation()), env);
            return execute(settings, env, out, err);
        } catch (UsageException e) {
            err.println("steward: " + e.getMessage() + "; see 'steward help'");
            jsonError(args, out, e.getMessage());
            return USAGE;
        } catch (LaunchException e) {
            err.println("steward: " + e.getMessage());
            jsonError(args, out, e.getMessage());
            if (verbose) {
                e.printStackTrace(err);
            }
            return FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("steward: interrupted");
            return FAILED;
        } catch (RuntimeException | LinkageError e) {
            err.println("steward: internal error: " + e);
            if (verbose) {
                e.printStackTrace(err);
            }
            return FAILED;
        }
    }

    /** With --json, an error is also one JSON object on stdout, as every command's own errors are. */
    private static void jsonError(List<String> args, PrintStream out, String message) {
        if (args.contains("--json")) {
            String quoted = FrameworkProperties.jsonArray(List.of(message));
            out.println("{\"ok\":false,\"error\":" + quoted.substring(1, quoted.length() - 1) + "}");
        }
    }

    /** Runs one command; a new command is a case here and a constant in {@link Command}. */
    static int execute(Settings settings, Map<String, String> env, PrintStream out, PrintStream err)
            throws UsageException, LaunchException, InterruptedException {
        switch (settings.command()) {
            case RUN:
                checkDocument(settings, false);
                Optional<String> locked = Agent.lockedBy(settings.data());
                if (locked.isPresent()) {
                    err.println("steward: " + locked.get());
                    return USAGE;
                }
                return Agent.run(settings);
            case APPLY:
            case PLAN:
                checkDocument(settings, true);
                return OneShot.run(settings, commandTimeout(env), out, err);
            case STATUS:
            case HEALTH:
            case KEYGEN:
            case PACK:
            case VERIFY:
            case FLEET:
                return OneShot.run(settings, commandTimeout(env), out, err);
            default:
                throw new IllegalStateException("no handler for " + settings.command());
        }
    }

    /**
     * The assignment document must be a regular file; an agent may start before its default document
     * exists (the file source waits for it), but not on a document named with -a that is not there.
     */
    static void checkDocument(Settings settings, boolean required) throws UsageException {
        Path file = settings.assignments();
        if (Files.isDirectory(file)) {
            throw new UsageException("assignment document " + file + " is a directory, not a file");
        }
        if (Files.exists(file) && !Files.isRegularFile(file)) {
            throw new UsageException("assignment document " + file + " is not a regular file");
        }
        if (!Files.exists(file) && (required || !file.equals(settings.etc().resolve("assignments.json")))) {
            throw new UsageException("assignment document " + file + " does not exist");
        }
    }

    /** STEWARD_COMMAND_TIMEOUT: seconds a one-shot command may take, default 300. */
    static Duration commandTimeout(Map<String, String> env) throws UsageException {
        String value = env.get("STEWARD_COMMAND_TIMEOUT");
        if (value == null || value.isBlank()) {
            return Duration.ofSeconds(300);
        }
        try {
            long seconds = Long.parseLong(value.strip());
            if (seconds > 0) {
                return Duration.ofSeconds(seconds);
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new UsageException("STEWARD_COMMAND_TIMEOUT must be a positive number of seconds, not '" + value + "'");
    }

    static String help() {
        StringBuilder text = new StringBuilder("Usage: steward <command> [options]\n\nCommands:\n");
        for (Command command : Command.values()) {
            text.append(command.helpLine()).append('\n');
        }
        text.append("\nOptions:\n");
        for (Option option : Option.values()) {
            text.append(option.helpLine()).append('\n');
        }
        text.append(String.format("  %-28s %s%n", "    --version", "print the version"))
                .append("\nEnvironment: STEWARD_HOME (default: the directory above bin/), STEWARD_JAVA_OPTS (added to the\n")
                .append("JVM flags), STEWARD_RUN_JAVA_OPTS (replaces run's JVM flags), STEWARD_COMMAND_TIMEOUT (seconds a\n")
                .append("one-shot command may take, default 300).\n")
                .append("Exit codes: 0 success, 1 failure, 2 invalid invocation or document.\n");
        return text.toString();
    }

    private static String version() {
        String version = Main.class.getPackage().getImplementationVersion();
        return version == null ? "(development build)" : version;
    }

    private static Path launcherLocation() {
        try {
            return Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException | RuntimeException e) {
            return Path.of("bin", "steward-launcher.jar").toAbsolutePath();
        }
    }
}
