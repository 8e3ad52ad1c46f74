package io.steward.systemd.units;

import io.steward.systemd.units.RealUnits.Line;
import io.steward.systemd.units.RealUnits.UnitFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Counts, over the corpus as Debian ships it, the idioms the strict unit rules (docs: the rule vocabulary) have to
 * decide on, each labelled with the rule that would refuse it (or "allowed" / "test" where the rules do not or the
 * test's transformation removes it). Printed by {@link RealUnitsTest}; a measurement, not an assertion.
 */
final class RealUnitsIdioms {
    private RealUnitsIdioms() {
    }

    static final Set<String> ALLOWED_TARGETS = Set.of("network.target", "network-online.target", "nss-lookup.target",
            "time-sync.target", "local-fs.target", "remote-fs.target", "sysinit.target", "basic.target",
            "multi-user.target", "timers.target", "sockets.target", "paths.target");
    static final Set<String> INSTALL_TARGETS = Set.of("multi-user.target", "default.target", "timers.target",
            "graphical.target");
    static final Set<String> DEPENDENCY_KEYS = Set.of("Wants", "Requires", "Requisite", "BindsTo", "PartOf",
            "Upholds", "Conflicts", "OnFailure", "OnSuccess", "PropagatesReloadTo", "ReloadPropagatedFrom",
            "PropagatesStopTo", "StopPropagatedFrom");
    static final Set<String> REFUSED_DIRECTIVES = Set.of("ExecSearchPath", "RootDirectory", "RootImage",
            "MountImages", "ExtensionImages", "ExtensionDirectories", "BindPaths", "BindReadOnlyPaths",
            "TemporaryFileSystem", "LoadCredential", "LoadCredentialEncrypted", "SetCredential",
            "SetCredentialEncrypted", "ImportCredential", "PassEnvironment", "JoinsNamespaceOf",
            "NetworkNamespacePath", "PAMName", "Sockets");
    static final Set<String> LOADER_VARIABLES = Set.of("PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT",
            "PYTHONPATH", "PERL5LIB", "PERLLIB", "RUBYLIB", "NODE_PATH", "BASH_ENV", "ENV", "CLASSPATH");
    private static final Pattern VARIABLE = Pattern.compile("\\$\\{?([A-Za-z_][A-Za-z0-9_]*)\\}?");
    private static final Pattern SPECIFIER = Pattern.compile("%(.)");
    private static final Pattern ABSOLUTE = Pattern.compile("(?<![A-Za-z0-9_.])(/[^\\s'\";:,=]*)");

    static Map<String, Set<String>> scan(Map<String, List<UnitFile>> corpus) {
        Map<String, Set<String>> out = new LinkedHashMap<>();
        for (List<UnitFile> files : corpus.values()) {
            Set<String> own = new TreeSet<>();
            files.forEach(u -> own.add(u.name()));
            for (UnitFile u : files) {
                scanOne(u, own, Set.of(u.name()), out);
            }
        }
        return out;
    }

    /**
     * The rules (of {@link RealUnitsTest#RULES}) the idioms of one add-on's shipped units point at: a forecast of
     * what the strict policy will refuse, not its verdict. Idioms the test's transformation removes (programs,
     * the timer's Unit=) are left out.
     */
    static Set<String> forecast(List<UnitFile> addon, List<UnitFile> pkg) {
        Set<String> own = new TreeSet<>();
        pkg.forEach(u -> own.add(u.name()));
        Map<String, Set<String>> out = new LinkedHashMap<>();
        Set<String> members = new TreeSet<>();
        addon.forEach(u -> members.add(u.name()));
        for (UnitFile u : addon) {
            scanOne(u, own, members, out);
        }
        Set<String> rules = new TreeSet<>();
        for (String idiom : out.keySet()) {
            int arrow = idiom.indexOf("-> ");
            if (arrow < 0 || idiom.contains("the test replaces")) {
                continue;
            }
            String rest = idiom.substring(arrow + 3);
            String rule = rest.contains(" (") ? rest.substring(0, rest.indexOf(" (")) : rest;
            if (RealUnitsTest.RULES.contains(rule)) {
                rules.add(rule);
            }
        }
        return rules;
    }

    private static void add(Map<String, Set<String>> out, String idiom, UnitFile u) {
        add(out, idiom, u, "");
    }

    /** Records that {@code u} uses {@code idiom}; entries are "unit" or "unit(example)". */
    private static void add(Map<String, Set<String>> out, String idiom, UnitFile u, String example) {
        out.computeIfAbsent(idiom, k -> new TreeSet<>()).add(u.name() + (example.isEmpty() ? "" : "(" + example
                + ")"));
    }

    /** How many distinct units an idiom's entries name. */
    static long units(Set<String> entries) {
        return entries.stream().map(e -> e.contains("(") ? e.substring(0, e.indexOf('(')) : e).distinct().count();
    }

    private static void scanOne(UnitFile u, Set<String> own, Set<String> members, Map<String, Set<String>> out) {
        // physical-text idioms
        for (int i = 0; i < u.physical().size(); i++) {
            String line = u.physical().get(i);
            String t = line.strip();
            boolean comment = t.startsWith("#") || t.startsWith(";");
            if (!comment && line.endsWith("\\")) {
                add(out, "continuation lines (allowed unless a comment is inside or it ends the file)", u);
                if (i + 1 < u.physical().size()) {
                    String next = u.physical().get(i + 1).strip();
                    if (next.startsWith("#") || next.startsWith(";")) {
                        add(out, "comment inside a continuation -> plain continuations", u);
                    }
                }
            }
            String body = !comment && line.endsWith("\\") ? line.substring(0, line.length() - 1) : line;
            if (!comment && body.indexOf('\\') >= 0) {
                add(out, "backslash other than a continuation (e.g. \\; \\n \\x) -> no escapes", u);
            }
            if (!comment && !t.chars().allMatch(c -> c < 0x80)) {
                add(out, "non-ASCII outside comments -> plain text", u);
            }
            if (line.indexOf('\r') >= 0 || line.indexOf('\f') >= 0) {
                add(out, "CR or FF -> plain text", u);
            }
            if (t.startsWith(".include")) {
                add(out, ".include -> no includes", u);
            }
        }
        if (u.lines().stream().noneMatch(l -> l.section().equals("Install"))) {
            add(out, "no [Install] section (a static unit: Steward reports it PENDING, 'static')", u);
        }
        if (!u.isTimer()) {
            for (String m : RealUnitsTest.missingAccounts(u)) {
                add(out, "User=/Group= an account that does not exist on this host (systemd: 217/USER)", u, m);
            }
        }
        for (Line l : u.lines()) {
            String k = l.key();
            if (l.section().equals("Unit") && (k.startsWith("Condition") || k.startsWith("Assert"))) {
                add(out, "Condition*=/Assert*= (host config present, not in a container, ...)", u, k + "=" + l.value());
            }
            String v = l.value();
            if (!Set.of("Unit", "Service", "Timer", "Install").contains(l.section())) {
                add(out, "section other than [Unit] [Service] [Timer] [Install] -> section allowlist", u);
            }
            for (Matcher m = SPECIFIER.matcher(v); m.find(); ) {
                if ("nNpiI%".indexOf(m.group(1).charAt(0)) < 0) {
                    add(out, "specifier other than %n %N %p %i %I %% -> specifier allowlist", u, "%" + m.group(1));
                }
            }
            if (RealUnits.EXEC_KEYS.contains(k)) {
                scanExec(u, l, out);
            } else if (v.contains("$")) {
                add(out, "'$' outside Exec*= -> known variables", u, k);
            }
            switch (k) {
                case "EnvironmentFile" -> add(out, v.startsWith("-") ? "EnvironmentFile=-/etc/default/... (optional)"
                        + " -> directive allowlist" : "EnvironmentFile= (required) -> directive allowlist", u, v);
                case "StateDirectory", "RuntimeDirectory", "CacheDirectory", "LogsDirectory",
                        "ConfigurationDirectory" -> add(out, "State/Runtime/Cache/Logs/ConfigurationDirectory= a "
                        + "package directory -> directive allowlist", u, k + "=" + v);
                case "Alias", "Also", "DefaultInstance" -> add(out, k + "= -> install targets", u, v);
                case "WantedBy", "RequiredBy" -> {
                    for (String w : v.split("\\s+")) {
                        if (!w.isEmpty() && !INSTALL_TARGETS.contains(w)) {
                            add(out, "WantedBy=/RequiredBy= another target or unit -> install targets", u,
                                    own.contains(w) ? "own " + w : w);
                        }
                    }
                }
                case "User", "Group" -> {
                    if (!v.equals("root") && !v.equals("0")) {
                        add(out, "User=/Group= a non-root account", u, k + "=" + v);
                    }
                }
                case "DynamicUser" -> add(out, "DynamicUser=", u);
                case "PIDFile" -> add(out, "PIDFile= (root-owned paths judges it)", u, v);
                case "WorkingDirectory" -> add(out, "WorkingDirectory= (root-owned paths judges it)", u, v);
                case "Type" -> add(out, "Type=" + v, u);
                case "RemainAfterExit" -> add(out, "RemainAfterExit=", u, v);
                case "BusName" -> add(out, "BusName= (Type=dbus)", u);
                case "StandardOutput", "StandardError", "StandardInput" -> {
                    if (v.startsWith("file:") || v.startsWith("append:") || v.startsWith("truncate:")) {
                        add(out, "StandardOutput/Error/Input=file:|append:|truncate: -> directive allowlist", u, k
                                + "=" + v);
                    }
                }
                case "FailureAction", "SuccessAction", "StartLimitAction", "JobTimeoutAction" -> {
                    if (!v.equals("none")) {
                        add(out, "FailureAction/SuccessAction/StartLimitAction/JobTimeoutAction other than none "
                                + "-> directive allowlist", u, k + "=" + v);
                    }
                }
                case "Environment" -> {
                    add(out, "Environment=", u);
                    for (String name : LOADER_VARIABLES) {
                        if (v.matches(".*(^|[\\s\"'])" + name + "=.*")) {
                            add(out, "Environment= a loader/search variable -> environment judges its entries", u,
                                    name);
                        }
                    }
                }
                case "ReadWritePaths", "ReadWriteDirectories", "ReadOnlyPaths", "ReadOnlyDirectories",
                        "InaccessiblePaths", "InaccessibleDirectories", "ExecPaths", "NoExecPaths" ->
                        add(out, "ReadWritePaths=/ReadOnlyPaths=/...Directories=/ExecPaths= (not named in the rules; "
                                + "depends on the allowlist)", u, k);
                case "AppArmorProfile", "SELinuxContext", "SmackProcessLabel" ->
                        add(out, "AppArmorProfile=/SELinuxContext= (depends on the allowlist)", u, k);
                case "PermissionsStartOnly" -> add(out, "PermissionsStartOnly= (deprecated; depends on the "
                        + "allowlist)", u);
                default -> {
                }
            }
            if (REFUSED_DIRECTIVES.contains(k)) {
                add(out, "a directive rules.md always refuses -> directive allowlist", u, k);
            }
            if (DEPENDENCY_KEYS.contains(k)) {
                for (String w : v.split("\\s+")) {
                    if (w.isEmpty() || ALLOWED_TARGETS.contains(w) || k.equals("Conflicts")
                            && w.equals("shutdown.target")) {
                        continue;
                    }
                    if (members.contains(w)) {
                        add(out, "Wants=/Requires=/... a unit of the same add-on (allowed)", u, k + "=" + w);
                    } else if (own.contains(w)) {
                        add(out, "Wants=/Requires=/BindsTo=/PartOf=/... a unit of the same package (another add-on) "
                                + "-> own dependencies", u, k + "=" + w);
                    } else if (k.equals("Conflicts")) {
                        add(out, "Conflicts= a foreign unit -> own dependencies", u, w);
                    } else {
                        add(out, "Wants=/Requires=/BindsTo=/PartOf=/... a foreign unit -> own dependencies", u,
                                k + "=" + w);
                    }
                }
            }
            if (k.equals("Unit") && l.section().equals("Timer")) {
                add(out, "[Timer] Unit= (renamed by the test; own timer)", u);
            }
        }
    }

    private static void scanExec(UnitFile u, Line l, Map<String, Set<String>> out) {
        String v = l.value();
        if (v.isEmpty()) {
            add(out, "empty Exec*= (a reset)", u);
            return;
        }
        int i = 0;
        while (i < v.length() && "-@:+!|".indexOf(v.charAt(i)) >= 0) {
            i++;
        }
        String prefix = v.substring(0, i);
        for (char c : prefix.toCharArray()) {
            String name = switch (c) {
                case '-' -> "'-' prefix (failure ignored; allowed)";
                case '+' -> "'+' prefix (full privileges; allowed)";
                case '!' -> "'!' prefix (no user switch; allowed)";
                case ':' -> "':' prefix (no expansion; allowed)";
                case '@' -> "'@' prefix -> directive allowlist";
                default -> "'|' prefix -> directive allowlist";
            };
            add(out, "Exec*= " + name, u);
        }
        String rest = v.substring(i);
        String program = rest.split("\\s+", 2)[0];
        if (!program.startsWith("/") && !program.startsWith("\"/") && !program.startsWith("'/")) {
            add(out, "Exec*= program not an absolute path -> absolute programs (the test replaces programs)", u,
                    program);
        }
        if (rest.matches(".*(^|\\s);(\\s|$).*")) {
            add(out, "Exec*= ';' as a word (several commands) -> absolute programs", u);
        } else if (rest.contains(";")) {
            add(out, "Exec*= ';' inside an argument (sh -c '...; ...', nginx -g '...;') -> absolute programs", u);
        }
        if (!wholeWordQuotes(rest)) {
            add(out, "Exec*= a quote that does not start a word (--opt=\"x\"), or not closed before whitespace "
                    + "-> whole-word quotes", u);
        }
        if (rest.matches(".*(bin/)?(sh|bash|dash) -c .*")) {
            add(out, "Exec*= a shell with -c (allowed; the script is an argument)", u);
        }
        for (Matcher m = VARIABLE.matcher(rest); m.find(); ) {
            String name = m.group(1);
            boolean own = u.all("Service", "Environment").stream().anyMatch(e -> e.matches("(?s).*(^|[\\s\"'])"
                    + name + "=.*"));
            if (Set.of("MAINPID", "MANAGERPID", "INVOCATION_ID").contains(name)) {
                add(out, "Exec*= $MAINPID/${MAINPID} (allowed)", u, name);
            } else if (own) {
                add(out, "Exec*= $VAR set by the unit's own Environment= (allowed)", u);
            } else {
                add(out, "Exec*= $VAR from EnvironmentFile= (or unset) -> known variables", u, name);
            }
        }
        if (rest.replaceAll("\\$\\{?[A-Za-z_][A-Za-z0-9_]*\\}?", "").contains("$")) {
            add(out, "Exec*= other use of '$' ($$, $(...), $1 in sh -c) -> known variables", u);
        }
        for (Matcher m = ABSOLUTE.matcher(rest.substring(Math.min(rest.length(), program.length()))); m.find(); ) {
            String p = m.group(1);
            if (p.length() < 2) {
                continue;
            }
            String verdict = judge(p);
            if (!verdict.isEmpty()) {
                add(out, "Exec*= argument path in a directory not root-owned or group/other-writable here "
                        + "-> root-owned paths", u, p + ": " + verdict);
            }
        }
    }

    static boolean wholeWordQuotes(String s) {
        boolean inQuote = false;
        boolean afterClose = false;
        boolean wordStart = true;
        char q = 0;
        for (char c : s.toCharArray()) {
            if (inQuote) {
                if (c == q) {
                    inQuote = false;
                    afterClose = true;
                }
                continue;
            }
            if (afterClose) {
                afterClose = false;
                if (!Character.isWhitespace(c)) {
                    return false;
                }
            }
            if (Character.isWhitespace(c)) {
                wordStart = true;
                continue;
            }
            if (c == '"' || c == '\'') {
                if (!wordStart) {
                    return false;
                }
                inQuote = true;
                q = c;
            }
            wordStart = false;
        }
        return !inQuote;
    }

    /** How an absolute argument fares with "root-owned paths" on this host; empty when it passes. */
    static String judge(String path) {
        if (path.contains("/./") || path.contains("/../") || path.endsWith("/.") || path.endsWith("/..")) {
            return ". or .. component";
        }
        Path p = Path.of(path.replaceAll("%.", "x"));
        for (Path cur = p.getRoot(), next; cur != null; cur = next) {
            try {
                if (!Files.exists(cur)) {
                    return "";
                }
                PosixFileAttributes a = Files.readAttributes(cur, PosixFileAttributes.class);
                Set<PosixFilePermission> perms = a.permissions();
                if (!a.owner().getName().equals("root") || perms.contains(PosixFilePermission.GROUP_WRITE)
                        || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                    return cur + " is " + a.owner().getName() + ":" + a.group().getName() + " "
                            + java.nio.file.attribute.PosixFilePermissions.toString(perms);
                }
            } catch (Exception e) {
                return "";
            }
            int n = cur.getNameCount();
            next = n < p.getNameCount() ? cur.resolve(p.getName(n).toString()) : null;
        }
        return "";
    }
}
