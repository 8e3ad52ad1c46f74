package io.steward.systemd.unitfile;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A unit file read strictly: only text that systemd's parser ({@code config_parse} of systemd 252) and this one
 * provably read the same way is accepted, everything else is refused with a {@link RuleViolation} naming the
 * line. What is accepted is re-serialised by {@link #canonical()} — one {@code Key=value} per line, no
 * continuations, no comments — and that, never the shipped bytes, is what Steward installs.
 * <p>
 * Where the two parsers could disagree, and what is refused instead:
 * <ul>
 *   <li>line ends: systemd ends a line at LF, CR and NUL and drops a leading BOM; Java's {@code \R} also splits
 *       at VT, FF, U+0085, U+2028, U+2029. Only LF ends a line here, and every other control byte, a BOM, DEL and
 *       every non-ASCII character outside comment lines are refused (rule {@code plain text});</li>
 *   <li>backslashes: systemd joins a line ending in an unescaped backslash with the next one, counting escapes
 *       over the joined text, and skips comment lines in between. Here a backslash is allowed only as the single
 *       last byte of a physical line, so the count is trivially the same; a comment inside a continuation or a
 *       continuation at the end of the file is refused ({@code plain continuations}), every other backslash too
 *       ({@code no escapes});</li>
 *   <li>{@code .include} (refused by systemd 252 itself) is refused ({@code no includes}); sections other than the
 *       unit type's, an assignment
 *       outside a section, a line that is not {@code Key=value} ({@code section allowlist}).</li>
 * </ul>
 */
public final class UnitFile {
    /** One assignment; {@code line} is the physical line (1-based) where it starts. */
    public record Entry(String section, String key, String value, int line) {
    }

    static final String PLAIN_TEXT = "plain text";
    static final String CONTINUATIONS = "plain continuations";
    static final String ESCAPES = "no escapes";
    static final String INCLUDES = "no includes";
    static final String SPECIFIERS = "specifier allowlist";
    static final String SECTIONS = "section allowlist";

    /** Specifiers whose expansion is a unit name or empty: no path, nothing from the environment. */
    static final String ALLOWED_SPECIFIERS = "nNpiI%";

    private final String unit;
    private final List<Entry> entries;

    private UnitFile(String unit, List<Entry> entries) {
        this.unit = unit;
        this.entries = List.copyOf(entries);
    }

    /** A file of these entries, for checks of what systemd reports. */
    static UnitFile of(String unit, List<Entry> entries) {
        return new UnitFile(unit, entries);
    }

    /** Parses {@code bytes} as the unit file {@code unit} ({@code .service} or {@code .timer}). */
    public static UnitFile parse(String unit, byte[] bytes) throws RuleViolation {
        Set<String> sections = unit.endsWith(".timer") ? Set.of("Unit", "Timer", "Install")
                : Set.of("Unit", "Service", "Install");
        String text = decode(unit, bytes);
        String[] physical = text.split("\n", -1);
        List<Entry> entries = new ArrayList<>();
        String section = null;
        StringBuilder pending = null;     // a continuation being joined
        int pendingLine = 0;
        for (int i = 0; i < physical.length; i++) {
            String line = physical[i];
            int number = i + 1;
            boolean comment = isComment(line);
            checkCharacters(unit, number, line, comment);
            if (comment) {
                if (pending != null) {
                    throw new RuleViolation(unit, pendingLine, CONTINUATIONS, "a comment line (line " + number
                            + ") inside the continuation (systemd drops it and joins the lines around it)");
                }
                continue;
            }
            int backslash = line.indexOf('\\');
            boolean continues = backslash >= 0 && backslash == line.length() - 1;
            if (backslash >= 0 && !continues) {
                throw new RuleViolation(unit, number, ESCAPES, "a backslash escape (\\" + describe(line, backslash + 1)
                        + "); Steward accepts a backslash only as the last character of a line");
            }
            if (continues) {
                if (pending == null) {
                    pending = new StringBuilder();
                    pendingLine = number;
                }
                pending.append(line, 0, line.length() - 1).append(' ');   // systemd turns it into a space
                continue;
            }
            int start = pending == null ? number : pendingLine;
            String logical = pending == null ? line : pending.append(line).toString();
            pending = null;
            section = parseLine(unit, start, strip(logical), sections, section, entries);
        }
        if (pending != null) {
            throw new RuleViolation(unit, pendingLine, CONTINUATIONS, "a continuation that the end of the file cuts off");
        }
        return new UnitFile(unit, entries);
    }

    private static String decode(String unit, byte[] bytes) throws RuleViolation {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new RuleViolation(unit, lineOfFirstBadByte(bytes), PLAIN_TEXT, "bytes that are not UTF-8");
        }
    }

    private static int lineOfFirstBadByte(byte[] bytes) {
        int line = 1;
        for (byte b : bytes) {
            if (b == '\n') {
                line++;
            } else if (b < 0) {
                return line;     // the first non-ASCII byte: good enough a pointer
            }
        }
        return line;
    }

    private static boolean isComment(String line) {
        String s = stripLeading(line);
        return !s.isEmpty() && (s.charAt(0) == '#' || s.charAt(0) == ';');
    }

    /** Only TAB and printable ASCII; in comment lines also printable non-ASCII, but never a line separator. */
    private static void checkCharacters(String unit, int number, String line, boolean comment) throws RuleViolation {
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            boolean ascii = c == '\t' || (c >= 0x20 && c < 0x7f);
            boolean separator = c == 0x85 || c == 0x2028 || c == 0x2029 || c == 0xfeff;
            boolean printableUnicode = c > 0x9f && !separator;
            if (ascii || comment && printableUnicode) {
                continue;
            }
            throw new RuleViolation(unit, number, PLAIN_TEXT, "the character " + name(c) + " (systemd and Steward "
                    + "could read the line differently; only printable ASCII, tabs and line feeds are allowed)");
        }
    }

    private static String name(char c) {
        return switch (c) {
            case 0 -> "NUL";
            case '\r' -> "CR";
            case 0x0b -> "VT";
            case '\f' -> "FF";
            case 0x7f -> "DEL";
            case 0xfeff -> "U+FEFF (a byte-order mark)";
            default -> String.format("U+%04X", (int) c);
        };
    }

    private static String describe(String line, int at) {
        return at < line.length() ? String.valueOf(line.charAt(at)) : "";
    }

    private static String parseLine(String unit, int line, String l, Set<String> sections, String section,
                                    List<Entry> entries) throws RuleViolation {
        if (l.isEmpty()) {
            return section;
        }
        if (l.startsWith(".include")) {
            throw new RuleViolation(unit, line, INCLUDES, ".include pulls in a file Steward has not checked");
        }
        if (l.charAt(0) == '[') {
            if (l.length() < 2 || l.charAt(l.length() - 1) != ']') {
                throw new RuleViolation(unit, line, SECTIONS, "an invalid section header \"" + l + "\"");
            }
            String name = l.substring(1, l.length() - 1);
            if (!sections.contains(name)) {
                throw new RuleViolation(unit, line, SECTIONS, "section [" + name + "] is not one of "
                        + sections.stream().sorted().map(s -> "[" + s + "]").toList() + " for this unit type");
            }
            return name;
        }
        int eq = l.indexOf('=');
        if (eq < 0) {
            throw new RuleViolation(unit, line, SECTIONS, "\"" + l + "\" is not a Key=value assignment");
        }
        if (section == null) {
            throw new RuleViolation(unit, line, SECTIONS, "an assignment before the first section header");
        }
        String key = strip(l.substring(0, eq));
        String value = strip(l.substring(eq + 1));
        entries.add(new Entry(section, key, value, line));
        return section;
    }

    /**
     * Refuses a specifier outside the allowlist in a value that names programs, paths, variables or units (the
     * policy calls it for those; in other values, such as {@code TasksMax=80%}, a {@code %} is only a character).
     */
    static void checkSpecifiers(String unit, int line, String key, String value) throws RuleViolation {
        for (int i = value.indexOf('%'); i >= 0; i = value.indexOf('%', i + 2)) {
            if (i + 1 >= value.length() || ALLOWED_SPECIFIERS.indexOf(value.charAt(i + 1)) < 0) {
                throw new RuleViolation(unit, line, SPECIFIERS, key + "= uses the specifier %" + describe(value, i + 1)
                        + "; Steward allows only %n %N %p %i %I and %%");
            }
        }
    }

    /** systemd's strstrip with WHITESPACE, minus CR and LF (which never get here). */
    static String strip(String s) {
        int b = 0;
        int e = s.length();
        while (b < e && (s.charAt(b) == ' ' || s.charAt(b) == '\t')) {
            b++;
        }
        while (e > b && (s.charAt(e - 1) == ' ' || s.charAt(e - 1) == '\t')) {
            e--;
        }
        return s.substring(b, e);
    }

    private static String stripLeading(String s) {
        int b = 0;
        while (b < s.length() && (s.charAt(b) == ' ' || s.charAt(b) == '\t')) {
            b++;
        }
        return s.substring(b);
    }

    public String unit() {
        return unit;
    }

    /** The same file with {@code render} applied to every value (placeholder substitution). */
    public UnitFile mapValues(java.util.function.UnaryOperator<String> render) {
        return new UnitFile(unit, entries.stream()
                .map(e -> new Entry(e.section(), e.key(), render.apply(e.value()), e.line())).toList());
    }

    /** Every assignment, in file order. */
    public List<Entry> entries() {
        return entries;
    }

    /** The assignments of {@code key} in {@code section}, in file order. */
    public List<Entry> entries(String section, String key) {
        return entries.stream().filter(e -> e.section().equals(section) && e.key().equals(key)).toList();
    }

    /**
     * The file as Steward installs it: sections in order of first appearance (systemd merges repeated sections
     * the same way), each assignment on its own line, in file order within its section.
     */
    public String canonical() {
        Map<String, StringBuilder> sections = new LinkedHashMap<>();
        for (Entry e : entries) {
            sections.computeIfAbsent(e.section(), s -> new StringBuilder()).append(e.key()).append('=')
                    .append(e.value()).append('\n');
        }
        StringBuilder out = new StringBuilder();
        for (Map.Entry<String, StringBuilder> s : sections.entrySet()) {
            if (out.length() > 0) {
                out.append('\n');
            }
            out.append('[').append(s.getKey()).append("]\n").append(s.getValue());
        }
        return out.toString();
    }
}
