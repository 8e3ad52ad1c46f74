package io.steward.systemd.unitfile;

import static io.steward.systemd.unitfile.UnitPolicy.PATHS;
import static io.steward.systemd.unitfile.UnitPolicy.DIRECTIVES;
import static io.steward.systemd.unitfile.UnitPolicy.PROGRAMS;
import static io.steward.systemd.unitfile.UnitPolicy.VARIABLES;
import static io.steward.systemd.unitfile.UnitPolicy.configFile;
import static io.steward.systemd.unitfile.UnitPolicy.pathPieces;
import static io.steward.systemd.unitfile.UnitPolicy.printable;
import static io.steward.systemd.unitfile.UnitPolicy.spoolDir;
import static io.steward.systemd.unitfile.UnitPolicy.stateDir;

import io.steward.systemd.unitfile.UnitFile.Entry;
import io.steward.systemd.unitfile.UnitPolicy.Context;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The command-line and path rules of one unit file (docs/privilege-separation.md "Unit rules"): an {@code Exec*=} line's prefixes,
 * program and arguments after {@code $} and specifier expansion, and the judgement of every absolute path a
 * value names. {@link UnitCheck} owns one per unit and shares its {@code Environment=} map with it. Not
 * thread-safe; used by one check at a time.
 */
final class CommandRules {
    /** A {@code ..} path component anywhere in a value. */
    static final Pattern PARENT = Pattern.compile("(^|[/=:;, \t\"'])\\.\\.(/|$|[:;, \t\"'])");
    /** Each of - : + at most once, then ! or !! (not with +), in any order. */
    private static final Pattern VALID_PREFIXES = Pattern.compile(
            "(?!.*-.*-)(?!.*:.*:)(?!.*\\+.*\\+)(?!.*\\+.*!)(?!.*!.*\\+)(?!.*!.*!.*!)(?!.*!.+!)[-:+!]*");
    /** Variables systemd sets for a command that carry no path: a number or an id. */
    private static final Map<String, String> MANAGER_VARIABLES = Map.of("MAINPID", "1", "MANAGERPID", "1",
            "INVOCATION_ID", "0");

    private final Context ctx;
    private final String unit;
    private final boolean runsAsRoot;
    private final Map<String, String> environment;

    CommandRules(Context ctx, String unit, boolean runsAsRoot, Map<String, String> environment) {
        this.ctx = ctx;
        this.unit = unit;
        this.runsAsRoot = runsAsRoot;
        this.environment = environment;
    }

    void exec(Entry e) throws RuleViolation {
        String v = e.value();
        if (v.isEmpty()) {
            return;     // a reset
        }
        int i = 0;
        while (i < v.length() && "-+!:@|".indexOf(v.charAt(i)) >= 0) {
            char p = v.charAt(i);
            if (p == '@' || p == '|') {
                throw violation(e, DIRECTIVES, e.key() + "= uses the prefix " + p + " (" + (p == '@'
                        ? "a separate argv[0]" : "a command run through a shell") + "), which Steward refuses");
            }
            i++;
        }
        String prefixes = v.substring(0, i);
        if (!VALID_PREFIXES.matcher(prefixes).matches()) {
            throw violation(e, DIRECTIVES, e.key() + "= has the prefixes \"" + prefixes + "\"; Steward allows "
                    + "each of - : + at most once, ! or !! but not with +");
        }
        if (i < v.length() && Words.isSpace(v.charAt(i)) && !prefixes.isEmpty()) {
            throw violation(e, DIRECTIVES, e.key() + "= has a blank after its prefixes (systemd drops such a "
                    + "command)");
        }
        boolean root = runsAsRoot || prefixes.contains("+") || prefixes.contains("!");
        List<String> words = words(e, v.substring(i));
        if (words.isEmpty()) {
            throw violation(e, PROGRAMS, e.key() + "= has prefixes but no program");
        }
        List<String> argv = new ArrayList<>();
        for (String w : words) {
            argv.addAll(expand(e, w, !prefixes.contains(":")));
        }
        checkCommand(e, argv, root);
    }

    /** {@code $NAME} as a word becomes the value's words, {@code ${NAME}} the value; nothing else has a {@code $}. */
    List<String> expand(Entry e, String word, boolean substitute) throws RuleViolation {
        if (word.indexOf('$') < 0) {
            return List.of(specifiers(word));
        }
        if (!substitute) {
            throw violation(e, VARIABLES, e.key() + "= passes \"" + word + "\" with a $ to the program, "
                    + "which may expand it itself");
        }
        if (word.startsWith("$") && !word.startsWith("${")) {
            String name = word.substring(1);
            return split(e, known(e, name));
        }
        StringBuilder out = new StringBuilder();
        int at = 0;
        while (true) {
            int d = word.indexOf('$', at);
            if (d < 0) {
                out.append(word.substring(at));
                break;
            }
            int close = word.indexOf('}', d);
            if (d + 1 >= word.length() || word.charAt(d + 1) != '{' || close < 0) {
                throw violation(e, VARIABLES, e.key() + "= has a $ in \"" + word + "\" that is not a whole "
                        + "$NAME word or a ${NAME}");
            }
            out.append(word, at, d).append(known(e, word.substring(d + 2, close)));
            at = close + 1;
        }
        return List.of(specifiers(out.toString()));
    }

    private List<String> split(Entry e, String value) throws RuleViolation {
        List<String> out = new ArrayList<>();
        for (String w : value.split("[ \t]+")) {
            if (!w.isEmpty()) {
                out.add(specifiers(w));
            }
        }
        return out;
    }

    private String known(Entry e, String name) throws RuleViolation {
        if (MANAGER_VARIABLES.containsKey(name)) {
            return MANAGER_VARIABLES.get(name);
        }
        if (environment.containsKey(name)) {
            return environment.get(name);
        }
        throw violation(e, VARIABLES, e.key() + "= uses $" + name + ", which the unit does not set (Steward "
                + "knows only MAINPID, MANAGERPID, INVOCATION_ID and the unit's own Environment=)");
    }

    private String specifiers(String s) {
        return UnitPolicy.specifiers(s, unit);
    }

    void checkCommand(Entry e, List<String> argv, boolean root) throws RuleViolation {
        String program = argv.get(0);
        if (argv.stream().anyMatch(w -> w.equals(";"))) {
            throw violation(e, PROGRAMS, e.key() + "= has a \";\" word, which systemd reads as the start of a "
                    + "second command line");
        }
        if (program.endsWith("/")) {
            throw violation(e, PROGRAMS, e.key() + "= runs \"" + printable(program) + "\", a directory path");
        }
        if (!program.startsWith("/")) {
            throw violation(e, PROGRAMS, e.key() + "= runs \"" + printable(program) + "\", not an absolute path "
                    + "(systemd would search for it)");
        }
        judge(e, e.key() + "= runs " + program, program);
        for (String arg : argv.subList(1, argv.size())) {
            if (PARENT.matcher(arg).find()) {
                throw violation(e, PATHS, e.key() + "= passes \"" + printable(arg) + "\", which has a \"..\" "
                        + "path component");
            }
            for (String piece : pathPieces(arg)) {
                relative(e, e.key() + "= passes " + piece, piece);
                if (!root && dataOfTheAddon(piece)) {
                    continue;     // a non-root service may read what the agent writes for it
                }
                judge(e, e.key() + "= passes " + piece + (root ? " to a command that runs as root" : ""), piece);
            }
        }
    }

    /** True for the add-on's own state and spool directories (and below) and its config file. */
    boolean dataOfTheAddon(String path) {
        Path p = Path.of(path).normalize();
        return p.startsWith(stateDir(ctx.layout(), ctx.id())) || p.startsWith(spoolDir(ctx.layout(), ctx.id()))
                || p.equals(configFile(ctx.layout(), ctx.id()));
    }

    /** True when {@code value} mentions the add-on's state or spool directory or its config file anywhere. */
    boolean namesDataOfTheAddon(String value) {
        return value.contains(stateDir(ctx.layout(), ctx.id()).toString())
                || value.contains(spoolDir(ctx.layout(), ctx.id()).toString())
                || value.contains(configFile(ctx.layout(), ctx.id()).toString());
    }

    void judge(Entry e, String what, String path) throws RuleViolation {
        relative(e, what, path);
        Optional<String> why = ctx.paths().whyNot(path);
        if (why.isPresent()) {
            throw violation(e, PATHS, what + ", but " + why.get() + "; root may only use paths nobody else "
                    + "can change");
        }
    }

    void relative(Entry e, String what, String path) throws RuleViolation {
        for (String part : path.split("/")) {
            if (part.equals("..") || part.equals(".")) {
                throw violation(e, PATHS, what + ", which has a \"" + part + "\" component");
            }
        }
    }

    List<String> words(Entry e, String value) throws RuleViolation {
        try {
            return Words.split(value);
        } catch (IllegalArgumentException x) {
            throw violation(e, Words.QUOTES, e.key() + "= has " + x.getMessage());
        }
    }

    RuleViolation violation(Entry e, String rule, String detail) {
        return new RuleViolation(unit, e.line(), rule, detail);
    }
}
