package io.steward.systemd.units;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Debian unit corpus of {@link RealUnitsTest} ({@code src/test/resources/debian-units/<package>/}) and
 * the one transformation the test applies to a shipped unit before installing it as an add-on: names to
 * Steward's convention, references among the package's own units to the new names, every program of every
 * {@code Exec*=} line to a stand-in in the artifact. Every other byte stays as Debian ships it.
 */
final class RealUnits {
    static final String STANDIN = "@ADDON_HOME@/standin";
    static final String STEP = "@ADDON_HOME@/standin-step";
    static final Set<String> EXEC_KEYS = Set.of("ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop",
            "ExecStopPost", "ExecReload", "ExecCondition");
    /** Keys whose value is a list of unit names (the package's own units in them are renamed). */
    static final Set<String> UNIT_LIST_KEYS = Set.of("Wants", "Requires", "Requisite", "BindsTo", "PartOf", "Upholds",
            "Conflicts", "Before", "After", "OnFailure", "OnSuccess", "PropagatesReloadTo", "ReloadPropagatedFrom",
            "PropagatesStopTo", "StopPropagatedFrom", "JoinsNamespaceOf", "WantedBy", "RequiredBy", "Also", "Alias",
            "Unit");

    private RealUnits() {
    }

    /** One logical line of a unit file: its section, key, value (continuations joined) and physical lines. */
    record Line(String section, String key, String value, int first, int last) {
    }

    /** A shipped unit file, parsed the way systemd reads it (comments, continuations, sections). */
    record UnitFile(String pkg, String name, String text, List<String> physical, List<Line> lines) {
        static UnitFile parse(String pkg, String name, String text) {
            List<String> physical = List.of(text.split("\n", -1));
            List<Line> lines = new ArrayList<>();
            String section = "";
            int i = 0;
            while (i < physical.size()) {
                String raw = physical.get(i).strip();
                if (raw.isEmpty() || raw.startsWith("#") || raw.startsWith(";")) {
                    i++;
                    continue;
                }
                if (raw.startsWith("[") && raw.endsWith("]")) {
                    section = raw.substring(1, raw.length() - 1);
                    i++;
                    continue;
                }
                int first = i;
                StringBuilder joined = new StringBuilder();
                String part = physical.get(i);
                while (part.endsWith("\\") && i + 1 < physical.size()) {
                    joined.append(part, 0, part.length() - 1).append(' ');
                    i++;
                    part = physical.get(i);
                    // systemd skips comment lines inside a continuation
                    while (i + 1 < physical.size() && (part.strip().startsWith("#") || part.strip().startsWith(";"))) {
                        i++;
                        part = physical.get(i);
                    }
                }
                joined.append(part);
                String full = joined.toString().strip();
                int eq = full.indexOf('=');
                String key = eq < 0 ? full : full.substring(0, eq).strip();
                String value = eq < 0 ? "" : full.substring(eq + 1).strip();
                lines.add(new Line(section, key, value, first, i));
                i++;
            }
            return new UnitFile(pkg, name, text, physical, List.copyOf(lines));
        }

        /** The last value of {@code key} in {@code section}, as systemd would use it. */
        Optional<String> last(String section, String key) {
            String v = null;
            for (Line l : lines) {
                if (l.section().equals(section) && l.key().equals(key)) {
                    v = l.value();
                }
            }
            return Optional.ofNullable(v).filter(s -> !s.isEmpty());
        }

        List<String> all(String section, String key) {
            return lines.stream().filter(l -> l.section().equals(section) && l.key().equals(key)).map(Line::value)
                    .toList();
        }

        boolean isTimer() {
            return name.endsWith(".timer");
        }

        String stem() {
            return name.substring(0, name.lastIndexOf('.'));
        }

        /** The service Type= systemd would use (BusName= alone means dbus; no ExecStart= means oneshot). */
        String serviceType() {
            Optional<String> t = last("Service", "Type");
            if (t.isPresent()) {
                return t.get();
            }
            if (last("Service", "BusName").isPresent()) {
                return "dbus";
            }
            return last("Service", "ExecStart").isPresent() ? "simple" : "oneshot";
        }

        /** The service a timer starts. */
        String timerUnit() {
            return last("Timer", "Unit").orElse(stem() + ".service");
        }
    }

    /** The corpus: package → its unit files, sorted. */
    static Map<String, List<UnitFile>> corpus(Path root) throws IOException {
        Map<String, List<UnitFile>> out = new TreeMap<>();
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
                List<UnitFile> files = new ArrayList<>();
                try (Stream<Path> s = Files.list(dir)) {
                    for (Path p : s.sorted().toList()) {
                        String n = p.getFileName().toString();
                        if (n.endsWith(".service") || n.endsWith(".timer")) {
                            files.add(UnitFile.parse(dir.getFileName().toString(), n,
                                    Files.readString(p, StandardCharsets.UTF_8)));
                        }
                    }
                }
                out.put(dir.getFileName().toString(), List.copyOf(files));
            }
        }
        return out;
    }

    /** An add-on id from a unit file name: lower case, anything outside [a-z0-9_-] becomes '-'. */
    static String idFor(String unitName) {
        String stem = unitName.substring(0, unitName.lastIndexOf('.')).toLowerCase(Locale.ROOT);
        String id = stem.replaceAll("[^a-z0-9_-]", "-").replaceAll("^[^a-z0-9]+", "");
        return id.length() > 40 ? id.substring(0, 40) : id;
    }

    /**
     * One add-on to test: a service alone, or a timer with the service it starts. {@code units} maps the
     * shipped file to the name it is installed under.
     */
    record Case(String pkg, String id, String kind, UnitFile primary, List<UnitFile> files,
                Map<String, String> rename, List<UnitFile> packageFiles) {
        String label() {
            return primary.name() + (files.size() > 1 ? " + " + files.get(1).name() : "");
        }

        String type() {
            UnitFile svc = files.stream().filter(f -> !f.isTimer()).findFirst().orElse(null);
            return (primary.isTimer() ? "timer/" : "") + (svc == null ? "-" : svc.serviceType());
        }

        Optional<UnitFile> service() {
            return files.stream().filter(f -> !f.isTimer()).findFirst();
        }
    }

    /** The cases of one package: each timer with its service, then every service no timer of it starts. */
    static List<Case> cases(String pkg, List<UnitFile> files) {
        Map<String, UnitFile> byName = new LinkedHashMap<>();
        files.forEach(f -> byName.put(f.name(), f));
        // every unit of the package gets the name of the add-on it belongs to
        Map<String, String> rename = new LinkedHashMap<>();
        Set<String> consumed = new LinkedHashSet<>();
        List<Case> out = new ArrayList<>();
        List<String[]> plan = new ArrayList<>();
        for (UnitFile f : files) {
            if (f.isTimer()) {
                String id = idFor(f.name());
                rename.put(f.name(), "steward-" + id + ".timer");
                String svc = f.timerUnit();
                if (byName.containsKey(svc)) {
                    rename.put(svc, "steward-" + id + ".service");
                    consumed.add(svc);
                }
                plan.add(new String[] {id, f.name(), svc});
            }
        }
        for (UnitFile f : files) {
            if (!f.isTimer() && !consumed.contains(f.name())) {
                String id = idFor(f.name());
                rename.put(f.name(), "steward-" + id + ".service");
                plan.add(new String[] {id, f.name(), null});
            }
        }
        for (String[] p : plan) {
            UnitFile primary = byName.get(p[1]);
            List<UnitFile> members = new ArrayList<>(List.of(primary));
            if (p[2] != null && byName.containsKey(p[2])) {
                members.add(byName.get(p[2]));
            }
            out.add(new Case(pkg, p[0], primary.isTimer() ? "systemd_timer" : "systemd_service", primary,
                    List.copyOf(members), Map.copyOf(rename), List.copyOf(files)));
        }
        return out;
    }

    /**
     * Packages whose units name a unit another package ships or aliases (Conflicts=, Wants=, After=, … against
     * file names and Alias=): package → the representative of its group (union-find), for running them apart.
     */
    static Map<String, String> interacting(Map<String, List<UnitFile>> corpus) {
        Map<String, String> provider = new TreeMap<>();
        corpus.forEach((pkg, files) -> files.forEach(u -> {
            provider.put(u.name(), pkg);
            u.all("Install", "Alias").forEach(v -> List.of(v.split("\\s+")).forEach(a -> provider.put(a, pkg)));
        }));
        Map<String, String> parent = new TreeMap<>();
        corpus.keySet().forEach(p -> parent.put(p, p));
        java.util.function.UnaryOperator<String> find = new java.util.function.UnaryOperator<>() {
            @Override
            public String apply(String p) {
                while (!parent.get(p).equals(p)) {
                    p = parent.get(p);
                }
                return p;
            }
        };
        corpus.forEach((pkg, files) -> files.forEach(u -> u.lines().stream()
                .filter(l -> UNIT_LIST_KEYS.contains(l.key()) && !l.key().equals("Alias"))
                .flatMap(l -> List.of(l.value().split("\\s+")).stream())
                .map(provider::get).filter(other -> other != null && !other.equals(pkg))
                .forEach(other -> parent.put(find.apply(other), find.apply(pkg)))));
        Map<String, String> out = new TreeMap<>();
        corpus.keySet().forEach(p -> out.put(p, find.apply(p)));
        return out;
    }

    // ---- the transformation ------------------------------------------------------------------------------

    /**
     * The unit as the add-on ships it: own unit names renamed in unit-list keys, each program of each
     * {@code Exec*=} command replaced by {@link #STANDIN} (ExecStart=) or {@link #STEP} (the other Exec
     * keys); everything else, arguments included, byte for byte as shipped.
     */
    static String convert(UnitFile f, Map<String, String> rename) {
        List<String> out = new ArrayList<>(f.physical());
        for (Line l : f.lines()) {
            if (EXEC_KEYS.contains(l.key())) {
                String program = l.key().equals("ExecStart") ? STANDIN : STEP;
                replacePrograms(out, l, program);
            } else if (UNIT_LIST_KEYS.contains(l.key())) {
                for (int i = l.first(); i <= l.last(); i++) {
                    String s = out.get(i);
                    int from = i == l.first() ? s.indexOf('=') + 1 : 0;
                    out.set(i, s.substring(0, from) + renameWords(s.substring(from), rename));
                }
            }
        }
        return String.join("\n", out);
    }

    private static final Pattern WORD = Pattern.compile("[^\\s\\\\]+");

    private static String renameWords(String s, Map<String, String> rename) {
        Matcher m = WORD.matcher(s);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(b, Matcher.quoteReplacement(rename.getOrDefault(m.group(), m.group())));
        }
        m.appendTail(b);
        return b.toString();
    }

    /** Replaces the program word of every command of an Exec line (after prefixes; after each lone ';'). */
    private static void replacePrograms(List<String> out, Line l, String program) {
        boolean expectProgram = true;
        boolean skipArgv0 = false;
        for (int i = l.first(); i <= l.last(); i++) {
            String s = out.get(i);
            String t = s.strip();
            if (i > l.first() && (t.startsWith("#") || t.startsWith(";"))) {
                continue;     // a comment inside a continuation
            }
            StringBuilder b = new StringBuilder();
            int p = 0;
            if (i == l.first()) {
                int eq = s.indexOf('=');
                b.append(s, 0, eq + 1);
                p = eq + 1;
            }
            int end = s.endsWith("\\") ? s.length() - 1 : s.length();
            while (p < end) {
                char c = s.charAt(p);
                if (Character.isWhitespace(c)) {
                    b.append(c);
                    p++;
                    continue;
                }
                if (expectProgram) {
                    int q = p;
                    while (q < end && "-@:+!|".indexOf(s.charAt(q)) >= 0) {
                        q++;
                    }
                    skipArgv0 = s.substring(p, q).contains("@");
                    b.append(s, p, q);
                    p = q;
                    if (p >= end || Character.isWhitespace(s.charAt(p))) {
                        continue;     // prefixes alone on this physical line
                    }
                    int w = wordEnd(s, p, end);
                    b.append(program);
                    p = w;
                    expectProgram = false;
                    continue;
                }
                int w = wordEnd(s, p, end);
                String word = s.substring(p, w);
                if (skipArgv0) {
                    skipArgv0 = false;
                } else if (word.equals(";")) {
                    expectProgram = true;
                }
                b.append(word);
                p = w;
            }
            b.append(s, end, s.length());
            out.set(i, b.toString());
        }
    }

    /** The end of the word at {@code p}: quotes group, a backslash escapes the next character. */
    private static int wordEnd(String s, int p, int end) {
        int q = p;
        char quote = 0;
        while (q < end) {
            char c = s.charAt(q);
            if (quote != 0) {
                if (c == '\\' && q + 1 < end) {
                    q += 2;
                    continue;
                }
                if (c == quote) {
                    quote = 0;
                }
                q++;
                continue;
            }
            if (Character.isWhitespace(c)) {
                break;
            }
            if (c == '"' || c == '\'') {
                quote = c;
            } else if (c == '\\' && q + 1 < end) {
                q++;
            }
            q++;
        }
        return q;
    }

    // ---- the stand-in ---------------------------------------------------------------------------------------

    /** The stand-in for ExecStart=, satisfying {@code Type=}; empty for dbus (it cannot own the bus name). */
    static Optional<String> standin(String type, Optional<String> pidFile) {
        return switch (type) {
            case "simple", "exec", "idle" -> Optional.of("#!/bin/sh\n# stays up, like a daemon\nexec /bin/sleep 600\n");
            case "notify", "notify-reload" -> Optional.of("#!/bin/sh\n# READY=1 to $NOTIFY_SOCKET from the main "
                    + "process (perl-base is Essential on Debian), then stays up\nexec /usr/bin/perl -MSocket -e '"
                    + "my $p = $ENV{NOTIFY_SOCKET} or die \"standin: no NOTIFY_SOCKET\\n\"; $p =~ s/^@/\\0/; "
                    + "socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die \"standin: socket: $!\\n\"; "
                    + "defined send($s, \"READY=1\", 0, pack_sockaddr_un($p)) or die \"standin: send: $!\\n\"; "
                    + "sleep 600 while 1;'\n");
            case "forking" -> {
                StringBuilder b = new StringBuilder("#!/bin/sh\n# forks a daemon, writes the PID file, the parent exits\n"
                        + "/bin/sleep 600 </dev/null >/dev/null 2>&1 &\n");
                pidFile.ifPresent(p -> b.append("mkdir -p '").append(Path.of(p).getParent()).append("' && echo $! > '")
                        .append(p).append("' || exit 1\n"));
                yield Optional.of(b.append("exit 0\n").toString());
            }
            case "oneshot" -> Optional.of("#!/bin/sh\nexit 0\n");
            default -> Optional.empty();
        };
    }

    /** PIDFile= with the specifiers Debian uses expanded ({@code %t} = /run for system units). */
    static Optional<String> pidFile(UnitFile svc, String installedName) {
        return svc.last("Service", "PIDFile").map(p -> {
            String stem = installedName.substring(0, installedName.lastIndexOf('.'));
            String v = p.replace("%t", "/run").replace("%n", installedName).replace("%N", stem).replace("%p", stem)
                    .replace("%%", "%");
            return v.startsWith("/") ? v : "/run/" + v;
        });
    }

    static final String STEP_SCRIPT = "#!/bin/sh\n# every Exec*= but ExecStart=: succeeds at once\nexit 0\n";
}
