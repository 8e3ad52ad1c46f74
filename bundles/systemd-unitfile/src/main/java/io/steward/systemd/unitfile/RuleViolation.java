package io.steward.systemd.unitfile;

import java.util.OptionalInt;

/**
 * A unit breaks one of Steward's unit rules. The message is the sentence's tail after
 * {@code "add-on <id>: unit install refused: "}: {@code <unit> line <n>: <detail> [rule: <rule>]}, the line
 * being the physical line of the shipped file where the offending entry starts (absent when the refusal is
 * not about one line).
 */
public final class RuleViolation extends Exception {
    private static final long serialVersionUID = 1L;

    private final String unit;
    private final OptionalInt line;
    private final String rule;
    private final String detail;

    public RuleViolation(String unit, OptionalInt line, String rule, String detail) {
        super(unit + (line.isPresent() ? " line " + line.getAsInt() : "") + ": " + detail + " [rule: " + rule + "]");
        this.unit = unit;
        this.line = line;
        this.rule = rule;
        this.detail = detail;
    }

    public RuleViolation(String unit, int line, String rule, String detail) {
        this(unit, OptionalInt.of(line), rule, detail);
    }

    public String unit() {
        return unit;
    }

    public OptionalInt line() {
        return line;
    }

    /** One of the rule names of docs/privilege-separation.md "Unit rules", e.g. {@code root-owned paths}. */
    public String rule() {
        return rule;
    }

    public String detail() {
        return detail;
    }
}
