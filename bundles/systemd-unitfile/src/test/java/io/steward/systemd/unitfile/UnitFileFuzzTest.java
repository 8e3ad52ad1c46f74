package io.steward.systemd.unitfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.steward.systemd.unitfile.UnitFile.Entry;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import com.code_intelligence.jazzer.junit.DictionaryFile;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.SupervisionException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * {@link UnitFile#parse} and {@link UnitPolicy#check} on random bytes (no systemd): a seeded generator (the
 * {@code @Test}) and Jazzer (the {@code @FuzzTest}, docs/testing.md "Fuzzing") share one {@link #oracle}. The parser
 * never throws anything but {@link RuleViolation}, and its canonical form is a fixed point — {@code parse(canonical(parse(x)))} reads the same assignments as
 * {@code parse(x)} and re-serialises to the same text; what is accepted is plain ASCII with no backslash but a
 * single trailing one. Seed {@code -Dsteward.fuzz.seed=<n>} (printed), count {@code -Dsteward.fuzz.count=<n>}.
 */
class UnitFileFuzzTest {
    static final long SEED = Long.getLong("steward.fuzz.seed", 20261206L);
    static final int COUNT = Integer.getInteger("steward.fuzz.count", 3000) * 10;
    private static final AtomicLong EXECUTIONS = new AtomicLong();
    /** A policy context like the tests' (paths under /tmp and /data are "writable by others"). */
    private static final UnitPolicy.Context POLICY = new UnitPolicy.Context(new AddonId("fz"),
            new HostLayout(Path.of("/data"), Path.of("/etc/steward"), Path.of("/etc/steward/trust"),
                    Path.of("/etc/systemd/system"), Path.of("/usr/lib/steward/addons")),
            Path.of("/usr/lib/steward/addons/fz/versions/abc"), Set.of("steward-fz.service", "steward-fz.timer"),
            Set.of("steward", "999"), p -> p.startsWith("/data") || p.startsWith("/tmp")
                    ? Optional.of(p + " is writable by others") : Optional.empty());

    /** Pieces a unit is made of, and the bytes parsers disagree on. */
    private static final String[] PIECES = {"[Unit]", "[Service]", "[Timer]", "[Install]", "[service]", "[ Unit]",
        "[X]", "[", "]", "ExecStart=", "ExecStartPre=", "Environment=", "User=", "Unit=", "Description=", "X-Hide=",
        "WorkingDirectory=", ".include ", "=", "/bin/true", " ", "  ", "\t", "\n", "\n", "\n", "\r", "\r\n", "\0",
        "\u000b", "\f", "\u0085", "\u2028", "\u2029", "\u3000", "\ufeff", "\u007f", "\u0001", "\u001b", "\u00a0",
        "\u00e9", "\\", "\\\n", "\\\\", "\\ ", "\\x41", "\\;", "\\n", "\"", "'", ";", " ; ", "#", "# c\n", "; c\n",
        "%", "%n", "%N", "%p", "%i", "%I", "%%", "%t", "%h", "$", "$X", "${X}", "$$", "-", "+", "!", ":", "@", "|",
        "a", "b c", "A=1", "\"A=1 2\"", "x\"y\"", "Key With Spaces=1", "HID1"};

    @Test
    void parseThrowsOnlyRuleViolationsAndItsCanonicalFormIsAFixedPoint() {
        System.out.println("UnitFileFuzzTest: seed " + SEED + " (-Dsteward.fuzz.seed=" + SEED + "), " + COUNT + " inputs");
        Random r = new Random(SEED);
        int accepted = 0;
        Map<String, Integer> rules = new LinkedHashMap<>();
        for (int i = 0; i < COUNT; i++) {
            byte[] bytes = r.nextInt(4) == 0 ? randomBytes(r) : pieces(r);
            String unit = r.nextInt(4) == 0 ? "steward-fz.timer" : "steward-fz.service";
            String rule = oracle(unit, bytes, "input #" + i + " (seed " + SEED + ")");
            if (rule == null) {
                accepted++;
            } else {
                rules.merge(rule, 1, Integer::sum);
            }
        }
        System.out.println("UnitFileFuzzTest: " + COUNT + " inputs, " + accepted + " accepted, refusals per rule " + rules);
        assertTrue(accepted > COUNT / 50, "the generator should yield accepted inputs: " + accepted);
    }

    /**
     * The same oracle, coverage-guided (Jazzer; docs/testing.md "Fuzzing"): the first byte picks the unit's type, the rest
     * is the unit file. Seed corpus: {@code UnitFileFuzzTestInputs/}, dictionary: {@link #PIECES}' constructs.
     */
    @FuzzTest
    @DictionaryFile(resourcePath = "unit.dict")
    void jazzerParseThrowsOnlyRuleViolationsAndItsCanonicalFormIsAFixedPoint(byte[] input) {
        EXECUTIONS.incrementAndGet();
        if (input.length == 0) {
            return;
        }
        String unit = (input[0] & 1) == 0 ? "steward-fz.service" : "steward-fz.timer";
        oracle(unit, java.util.Arrays.copyOfRange(input, 1, input.length), "the input");
    }

    @AfterAll
    static void report() {
        System.out.println("fuzz: UnitFileFuzzTest " + EXECUTIONS.get() + " executions");
    }

    /**
     * The oracle: {@link UnitFile#parse} throws nothing but a {@link RuleViolation} (one sentence naming the unit
     * and ending in its rule); an accepted text is plain; its canonical form is accepted again, reads the same
     * assignments and re-serialises to itself (parse ∘ render is stable) and holds no continuation; keys and values
     * are stripped and keys hold no {@code =}; and the policy ({@link UnitPolicy#check}) refuses an accepted unit
     * only PERMANENTLY, and what it accepts it accepts again from its own canonical output, unchanged.
     *
     * @return null when the parser accepted {@code bytes}, else the rule that refused them
     */
    static String oracle(String unit, byte[] bytes, String what) {
        UnitFile f;
        try {
            f = UnitFile.parse(unit, bytes);
        } catch (RuleViolation v) {
            assertTrue(v.getMessage().startsWith(unit), v.getMessage());
            assertTrue(v.getMessage().endsWith("[rule: " + v.rule() + "]"), v.getMessage());
            assertFalse(v.getMessage().contains("\n"), v.getMessage());
            return v.rule();
        } catch (RuntimeException e) {
            throw new AssertionError(what + " threw " + e + ": " + escape(bytes), e);
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        assertTrue(plain(text), "only TAB, LF, printable ASCII (and printable Unicode in comments): " + escape(bytes));
        String canonical = f.canonical();
        UnitFile again;
        try {
            again = UnitFile.parse(unit, canonical.getBytes(StandardCharsets.UTF_8));
        } catch (RuleViolation v) {
            fail(what + ": its canonical form is refused (" + v.getMessage() + "): " + escape(bytes)
                    + "\n  canonical: " + escape(canonical.getBytes(StandardCharsets.UTF_8)));
            return null;
        }
        assertEquals(bySection(f), bySection(again), what + ": " + escape(bytes));
        assertEquals(canonical, again.canonical(), what + ": " + escape(bytes));
        assertFalse(canonical.contains("\\"), "a canonical form has no continuation: " + escape(bytes));
        for (Entry e : f.entries()) {
            assertEquals(UnitFile.strip(e.key()), e.key());
            assertEquals(UnitFile.strip(e.value()), e.value());
            assertFalse(e.key().contains("="), e.key());
        }
        policy(unit, bytes, what);
        return null;
    }

    /** The policy on a parsed unit: PERMANENT refusals only, and a fixed point on its own output. */
    private static void policy(String unit, byte[] bytes, String what) {
        UnitPolicy.CheckedUnit checked;
        try {
            checked = UnitPolicy.check(POLICY, Map.of(unit, bytes), unit).get(unit);
        } catch (SupervisionException e) {
            assertEquals(SupervisionException.Disposition.PERMANENT, e.disposition(), e.getMessage());
            assertTrue(e.getMessage().startsWith("add-on fz: "), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            return;
        } catch (RuntimeException e) {
            throw new AssertionError(what + ": the policy threw " + e + ": " + escape(bytes), e);
        }
        try {
            UnitPolicy.CheckedUnit twice = UnitPolicy.check(POLICY,
                    Map.of(unit, checked.canonical().getBytes(StandardCharsets.UTF_8)), unit).get(unit);
            assertEquals(checked, twice, what + ": the policy's output checks to itself: " + escape(bytes));
        } catch (SupervisionException e) {
            fail(what + ": the policy refuses its own output (" + e.getMessage() + "): " + escape(bytes));
        }
    }

    /** What an accepted text may hold: per line, TAB and printable ASCII; on comment lines printable Unicode. */
    private static boolean plain(String text) {
        for (String line : text.split("\n", -1)) {
            String s = line.replaceFirst("^[ \t]*", "");
            boolean comment = s.startsWith("#") || s.startsWith(";");
            for (char c : line.toCharArray()) {
                boolean ascii = c == '\t' || c >= 0x20 && c < 0x7f;
                boolean unicode = c > 0x9f && c != 0x2028 && c != 0x2029 && c != 0xfeff;
                if (!ascii && !(comment && unicode)) {
                    return false;
                }
            }
        }
        return true;
    }

    /** Assignments per section in file order: what systemd merges, and what the canonical form keeps. */
    private static Map<String, List<String>> bySection(UnitFile f) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (Entry e : f.entries()) {
            out.computeIfAbsent(e.section(), s -> new ArrayList<>()).add(e.key() + "=" + e.value());
        }
        return out;
    }

    private static byte[] randomBytes(Random r) {
        byte[] b = new byte[r.nextInt(80)];
        r.nextBytes(b);
        if (r.nextBoolean()) {
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) (r.nextInt(8) == 0 ? b[i] : " \n\t=[]\\\"'%$#;abcXYZ/".charAt(r.nextInt(20)));
            }
        }
        return b;
    }

    private static byte[] pieces(Random r) {
        StringBuilder b = new StringBuilder(r.nextInt(3) == 0 ? "" : "[Service]\n");
        for (int n = r.nextInt(25); n > 0; n--) {
            b.append(PIECES[r.nextInt(PIECES.length)]);
        }
        byte[] bytes = b.toString().getBytes(StandardCharsets.UTF_8);
        if (r.nextInt(50) == 0 && bytes.length > 0) {
            bytes[r.nextInt(bytes.length)] = (byte) 0xff;      // invalid UTF-8
        }
        return bytes;
    }

    static String escape(byte[] bytes) {
        StringBuilder b = new StringBuilder();
        for (byte x : bytes) {
            int c = x & 0xff;
            if (c >= 0x20 && c < 0x7f && c != '\\') {
                b.append((char) c);
            } else if (c == '\\') {
                b.append("\\\\");
            } else if (c == '\n') {
                b.append("\\n");
            } else {
                b.append(String.format("\\x%02x", c));
            }
        }
        return b.toString();
    }
}
