package io.steward.delivery.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The arguments of one delivery command: options {@code --name value} or {@code --name=value}, flags, and
 * positionals; every invocation error is a {@link Usage} whose sentence the user reads. Immutable.
 */
record CommandArgs(Map<String, String> options, Set<String> flags, List<String> positional) {
    static CommandArgs parse(List<String> args, Set<String> withValue, Set<String> flagNames) throws Usage {
        Map<String, String> options = new HashMap<>();
        Set<String> flags = new HashSet<>();
        List<String> positional = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (!arg.startsWith("--") || arg.equals("--")) {
                positional.add(arg);
                continue;
            }
            String name = arg;
            String value = null;
            int eq = arg.indexOf('=');
            if (eq > 0) {
                name = arg.substring(0, eq);
                value = arg.substring(eq + 1);
            }
            if (flagNames.contains(name) && value == null) {
                flags.add(name);
            } else if (withValue.contains(name)) {
                if (value == null) {
                    if (i + 1 >= args.size()) {
                        throw new Usage(name + " needs a value");
                    }
                    value = args.get(++i);
                }
                if (options.put(name, value) != null) {
                    throw new Usage(name + " is given twice");
                }
            } else {
                throw new Usage("unknown option " + name);
            }
        }
        return new CommandArgs(options, flags, positional);
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
