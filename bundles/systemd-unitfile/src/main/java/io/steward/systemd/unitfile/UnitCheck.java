package io.steward.systemd.unitfile;

import static io.steward.systemd.unitfile.UnitPolicy.DEPENDENCIES;
import static io.steward.systemd.unitfile.UnitPolicy.DIRECTIVES;
import static io.steward.systemd.unitfile.UnitPolicy.ENVIRONMENT;
import static io.steward.systemd.unitfile.UnitPolicy.PATHS;
import static io.steward.systemd.unitfile.UnitPolicy.TARGETS;
import static io.steward.systemd.unitfile.UnitPolicy.TIMER;
import static io.steward.systemd.unitfile.UnitPolicy.USER;
import static io.steward.systemd.unitfile.UnitPolicy.USER_NAME;
import static io.steward.systemd.unitfile.UnitPolicy.VARIABLES;
import static io.steward.systemd.unitfile.UnitPolicy.pathPieces;
import static io.steward.systemd.unitfile.UnitPolicy.printable;
import static io.steward.systemd.unitfile.UnitPolicy.runsAsRoot;

import io.steward.systemd.unitfile.Directives.Kind;
import io.steward.systemd.unitfile.UnitFile.Entry;
import io.steward.systemd.unitfile.UnitPolicy.CheckedUnit;
import io.steward.systemd.unitfile.UnitPolicy.Context;
import io.steward.systemd.unitfile.UnitPolicy.Link;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The rules of one unit file, after parsing and rendering: every directive on its section's allowlist, then the
 * rule of its kind ({@link Directives}); command lines and paths go to {@link CommandRules}. {@link LoadedUnitCheck}
 * reuses them on what systemd reports. Not thread-safe; one instance checks one unit once.
 */
final class UnitCheck {
    /** Kinds whose values name users, groups, paths or files: no specifier at all. */
    private static final Set<Kind> NAMES_AND_PATHS = Set.of(Kind.IDENTITY, Kind.PATH, Kind.OUTPUT, Kind.DIRECTORIES);
    /** Kinds whose values are lists of names that systemd splits at blanks without unquoting. */
    private static final Set<Kind> NAME_LISTS = Set.of(Kind.IDENTITY, Kind.DIRECTORIES, Kind.DEPENDENCIES,
            Kind.INSTALL_TARGET, Kind.TIMER_UNIT);
    private static final Pattern VARIABLE_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern UNIT_NAME = Pattern.compile("[A-Za-z0-9:_.-]+\\.[a-z]+");
    /**
     * Variables whose value names code to load or a place to search it: every entry must be an absolute path
     * (and, like every path in any value, root-owned). Flags of the same families ({@code PYTHONNOUSERSITE=1},
     * {@code LD_BIND_NOW=1}) are not paths and pass; their path pieces are judged like any value's.
     */
    private static final Set<String> SEARCH_VARIABLES = Set.of("LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT",
            "PATH", "BASH_ENV", "ENV", "CLASSPATH", "GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES", "TCLLIBPATH",
            "GEM_PATH", "GEM_HOME", "PHPRC", "PHP_INI_SCAN_DIR", "GIT_EXEC_PATH", "PYTHONPATH", "PYTHONHOME",
            "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONPYCACHEPREFIX", "PERL5LIB", "PERLLIB", "PERL5DB", "RUBYLIB",
            "NODE_PATH", "LUA_PATH", "LUA_CPATH", "LUA_INIT", "OPENSSL_CONF", "OPENSSL_MODULES", "OPENSSL_ENGINES",
            "HOME", "ZDOTDIR", "XDG_CONFIG_DIRS", "XDG_CONFIG_HOME", "XDG_DATA_DIRS", "TERMINFO", "TERMINFO_DIRS");
    /** Variables that carry interpreter options (which can name modules to load); refused for a root unit. */
    private static final Set<String> OPTION_VARIABLES = Set.of("PERL5OPT", "RUBYOPT", "NODE_OPTIONS",
            "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "PYTHONINSPECT", "PYTHONWARNINGS",
            "GLIBC_TUNABLES");
    /** Shell variables that run code by themselves. */
    private static final Set<String> FORBIDDEN_VARIABLES = Set.of("SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND",
            "IFS", "CDPATH", "GLOBIGNORE");

    private final Context ctx;
    private final UnitFile file;
    private final String unit;
    private final boolean runsAsRoot;
    final Map<String, String> environment = new LinkedHashMap<>();
    private final List<Link> links = new ArrayList<>();
    private final CommandRules commands;

    UnitCheck(Context ctx, UnitFile file) {
        this(ctx, file, runsAsRoot(file));
    }

    UnitCheck(Context ctx, UnitFile file, boolean runsAsRoot) {
        this.ctx = ctx;
        this.file = file;
        this.unit = file.unit();
        this.runsAsRoot = runsAsRoot;
        this.commands = new CommandRules(ctx, unit, runsAsRoot, environment);
    }

    CheckedUnit run() throws RuleViolation {
        for (Entry e : file.entries()) {
            Optional<String> refusal = Directives.refusal(e.key());
            if (refusal.isPresent()) {
                throw violation(e, e.section().equals("Install") ? TARGETS : DIRECTIVES, e.key() + "= is "
                        + "refused: " + refusal.get());
            }
            Kind kind = Directives.kind(e.section(), e.key()).orElseThrow(() -> violation(e, DIRECTIVES,
                    e.key() + "= is not a directive Steward allows in [" + e.section() + "]"));
            if (kind != Kind.FREE) {
                UnitFile.checkSpecifiers(unit, e.line(), e.key(), e.value());
            }
            if (NAMES_AND_PATHS.contains(kind) && e.value().indexOf('%') >= 0) {
                throw violation(e, UnitFile.SPECIFIERS, e.key() + "= has a specifier; in users, groups, paths "
                        + "and unit names Steward allows none (systemd would judge the expansion, Steward the text)");
            }
            if (NAME_LISTS.contains(kind) && (e.value().indexOf('"') >= 0 || e.value().indexOf('\'') >= 0)) {
                throw violation(e, Words.QUOTES, e.key() + "= has a quote; systemd does not unquote names");
            }
            if (kind == Kind.ENVIRONMENT) {
                environment(e);
            }
        }
        Optional<String> triggers = Optional.empty();
        for (Entry e : file.entries()) {
            switch (Directives.kind(e.section(), e.key()).orElseThrow()) {
                case EXEC -> commands.exec(e);
                case PATH -> path(e);
                case DEPENDENCIES -> dependencies(e);
                case DIRECTORIES -> directories(e);
                case IDENTITY -> identity(e);
                case HOST_ACTION -> hostAction(e);
                case OUTPUT -> output(e);
                case INPUT -> input(e);
                case INSTALL_TARGET -> installTarget(e);
                default -> {
                }
            }
        }
        if (unit.endsWith(".timer")) {
            triggers = Optional.of(timerUnit());
        }
        return new CheckedUnit(unit, file.canonical(), List.copyOf(links), triggers);
    }

    // -- environment

    private void environment(Entry e) throws RuleViolation {
        if (e.value().isEmpty()) {
            environment.clear();     // a reset
            return;
        }
        for (String word : words(e, e.value())) {
            int eq = word.indexOf('=');
            String name = eq < 0 ? word : word.substring(0, eq);
            if (eq <= 0 || !VARIABLE_NAME.matcher(name).matches()) {
                throw violation(e, ENVIRONMENT, "Environment= has \"" + printable(word) + "\", which is not "
                        + "NAME=value with a valid name");
            }
            if (word.indexOf('$') >= 0) {
                throw violation(e, VARIABLES, "Environment= sets " + name + " to a value with a $");
            }
            String value = specifiers(word.substring(eq + 1));
            checkVariable(e, name, value);
            environment.put(name, value);
        }
    }

    void checkVariable(Entry e, String name, String value) throws RuleViolation {
        if (FORBIDDEN_VARIABLES.contains(name)) {
            throw violation(e, ENVIRONMENT, "Environment= sets " + name + ", which makes a shell run code");
        }
        if (OPTION_VARIABLES.contains(name) && runsAsRoot) {
            throw violation(e, ENVIRONMENT, "Environment= sets " + name + ", whose options can load modules "
                    + "by name into a root service");
        }
        boolean search = SEARCH_VARIABLES.contains(name);
        // a root unit is refused any path the agent writes below; a non-root one may read them, never load code
        if (!runsAsRoot && (search || OPTION_VARIABLES.contains(name)) && commands.namesDataOfTheAddon(value)) {
            throw violation(e, ENVIRONMENT, "Environment= sets " + name + " into what the agent writes (the "
                    + "add-on's state, spool or config); a variable that names code to load may not point there");
        }
        if (search) {
            for (String entry : value.split("[:; \t]", -1)) {
                if (!entry.startsWith("/")) {
                    throw violation(e, ENVIRONMENT, "Environment= sets " + name + " with the entry \""
                            + printable(entry) + "\"; every entry of a variable that names code to load must be"
                            + " an absolute path");
                }
            }
        }
        if (CommandRules.PARENT.matcher(value).find()) {
            throw violation(e, PATHS, "Environment= sets " + name + " to a value with a \"..\" path component");
        }
        for (String piece : pathPieces(value)) {
            commands.relative(e, "Environment= sets " + name + " to " + piece, piece);
            if (!runsAsRoot && !search && commands.dataOfTheAddon(piece)) {
                continue;
            }
            commands.judge(e, "Environment= sets " + name + " to " + piece, piece);
        }
    }

    // -- paths, directories, identities, actions, stdio

    void path(Entry e) throws RuleViolation {
        String v = e.value();
        if (v.isEmpty()) {
            return;
        }
        if (v.startsWith("!") && e.line() > 0) {
            throw violation(e, DIRECTIVES, e.key() + "=" + v + ": systemd accepts only the - prefix here");
        }
        if (v.startsWith("-") || v.startsWith("!")) {     // systemd reports a - as ! when read back
            v = v.substring(1);
        }
        if (!v.startsWith("/")) {
            throw violation(e, PATHS, e.key() + "=" + v + " is not an absolute path");
        }
        commands.judge(e, e.key() + "=" + v, v);
    }

    private void directories(Entry e) throws RuleViolation {
        String own = "steward-" + ctx.id();
        for (String d : words(e, e.value())) {
            String name = d.contains(":") ? d.substring(0, d.indexOf(':')) : d;
            if (!(name.equals(own) || name.startsWith(own + "/")) || name.contains("..")
                    || d.substring(name.length()).contains("/..")) {
                throw violation(e, DIRECTIVES, e.key() + "=" + d + " is not " + own + "[/…]: systemd would create "
                        + "or take over a directory Steward does not own");
            }
        }
    }

    void identity(Entry e) throws RuleViolation {
        List<String> names = words(e, e.value());
        boolean single = !e.key().equals("SupplementaryGroups");
        if (single && names.size() > 1 || names.stream().anyMatch(n -> !USER_NAME.matcher(n).matches())) {
            throw violation(e, DIRECTIVES, e.key() + "=" + printable(e.value()) + " is not "
                    + (single ? "one" : "a list of") + " plain user or group name" + (single ? "" : "s"));
        }
        for (String who : names) {
            if (ctx.agentIdentities().contains(who)) {
                throw violation(e, USER, e.key() + "=" + who + " is the agent's own identity: the agent could "
                        + "control the service's processes");
            }
        }
    }

    private void hostAction(Entry e) throws RuleViolation {
        if (!e.value().isEmpty() && !e.value().equals("none")) {
            throw violation(e, DIRECTIVES, e.key() + "=" + e.value() + " acts on the whole host; Steward allows "
                    + "only none");
        }
    }

    private void output(Entry e) throws RuleViolation {
        String v = e.value();
        for (String prefix : List.of("file:", "append:", "truncate:")) {
            if (v.startsWith(prefix)) {
                String path = v.substring(prefix.length());
                String own = "steward-" + ctx.id();
                if (!path.startsWith("/var/log/" + own + "/") && !path.startsWith("/run/" + own + "/")) {
                    throw violation(e, DIRECTIVES, e.key() + "=" + v + " writes outside the add-on's own "
                            + "/var/log/" + own + "/ and /run/" + own + "/ (LogsDirectory=, RuntimeDirectory=): "
                            + "root would open, truncate or create any file it names");
                }
                commands.judge(e, e.key() + "= writes " + path, path);
                return;
            }
        }
        if (!Set.of("", "inherit", "null", "journal", "kmsg", "journal+console", "kmsg+console").contains(v)) {
            throw violation(e, DIRECTIVES, e.key() + "=" + v + " is refused; Steward allows inherit, null, journal, "
                    + "kmsg, journal+console, kmsg+console and files under root-owned paths");
        }
    }

    private void input(Entry e) throws RuleViolation {
        if (!e.value().isEmpty() && !e.value().equals("null")) {
            throw violation(e, DIRECTIVES, "StandardInput=" + e.value() + " is refused; Steward allows only null");
        }
    }

    // -- units

    void dependencies(Entry e) throws RuleViolation {
        boolean conflicts = e.key().equals("Conflicts");
        for (String w : words(e, e.value())) {
            String dep = specifiers(w);
            boolean ok = ctx.ownUnits().contains(dep) || Directives.SYSTEM_TARGETS.contains(dep)
                    || conflicts && dep.equals("shutdown.target");
            if (!ok) {
                throw violation(e, DEPENDENCIES, e.key() + "=" + printable(dep) + " names a unit that is neither "
                        + "one of the add-on's own " + new java.util.TreeSet<>(ctx.ownUnits())
                        + " nor an allowed system target");
            }
        }
    }

    private void installTarget(Entry e) throws RuleViolation {
        String kind = e.key().equals("WantedBy") ? "wants" : "requires";
        for (String w : words(e, e.value())) {
            String target = specifiers(w);
            if (!Directives.INSTALL_TARGETS.contains(target)) {
                throw violation(e, TARGETS, e.key() + "=" + printable(target) + " is not one of "
                        + new java.util.TreeSet<>(Directives.INSTALL_TARGETS) + " (Steward writes only those "
                        + "targets' ." + kind + "/ links)");
            }
            Link link = new Link(target, kind);
            if (!links.contains(link)) {
                links.add(link);
            }
        }
    }

    private String timerUnit() throws RuleViolation {
        List<Entry> units = file.entries("Timer", "Unit");
        if (units.size() > 1) {
            throw violation(units.get(1), TIMER, "a second Unit= (systemd keeps the first, other readers the last)");
        }
        String target = units.isEmpty() || units.get(0).value().isEmpty()
                ? unit.substring(0, unit.length() - ".timer".length()) + ".service" : specifiers(units.get(0).value());
        if (!target.endsWith(".service") || !ctx.ownUnits().contains(target) || !UNIT_NAME.matcher(target).matches()) {
            RuleViolation v = units.isEmpty()
                    ? new RuleViolation(unit, OptionalInt.empty(), TIMER, "the timer starts " + target
                    + ", which is not shipped in the same artifact")
                    : violation(units.get(0), TIMER, "Unit=" + printable(target) + " is not a service shipped in "
                    + "the same artifact");
            throw v;
        }
        return target;
    }


    /** {@code $NAME} as a word becomes the value's words, {@code ${NAME}} the value; nothing else has a {@code $}. */
    List<String> expand(Entry e, String word, boolean substitute) throws RuleViolation {
        return commands.expand(e, word, substitute);
    }

    void checkCommand(Entry e, List<String> argv, boolean root) throws RuleViolation {
        commands.checkCommand(e, argv, root);
    }

    private String specifiers(String s) {
        return UnitPolicy.specifiers(s, unit);
    }

    private List<String> words(Entry e, String value) throws RuleViolation {
        return commands.words(e, value);
    }

    private RuleViolation violation(Entry e, String rule, String detail) {
        return commands.violation(e, rule, detail);
    }
}
