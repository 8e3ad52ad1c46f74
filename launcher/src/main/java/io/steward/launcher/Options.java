package io.steward.launcher;

import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A parsed command line: {@code steward <command> [options]}. Parsing checks the syntax and
 * which options the command accepts; it touches no file. {@code --help}/{@code -h} anywhere means
 * {@link Command#HELP}, and {@code --version} as the only argument means {@link #version()}.
 *
 * @param command the command, {@code null} only for {@code --version}
 * @param values  the options given: the value, or {@code ""} for a flag
 */
record Options(Command command, Map<Option, String> values, List<String> toolArgs) {

    Options {
        Map<Option, String> copy = new EnumMap<>(Option.class);
        copy.putAll(values);
        values = Collections.unmodifiableMap(copy);
        toolArgs = List.copyOf(toolArgs);
    }

    Options(Command command, Map<Option, String> values) {
        this(command, values, List.of());
    }

    static Options parse(List<String> args) throws UsageException {
        if (args.contains("--help") || args.contains("-h")) {
            return new Options(Command.HELP, Map.of());
        }
        if (args.isEmpty()) {
            throw new UsageException("missing command");
        }
        String first = args.get(0);
        if (first.equals("--version")) {
            if (args.size() > 1) {
                throw new UsageException("unexpected argument " + args.get(1) + " after --version");
            }
            return new Options(null, Map.of());
        }
        if (first.startsWith("-")) {
            String name = optionName(first);
            throw new UsageException(Option.named(name).isPresent()
                    ? "missing command before " + name : "unknown option " + name);
        }
        Command command = Command.named(first)
                .orElseThrow(() -> new UsageException("unknown command " + first));
        Map<Option, String> values = new EnumMap<>(Option.class);
        List<String> toolArgs = new java.util.ArrayList<>();
        for (int i = 1; i < args.size(); i++) {
            String arg = args.get(i);
            if (command.tool() && !Option.named(optionName(arg)).filter(command::accepts).isPresent()) {
                toolArgs.add(arg);     // the tool's own argument or option: its bundle checks it
                continue;
            }
            if (!arg.startsWith("-") || arg.equals("-")) {
                throw new UsageException("unexpected argument " + arg);
            }
            String name = optionName(arg);
            Option option = Option.named(name)
                    .orElseThrow(() -> new UsageException("unknown option " + name));
            if (!command.accepts(option)) {
                throw new UsageException("option " + name + " does not apply to '" + command.word() + "'");
            }
            String value = "";
            if (arg.length() > name.length()) { // --name=value
                if (!option.takesValue()) {
                    throw new UsageException("option " + name + " takes no value");
                }
                value = arg.substring(name.length() + 1);
            } else if (option.takesValue()) {
                value = i + 1 < args.size() ? args.get(++i) : "";
                if (value.startsWith("-") && value.length() > 1) {
                    throw new UsageException("option " + name + " needs a value");
                }
            }
            if (option.takesValue() && value.isBlank()) {
                throw new UsageException("option " + name + " needs a value");
            }
            if (values.put(option, value) != null) {
                throw new UsageException("option " + name + " is given twice");
            }
        }
        if (command == Command.APPLY && !values.containsKey(Option.ASSIGNMENTS)) {
            throw new UsageException("'apply' needs -a FILE");
        }
        return new Options(command, values, toolArgs);
    }

    /** {@code --data=x} is option {@code --data}; anything else is its own name. */
    private static String optionName(String arg) {
        int eq = arg.indexOf('=');
        return arg.startsWith("--") && eq > 0 ? arg.substring(0, eq) : arg;
    }

    /** Whether this is {@code steward --version}. */
    boolean version() {
        return command == null;
    }

    Optional<String> value(Option option) {
        return Optional.ofNullable(values.get(option));
    }

    boolean flag(Option option) {
        return values.containsKey(option);
    }
}
