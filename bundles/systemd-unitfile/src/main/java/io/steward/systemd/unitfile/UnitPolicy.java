package io.steward.systemd.unitfile;

import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.unitfile.Directives.Kind;
import io.steward.systemd.unitfile.UnitFile.Entry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What an add-on's units may be (README "Unit rules"), checked by every installer before it writes anything: the
 * in-process installer of a root agent and the root updater run this same code, and the systemd kinds run it
 * early so that a refused artifact changes nothing at all. Stateless and thread-safe; every refusal is a PERMANENT
 * {@link SupervisionException} whose message is one sentence naming the add-on, the unit, the line and the rule.
 * <p>
 * A unit passes in three steps: {@link UnitFile} reads it strictly; the placeholders are substituted in the parsed
 * values; every directive must be on its section's allowlist and its value must pass the rule of its kind
 * ({@link Directives}). What is installed is the canonical re-serialisation of the result. After systemd loaded it,
 * {@link LoadedUnitCheck} applies the same rules again to what systemd reports.
 */
public final class UnitPolicy {
    /** File name of the resources drop-in, in {@code <service>.d/}; "50-" orders it after distro defaults. */
    public static final String RESOURCES_DROP_IN = "50-steward-resources.conf";
    /** The placeholder for the add-on's verified, root-owned copy. */
    public static final String ADDON_HOME = "@ADDON_HOME@";
    /** The placeholder for the add-on's writable state directory. */
    public static final String ADDON_STATE = "@ADDON_STATE@";
    /** The placeholder for the add-on's result spool (agent-owned data, never executed). */
    public static final String ADDON_SPOOL = "@ADDON_SPOOL@";
    /** The placeholder for the add-on's merged config file. */
    public static final String ADDON_CONFIG = "@ADDON_CONFIG@";

    static final String NAMES = "naming convention";
    static final String DIRECTIVES = "directive allowlist";
    static final String DEPENDENCIES = "own dependencies";
    static final String TARGETS = "install targets";
    static final String PROGRAMS = "absolute programs";
    static final String PATHS = "root-owned paths";
    static final String ENVIRONMENT = "environment";
    static final String VARIABLES = "known variables";
    static final String TIMER = "own timer";
    static final String USER = "not the agent's user";

    private static final Pattern SUFFIX = Pattern.compile("[A-Za-z0-9_.:-]{1,128}");
    private static final Pattern PARENT = Pattern.compile("(^|[/=:;, \t\"'])\\.\\.(/|$|[:;, \t\"'])");
    /** Each of - : + at most once, then ! or !! (not with +), in any order. */
    private static final Pattern VALID_PREFIXES = Pattern.compile(
            "(?!.*-.*-)(?!.*:.*:)(?!.*\\+.*\\+)(?!.*\\+.*!)(?!.*!.*\\+)(?!.*!.*!.*!)(?!.*!.+!)[-:+!]*");
    private static final Pattern VARIABLE_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern UNIT_NAME = Pattern.compile("[A-Za-z0-9:_.-]+\\.[a-z]+");
    /** Layout paths substituted into unit text: nothing systemd would read as a quote, specifier or variable. */
    private static final Pattern PLAIN_PATH = Pattern.compile("/[A-Za-z0-9/._+-]*");
    /** Ids whose convention would own Steward's own units ({@code steward-updater.service}, …). */
    private static final Set<String> RESERVED_IDS = Set.of("updater");
    /** Variables systemd sets for a command that carry no path: a number or an id. */
    private static final Map<String, String> MANAGER_VARIABLES = Map.of("MAINPID", "1", "MANAGERPID", "1",
            "INVOCATION_ID", "0");
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

    private UnitPolicy() {
    }

    /**
     * What one check is about.
     *
     * @param id               the add-on
     * @param layout           the host's roots
     * @param home             the verified copy {@code @ADDON_HOME@} renders to: the immutable
     *                         {@code <privileged-root>/<id>/versions/<…>} directory, never a {@code current} link
     * @param ownUnits         every unit of the request: the only units the add-on's units may depend on
     * @param agentIdentities  user and group names and numbers of the agent (empty when the agent is root)
     * @param paths            how root-owned paths are judged ({@link RootOwnedPaths} on a host)
     */
    public record Context(AddonId id, HostLayout layout, Path home, Set<String> ownUnits, Set<String> agentIdentities,
                          PathJudge paths) {
        public Context {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(layout, "layout");
            Objects.requireNonNull(home, "home");
            ownUnits = Set.copyOf(ownUnits);
            agentIdentities = Set.copyOf(agentIdentities);
            Objects.requireNonNull(paths, "paths");
        }
    }

    /** A {@code .wants}/{@code .requires} link the install creates: {@code <unit-dir>/<target>.<kind>/<unit>}. */
    public record Link(String target, String kind) {
    }

    /** A unit that passed: the text to install, the links to create, and for a timer the unit it triggers. */
    public record CheckedUnit(String name, String canonical, List<Link> links, Optional<String> triggers) {
    }

    // ---- names -------------------------------------------------------------------------------

    /** True when {@code unit} is {@code steward-<id>.service|timer} or {@code steward-<id>-<suffix>.service|timer}. */
    public static boolean isOwnedName(AddonId id, String unit) {
        if (unit == null || unit.length() > 255 || isReserved(id)) {
            return false;
        }
        String stem;
        if (unit.endsWith(".service")) {
            stem = unit.substring(0, unit.length() - ".service".length());
        } else if (unit.endsWith(".timer")) {
            stem = unit.substring(0, unit.length() - ".timer".length());
        } else {
            return false;
        }
        String base = "steward-" + id.value();
        if (stem.equals(base)) {
            return true;
        }
        if (!stem.startsWith(base + "-")) {
            return false;
        }
        String suffix = stem.substring(base.length() + 1);
        return SUFFIX.matcher(suffix).matches() && !suffix.contains("..");
    }

    /** Ids whose units would be named like Steward's own daemon ({@code updater}, {@code updater-…}). */
    public static boolean isReserved(AddonId id) {
        String v = id.value();
        return RESERVED_IDS.stream().anyMatch(r -> v.equals(r) || v.startsWith(r + "-"));
    }

    /**
     * What add-ons whose unit names could collide have in common: {@code steward-a-b-x.service} is a name of
     * add-on {@code a} (suffix {@code b-x}) and of {@code a-b} (suffix {@code x}), so only ids with the same
     * first dash-separated segment can claim one unit. Installers check and record ownership under one lock per key.
     */
    public static String claimKey(AddonId id) {
        int dash = id.value().indexOf('-');
        return dash < 0 ? id.value() : id.value().substring(0, dash);
    }

    /** Refuses a unit name outside the add-on's naming convention (install and uninstall alike). */
    public static void checkName(AddonId id, String unit) throws SupervisionException {
        if (isReserved(id)) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": \"" + printable(unit)
                    + "\" is refused: the id " + id + " is reserved, its units would be named like Steward's own "
                    + "steward-updater units [rule: " + NAMES + "]");
        }
        if (!isOwnedName(id, unit)) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": \"" + printable(unit)
                    + "\" is outside the convention steward-" + id + "[-<suffix>].service|timer; Steward installs and "
                    + "removes no other unit [rule: " + NAMES + "]");
        }
    }

    /** The targets whose {@code .wants}/{@code .requires} Steward links units into. */
    public static Set<String> installTargets() {
        return Directives.INSTALL_TARGETS;
    }

    /** Lower-case file extension check used by discovery: true for {@code .service} and {@code .timer}. */
    public static boolean isUnitFileName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".service") || n.endsWith(".timer");
    }

    // ---- placeholders and layout ---------------------------------------------------------------

    /** The add-on's writable state directory: {@code <data>/addons/<id>/state}. */
    public static Path stateDir(HostLayout layout, AddonId id) {
        return layout.addonHome(id).resolve("state");
    }

    /** The add-on's result spool: {@code <data>/addons/<id>/spool}, see {@link HostLayout#addonSpool}. */
    public static Path spoolDir(HostLayout layout, AddonId id) {
        return layout.addonSpool(id);
    }

    /** The add-on's merged config file: {@code <data>/addons/<id>/config.json}. */
    public static Path configFile(HostLayout layout, AddonId id) {
        return layout.addonHome(id).resolve("config.json");
    }

    /** The placeholder values for an add-on whose verified copy is {@code home}. */
    public static Map<String, String> placeholders(HostLayout layout, AddonId id, Path home) {
        Map<String, String> values = new LinkedHashMap<>();
        values.put(ADDON_HOME, home.toString());
        values.put(ADDON_STATE, stateDir(layout, id).toString());
        values.put(ADDON_SPOOL, spoolDir(layout, id).toString());
        values.put(ADDON_CONFIG, configFile(layout, id).toString());
        return values;
    }

    /** {@code text} with every placeholder substituted. */
    public static String render(String text, Map<String, String> placeholders) {
        String out = text;
        for (Map.Entry<String, String> e : placeholders.entrySet()) {
            out = out.replace(e.getKey(), e.getValue());
        }
        return out;
    }

    /** The resources drop-in text for {@code resources}; empty when there is no limit. */
    public static Optional<String> resourcesDropIn(Resources resources) {
        if (resources.isEmpty()) {
            return Optional.empty();
        }
        StringBuilder b = new StringBuilder("# Written by Steward from the add-on's assignment; do not edit.\n[Service]\n");
        resources.cpuMaxPercent().ifPresent(p -> b.append("CPUQuota=")
                .append(Math.max(1, (long) Math.ceil(p))).append("%\n"));
        resources.memoryMaxBytes().ifPresent(m -> b.append("MemoryMax=").append(m).append('\n'));
        resources.tasksMax().ifPresent(t -> b.append("TasksMax=").append(t).append('\n'));
        return Optional.of(b.toString());
    }

    // ---- the check -------------------------------------------------------------------------------

    /**
     * Every check of a request, before any host write: names, the primary, the layout, then each unit read
     * strictly, rendered and checked. Returns the units to install, in request order.
     *
     * @param shipped unit name → the bytes the artifact ships, for every unit of the request
     */
    public static Map<String, CheckedUnit> check(Context ctx, Map<String, byte[]> shipped, String primary)
            throws SupervisionException {
        AddonId id = ctx.id();
        checkLayout(ctx);
        if (shipped.isEmpty()) {
            throw refuse(id, new RuleViolation(primary, OptionalInt.empty(), "signed manifest",
                    "the artifact ships no unit"));
        }
        for (String unit : shipped.keySet()) {
            checkName(id, unit);
        }
        if (!shipped.containsKey(primary)) {
            throw refuse(id, new RuleViolation(primary, OptionalInt.empty(), "signed manifest",
                    "the primary unit is not shipped"));
        }
        Map<String, String> placeholders = placeholders(ctx.layout(), id, ctx.home());
        Map<String, CheckedUnit> out = new LinkedHashMap<>();
        for (Map.Entry<String, byte[]> e : shipped.entrySet()) {
            try {
                UnitFile file = UnitFile.parse(e.getKey(), e.getValue()).mapValues(v -> render(v, placeholders));
                out.put(e.getKey(), new UnitCheck(ctx, file).run());
            } catch (RuleViolation v) {
                throw refuse(id, v);
            }
        }
        return out;
    }

    private static void checkLayout(Context ctx) throws SupervisionException {
        HostLayout layout = ctx.layout();
        Path privileged = layout.privilegedRoot();
        Path data = layout.data();
        if (privileged.startsWith(data) || data.startsWith(privileged)) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + ctx.id() + ": unit install refused: the "
                    + "privileged root " + privileged + " overlaps the agent's data directory " + data);
        }
        for (String p : placeholders(layout, ctx.id(), ctx.home()).values()) {
            if (!PLAIN_PATH.matcher(p).matches()) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + ctx.id() + ": unit install refused: "
                        + "the host path " + p + " has characters systemd would interpret; use letters, digits and /._+-");
            }
        }
    }

    static SupervisionException refuse(AddonId id, RuleViolation v) {
        return new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": unit install refused: "
                + v.getMessage());
    }

    static String printable(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(100).forEach(c -> {
            if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029 || c == 0xfeff) {
                b.append(String.format("\\u%04x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.toString();
    }

    // ---- one unit ----------------------------------------------------------------------------------

    /** Kinds whose values name users, groups, paths or files: no specifier at all. */
    private static final Set<Kind> NAMES_AND_PATHS = Set.of(Kind.IDENTITY, Kind.PATH, Kind.OUTPUT, Kind.DIRECTORIES);
    /** Kinds whose values are lists of names that systemd splits at blanks without unquoting. */
    private static final Set<Kind> NAME_LISTS = Set.of(Kind.IDENTITY, Kind.DIRECTORIES, Kind.DEPENDENCIES,
            Kind.INSTALL_TARGET, Kind.TIMER_UNIT);
    private static final Pattern USER_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]*\\$?|[0-9]{1,10}");

    /** The rules of one unit file, after parsing and rendering; {@link LoadedUnitCheck} reuses them. */
    static final class UnitCheck {
        private final Context ctx;
        private final UnitFile file;
        private final String unit;
        private final boolean runsAsRoot;
        final Map<String, String> environment = new LinkedHashMap<>();
        private final List<Link> links = new ArrayList<>();

        UnitCheck(Context ctx, UnitFile file) {
            this(ctx, file, runsAsRoot(file));
        }

        UnitCheck(Context ctx, UnitFile file, boolean runsAsRoot) {
            this.ctx = ctx;
            this.file = file;
            this.unit = file.unit();
            this.runsAsRoot = runsAsRoot;
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
                    case EXEC -> exec(e);
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

        // -- commands

        private void exec(Entry e) throws RuleViolation {
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
        private boolean dataOfTheAddon(String path) {
            Path p = Path.of(path).normalize();
            return p.startsWith(stateDir(ctx.layout(), ctx.id())) || p.startsWith(spoolDir(ctx.layout(), ctx.id()))
                    || p.equals(configFile(ctx.layout(), ctx.id()));
        }

        /** True when {@code value} mentions the add-on's state or spool directory or its config file anywhere. */
        private boolean namesDataOfTheAddon(String value) {
            return value.contains(stateDir(ctx.layout(), ctx.id()).toString())
                    || value.contains(spoolDir(ctx.layout(), ctx.id()).toString())
                    || value.contains(configFile(ctx.layout(), ctx.id()).toString());
        }

        private void judge(Entry e, String what, String path) throws RuleViolation {
            relative(e, what, path);
            Optional<String> why = ctx.paths().whyNot(path);
            if (why.isPresent()) {
                throw violation(e, PATHS, what + ", but " + why.get() + "; root may only use paths nobody else "
                        + "can change");
            }
        }

        private void relative(Entry e, String what, String path) throws RuleViolation {
            for (String part : path.split("/")) {
                if (part.equals("..") || part.equals(".")) {
                    throw violation(e, PATHS, what + ", which has a \"" + part + "\" component");
                }
            }
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
            if (!runsAsRoot && (search || OPTION_VARIABLES.contains(name)) && namesDataOfTheAddon(value)) {
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
            if (PARENT.matcher(value).find()) {
                throw violation(e, PATHS, "Environment= sets " + name + " to a value with a \"..\" path component");
            }
            for (String piece : pathPieces(value)) {
                relative(e, "Environment= sets " + name + " to " + piece, piece);
                if (!runsAsRoot && !search && dataOfTheAddon(piece)) {
                    continue;
                }
                judge(e, "Environment= sets " + name + " to " + piece, piece);
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
            judge(e, e.key() + "=" + v, v);
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
                    judge(e, e.key() + "= writes " + path, path);
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

        // -- helpers

        private List<String> words(Entry e, String value) throws RuleViolation {
            try {
                return Words.split(value);
            } catch (IllegalArgumentException x) {
                throw violation(e, Words.QUOTES, e.key() + "= has " + x.getMessage());
            }
        }

        private RuleViolation violation(Entry e, String rule, String detail) {
            return new RuleViolation(unit, e.line(), rule, detail);
        }
    }

    /** The allowlisted specifiers of {@code s} expanded for {@code unit} (not a template: %i and %I are empty). */
    static String specifiers(String s, String unit) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        String stem = unit.substring(0, unit.lastIndexOf('.'));
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '%' || i + 1 >= s.length()) {
                out.append(c);
                continue;
            }
            char k = s.charAt(++i);
            out.append(switch (k) {
                case 'n' -> unit;
                case 'N', 'p' -> stem;
                case '%' -> "%";
                default -> "";
            });
        }
        return out.toString();
    }

    /** Root unless {@code User=} names another user or {@code DynamicUser=} is on. */
    static boolean runsAsRoot(UnitFile file) {
        String user = "";
        boolean dynamic = false;
        for (Entry e : file.entries()) {
            if (!e.section().equals("Service")) {
                continue;
            }
            if (e.key().equals("User")) {
                user = e.value();
            } else if (e.key().equals("DynamicUser")) {
                dynamic = Set.of("yes", "true", "on", "1").contains(e.value());
            }
        }
        return !dynamic && !nonRootUser(user);
    }

    /** Only a plain user name other than root, or a non-zero number, is another user; anything else may be root. */
    private static boolean nonRootUser(String user) {
        if (!USER_NAME.matcher(user).matches() || user.equals("root")) {
            return false;
        }
        return !user.chars().allMatch(Character::isDigit) || Long.parseLong(user) != 0;
    }

    /**
     * The absolute paths inside a word: every run that starts with {@code /} at the word's start or after a
     * separator ({@code = : , } whitespace, quotes and shell punctuation), up to the next separator.
     */
    static List<String> pathPieces(String word) {
        List<String> out = new ArrayList<>();
        String separators = "=:;, \t\"'()<>|&`{}[]";
        int i = 0;
        while (i < word.length()) {
            boolean atStart = i == 0 || separators.indexOf(word.charAt(i - 1)) >= 0;
            if (word.charAt(i) == '/' && atStart) {
                int end = i;
                while (end < word.length() && separators.indexOf(word.charAt(end)) < 0) {
                    end++;
                }
                out.add(word.substring(i, end));
                i = end;
            } else {
                i++;
            }
        }
        return out;
    }
}
