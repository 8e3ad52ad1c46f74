package io.steward.delivery.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.OverwrittenOptionException;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The arguments of one delivery command: options {@code --name value} or {@code --name=value}, flags, and
 * positionals; every invocation error is a {@link Usage} whose sentence the user reads. Immutable.
 */
record CommandArgs(Map<String, String> options, Set<String> flags, List<String> positional) {
    /**
     * Parses {@code args} with picocli, configured to read them as this parser always has: options are the names of
     * {@code withValue} (a value follows, or after {@code =}, whatever it looks like) and {@code flagNames} (no
     * value; repeating one is harmless); any other argument starting with {@code --} is an unknown option, any other
     * argument (also {@code --}, {@code -x}, {@code @file}) a positional. The first error in argument order wins.
     */
    static CommandArgs parse(List<String> args, Set<String> withValue, Set<String> flagNames) throws Usage {
        Set<String> flags = new HashSet<>();
        List<String> positional = new ArrayList<>();
        CommandSpec spec = CommandSpec.create();
        for (String name : withValue) {
            spec.addOption(OptionSpec.builder(name).arity("1").type(String.class).build());
        }
        // flags and every argument that is not an option with a value arrive here, one at a time and in order
        spec.addPositional(PositionalParamSpec.builder().index("0..*").arity("0..*").type(String.class)
                .parameterConsumer((stack, argSpec, commandSpec) -> {
                    String arg = stack.pop();
                    if (!arg.startsWith("--") || arg.equals("--")) {
                        positional.add(arg);
                    } else if (flagNames.contains(arg)) {
                        flags.add(arg);
                    } else {
                        int eq = arg.indexOf('=');
                        throw new ParameterException(new CommandLine(commandSpec),
                                "unknown option " + (eq > 0 ? arg.substring(0, eq) : arg));
                    }
                }).build());
        spec.parser()
                .expandAtFiles(false)
                .unmatchedOptionsArePositionalParams(true)
                .allowOptionsAsOptionParameters(true)
                .unmatchedOptionsAllowedAsOptionParameters(true)
                // "--" is a positional here, not the end of the options; argv cannot hold a NUL, so nothing ends them
                .endOfOptionsDelimiter("\0");
        ParseResult parsed;
        try {
            parsed = new CommandLine(spec).parseArgs(args.toArray(String[]::new));
        } catch (MissingParameterException e) {
            throw new Usage(name(e.getMissing().get(0)) + " needs a value");
        } catch (OverwrittenOptionException e) {
            throw new Usage(name(e.getOverwritten()) + " is given twice");
        } catch (ParameterException e) {
            throw new Usage(e.getMessage());
        }
        Map<String, String> options = new HashMap<>();
        for (OptionSpec option : parsed.matchedOptions()) {
            options.put(option.longestName(), option.getValue());
        }
        return new CommandArgs(options, flags, positional);
    }

    private static String name(ArgSpec spec) {
        return ((OptionSpec) spec).longestName();
    }

    String required(String name) throws Usage {
        String v = options.get(name);
        if (v == null) {
            throw new Usage(name + " is required");
        }
        return v;
    }

    Optional<String> optional(String name) {
        return Optional.ofNullable(options.get(name));
    }

    boolean flag(String name) {
        return flags.contains(name);
    }

    List<String> positionals(int n) throws Usage {
        if (positional.size() != n) {
            throw new Usage(n == 0 ? "unexpected argument " + positional.get(0)
                    : "expected " + n + " argument(s), got " + positional.size());
        }
        return positional;
    }
}
