package io.steward.systemd.unitfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class UnitFileTest {
    private static UnitFile parse(String text) throws RuleViolation {
        return UnitFile.parse("steward-x.service", text.getBytes(StandardCharsets.UTF_8));
    }

    private static RuleViolation refused(String text) {
        return assertThrows(RuleViolation.class, () -> parse(text));
    }

    @Test
    void readsSectionsEntriesAndLinesAndWritesTheCanonicalForm() throws Exception {
        UnitFile f = parse("# c\n[Unit]\n  Description = a  b \n\n[Service]\nExecStart=/bin/x \\\n   --y\n[Unit]\nAfter=z\n");
        assertEquals(List.of(new UnitFile.Entry("Unit", "Description", "a  b", 3),
                new UnitFile.Entry("Service", "ExecStart", "/bin/x     --y", 6),
                new UnitFile.Entry("Unit", "After", "z", 9)), f.entries());
        assertEquals("[Unit]\nDescription=a  b\nAfter=z\n\n[Service]\nExecStart=/bin/x     --y\n", f.canonical());
    }

    @Test
    void refusesEveryLineEndingSystemdReadsDifferently() {
        for (String sep : List.of("\u0000", "\r", "\u000b", "\f", "\u0085", "\u2028", "\u2029", "\u001b", "\u007f")) {
            RuleViolation v = refused("[Service]\nX=a" + sep + "ExecStart=/tmp/evil\n");
            assertEquals("plain text", v.rule(), sep);
            assertEquals(2, v.line().getAsInt());
        }
        assertEquals("plain text", refused("\ufeff[Service]\nExecStart=/bin/true\n").rule());
        assertEquals("plain text", refused("[Unit]\nDescription=caf\u00e9\n").rule());
        assertEquals("plain text", assertThrows(RuleViolation.class, () -> UnitFile.parse("steward-x.service",
                new byte[] {'[', 'U', 'n', 'i', 't', ']', '\n', 'A', '=', (byte) 0xc3})).rule());
    }

    @Test
    void acceptsUnicodeInCommentsOnly() throws Exception {
        assertEquals(1, parse("# caf\u00e9 \u00fc\n[Unit]\nDescription=x\n").entries().size());
        assertEquals("plain text", refused("# a\u2028[Service]\n[Unit]\n").rule());
    }

    @Test
    void refusesEscapesAndAmbiguousContinuations() {
        assertEquals("no escapes", refused("[Service]\nX=a\\\\\nExecStart=/tmp/evil\n").rule());
        assertEquals("no escapes", refused("[Service]\nX=a \\ \nExecStart=/tmp/evil\n").rule());
        assertEquals("no escapes", refused("[Service]\nExecStart=/d\\x61ta/evil\n").rule());
        assertEquals("no escapes", refused("[Service]\nExecStart=/bin/a \\; /tmp/evil\n").rule());
        assertEquals("plain continuations", refused("[Service]\nExecStart=/bin/a \\\n# hidden\n x\n").rule());
        assertEquals("plain continuations", refused("[Service]\nExecStart=/bin/a \\").rule());
    }

    @Test
    void refusesIncludesSpecifiersSectionsAndStrayLines() {
        assertEquals("no includes", refused(".include /tmp/x\n[Unit]\n").rule());
        assertEquals("section allowlist", refused("[Service ]\nExecStart=/bin/x\n").rule());
        assertEquals("section allowlist", refused("[service]\nExecStart=/bin/x\n").rule());
        assertEquals("section allowlist", refused("[Timer]\nUnit=x.service\n").rule());
        assertEquals("section allowlist", refused("ExecStart=/bin/x\n[Service]\n").rule());
        assertEquals("section allowlist", refused("[Service]\nExecStart\n").rule());
        assertEquals("section allowlist", refused("[Service\nA=b\n").rule());
    }

    @Test
    void specifiersOnTheAllowlistPass() throws Exception {
        assertEquals("%n %N %p %i %I %%", parse("[Unit]\nDescription=%n %N %p %i %I %%\n").entries().get(0).value());
        assertTrue(parse("[Unit]\n").entries().isEmpty());
    }
}
