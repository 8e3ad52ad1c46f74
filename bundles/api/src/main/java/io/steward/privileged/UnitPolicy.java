package io.steward.privileged;

import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The checks every {@link UnitInstaller} runs before it writes anything (PRODUCT §4, §7.7), shared here so
 * that the in-process installer and the root updater run exactly the same code. Stateless and
 * thread-safe; every refusal is a PERMANENT {@link SupervisionException} naming the add-on, the unit and
 * the cause.
 */
public final class UnitPolicy {
    /** File name of the resources drop-in, in {@code <service>.d/}; "50-" orders it after distro defaults. */
    public static final String RESOURCES_DROP_IN = "50-steward-resources.conf";
    /** The placeholder for the root-owned {@code current} directory of the add-on. */
    public static final String ADDON_HOME = "@ADDON_HOME@";
    /** The placeholder for the add-on's writable state directory. */
    public static final String ADDON_STATE = "@ADDON_STATE@";
    /** The placeholder for the add-on's merged config file. */
    public static final String ADDON_CONFIG = "@ADDON_CONFIG@";
    /** Unit-file keys whose value is a command line. */
    public static final Set<String> EXEC_KEYS = Set.of("ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop",
            "ExecStopPost", "ExecReload", "ExecCondition");

    private static final Pattern SUFFIX = Pattern.compile("[A-Za-z0-9_.:-]{1,128}");
    private static final Set<String> LOADER_VARIABLES = Set.of("LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT");

    private static final java.util.Map<String, Object> CLAIM_LOCKS = new java.util.concurrent.ConcurrentHashMap<>();

    private UnitPolicy() {
    }

    // ---- names -------------------------------------------------------------------------------

    /** True when {@code unit} is {@code steward-<id>.service|timer} or {@code steward-<id>-<suffix>.service|timer}. */
    public static boolean isOwnedName(AddonId id, String unit) {
        if (unit == null || unit.length() > 255) {
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

    /**
     * What add-ons whose unit names could collide have in common: {@code steward-a-b-x.service} is a name of
     * add-on {@code a} (suffix {@code b-x}) and of {@code a-b} (suffix {@code x}), so only ids with the same
     * first dash-separated segment can claim one unit. Whoever checks and records unit ownership holds one
     * lock per key, so two such add-ons are never installed at once while all others may be.
     *
     * @since 1.1
     */
    public static String claimKey(AddonId id) {
        int dash = id.value().indexOf('-');
        return dash < 0 ? id.value() : id.value().substring(0, dash);
    }

    /**
     * The lock of {@link #claimKey} within this framework: one object per key, shared by every bundle that
     * installs units (both systemd kinds), since this class is loaded once, by the API bundle.
     *
     * @since 1.1
     */
    public static Object claimLock(AddonId id) {
        return CLAIM_LOCKS.computeIfAbsent(claimKey(id), k -> new Object());
    }

    /** Refuses a unit name outside the add-on's naming convention (install and uninstall alike). */
    public static void checkName(AddonId id, String unit) throws SupervisionException {
        if (!isOwnedName(id, unit)) {
            throw refuse(id, "unit name \"" + unit + "\" is outside the convention steward-" + id
                    + "[-<suffix>].service|timer; Steward installs and removes no other unit");
        }
    }

    /** The service a timer starts: its {@code [Timer] Unit=}, else the timer's basename with {@code .service}. */
    public static String timerTarget(String timerName, String timerText) {
        String target = null;
        String section = "";
        for (String line : logicalLines(timerText)) {
            if (line.startsWith("[") && line.endsWith("]")) {
                section = line;
            } else if (section.equals("[Timer]")) {
                int eq = line.indexOf('=');
                if (eq > 0 && line.substring(0, eq).trim().equals("Unit")) {
                    String value = line.substring(eq + 1).trim();
                    target = value.isEmpty() ? null : value;   // an empty assignment resets
                }
            }
        }
        if (target != null) {
            return target;
        }
        return timerName.substring(0, timerName.length() - ".timer".length()) + ".service";
    }

    // ---- placeholders and layout ---------------------------------------------------------------

    /** The add-on's writable state directory: {@code <data>/addons/<id>/state}. */
    public static Path stateDir(HostLayout layout, AddonId id) {
        return layout.addonHome(id).resolve("state");
    }

    /** The add-on's merged config file: {@code <data>/addons/<id>/config.json}. */
    public static Path configFile(HostLayout layout, AddonId id) {
        return layout.addonHome(id).resolve("config.json");
    }

    /** The root-owned copy's {@code current} link: {@code <privileged-root>/<id>/current}. */
    public static Path privilegedCurrent(HostLayout layout, AddonId id) {
        return layout.privilegedRoot().resolve(id.value()).resolve("current");
    }

    /** Directories the agent can write, from which no unit may execute anything: the data directory. */
    public static List<Path> agentWritableRoots(HostLayout layout) {
        return List.of(layout.data());
    }

    /** The placeholder values for an add-on. */
    public static Map<String, String> placeholders(HostLayout layout, AddonId id) {
        Map<String, String> values = new LinkedHashMap<>();
        values.put(ADDON_HOME, privilegedCurrent(layout, id).toString());
        values.put(ADDON_STATE, stateDir(layout, id).toString());
        values.put(ADDON_CONFIG, configFile(layout, id).toString());
        return values;
    }

    /** The unit text with every placeholder substituted. */
    public static String render(String text, Map<String, String> placeholders) {
        String out = text;
        for (Map.Entry<String, String> e : placeholders.entrySet()) {
            out = out.replace(e.getKey(), e.getValue());
        }
        return out;
    }

    // ---- the checks ----------------------------------------------------------------------------

    /**
     * Every check of a request, on the rendered unit texts, before any host write: the privileged root does
     * not overlap a writable root; every name follows the convention; the primary is one of the units and
     * is a {@code .service} or {@code .timer}; no {@code Exec*=} command (and no loader variable in
     * {@code Environment=}) lies in a writable root; every timer's {@code Unit=} is shipped in the same set.
     *
     * @param rendered unit name → rendered text, for every unit of the request
     */
    public static void validate(HostLayout layout, AddonId id, Map<String, String> rendered, String primary)
            throws SupervisionException {
        List<Path> writable = agentWritableRoots(layout);
        Path privileged = layout.privilegedRoot();
        for (Path root : writable) {
            if (privileged.startsWith(root) || root.startsWith(privileged)) {
                throw refuse(id, "the privileged root " + privileged + " overlaps the agent-writable " + root);
            }
        }
        if (rendered.isEmpty()) {
            throw refuse(id, "the artifact ships no unit");
        }
        for (String unit : rendered.keySet()) {
            checkName(id, unit);
        }
        if (!rendered.containsKey(primary)) {
            throw refuse(id, "the primary unit " + primary + " is not shipped");
        }
        for (Map.Entry<String, String> e : rendered.entrySet()) {
            checkExec(id, e.getKey(), e.getValue(), writable);
            if (e.getKey().endsWith(".timer")) {
                String target = timerTarget(e.getKey(), e.getValue());
                if (!rendered.containsKey(target)) {
                    throw refuse(id, "timer " + e.getKey() + " starts " + target
                            + ", which is not shipped in the same artifact");
                }
            }
        }
    }

    /** Refuses a unit whose {@code Exec*=} command, or a loader variable, points into a writable root. */
    public static void checkExec(AddonId id, String unit, String text, List<Path> writableRoots)
            throws SupervisionException {
        for (String line : logicalLines(text)) {
            int eq = line.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            String key = line.substring(0, eq).trim();
            String value = line.substring(eq + 1).trim();
            if (EXEC_KEYS.contains(key)) {
                Optional<String> command = commandPath(value);
                if (command.isPresent() && inWritableRoot(command.get(), writableRoots)) {
                    throw refuse(id, unit + ": " + key + "= runs " + command.get()
                            + ", which lies in a directory the agent can write");
                }
            } else if (key.equals("Environment")) {
                for (String variable : LOADER_VARIABLES) {
                    int at = value.indexOf(variable + "=");
                    if (at >= 0) {
                        for (String part : value.substring(at + variable.length() + 1).split("[\\s:\"']+")) {
                            if (!part.isEmpty() && inWritableRoot(part, writableRoots)) {
                                throw refuse(id, unit + ": Environment= sets " + variable
                                        + " into a directory the agent can write");
                            }
                        }
                    }
                }
            }
        }
    }

    /** The program of an {@code Exec*=} value without its {@code -@:+!|} prefixes; empty for a reset. */
    public static Optional<String> commandPath(String value) {
        String v = value.trim();
        int i = 0;
        while (i < v.length() && "-@:+!|".indexOf(v.charAt(i)) >= 0) {
            i++;
        }
        v = v.substring(i).trim();
        if (v.isEmpty()) {
            return Optional.empty();
        }
        char first = v.charAt(0);
        if (first == '"' || first == '\'') {
            int end = v.indexOf(first, 1);
            return Optional.of(end < 0 ? v.substring(1) : v.substring(1, end));
        }
        int space = 0;
        while (space < v.length() && !Character.isWhitespace(v.charAt(space))) {
            space++;
        }
        return Optional.of(v.substring(0, space));
    }

    /** True when {@code path} is absolute and lies (lexically, or after resolving links) in one of the roots. */
    public static boolean inWritableRoot(String path, List<Path> roots) {
        Path p;
        try {
            p = Path.of(path);
        } catch (InvalidPathException e) {
            return false;
        }
        if (!p.isAbsolute()) {
            return false;
        }
        List<Path> candidates = new ArrayList<>(List.of(p.normalize()));
        try {
            if (Files.exists(p)) {
                candidates.add(p.toRealPath());
            }
        } catch (IOException e) {
            // unreadable: the lexical check stands
        }
        for (Path root : roots) {
            Path normalizedRoot = root.toAbsolutePath().normalize();
            Path realRoot = normalizedRoot;
            try {
                if (Files.exists(normalizedRoot)) {
                    realRoot = normalizedRoot.toRealPath();
                }
            } catch (IOException e) {
                // keep the lexical root
            }
            for (Path c : candidates) {
                if (c.startsWith(normalizedRoot) || c.startsWith(realRoot)) {
                    return true;
                }
            }
        }
        return false;
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

    /** Unit-file lines with continuations joined, trimmed, without blanks and comments. */
    static List<String> logicalLines(String text) {
        List<String> lines = new ArrayList<>();
        StringBuilder pending = null;
        for (String raw : text.split("\\R", -1)) {
            String line = raw.strip();
            if (pending == null && (line.isEmpty() || line.startsWith("#") || line.startsWith(";"))) {
                continue;
            }
            if (line.endsWith("\\")) {
                String part = line.substring(0, line.length() - 1);
                pending = pending == null ? new StringBuilder(part) : pending.append(' ').append(part);
                continue;
            }
            String full = pending == null ? line : pending.append(' ').append(line).toString();
            pending = null;
            if (!full.isEmpty()) {
                lines.add(full);
            }
        }
        if (pending != null && pending.length() > 0) {
            lines.add(pending.toString());
        }
        return lines;
    }

    private static SupervisionException refuse(AddonId id, String why) {
        return new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": unit install refused: " + why);
    }

    /** Lower-case file extension check used by discovery: true for {@code .service} and {@code .timer}. */
    public static boolean isUnitFileName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".service") || n.endsWith(".timer");
    }
}
