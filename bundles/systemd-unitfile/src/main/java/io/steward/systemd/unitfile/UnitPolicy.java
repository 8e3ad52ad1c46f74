package io.steward.systemd.unitfile;

import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
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
 * What an add-on's units may be (docs/privilege-separation.md "Unit rules"), checked by every installer before it writes anything: the
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
    /** Layout paths substituted into unit text: nothing systemd would read as a quote, specifier or variable. */
    private static final Pattern PLAIN_PATH = Pattern.compile("/[A-Za-z0-9/._+-]*");
    /** Ids whose convention would own Steward's own units ({@code steward-updater.service}, …). */
    private static final Set<String> RESERVED_IDS = Set.of("updater");
    /** A plain user or group name, or a number. */
    static final Pattern USER_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]*\\$?|[0-9]{1,10}");

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
