package io.steward.supervision.sidecar.internal;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * One sd_notify datagram: newline-separated {@code KEY=VALUE} assignments (sd_notify(3)). Only the
 * keys a sidecar supervisor acts on are kept; unknown keys ({@code MAINPID}, {@code BARRIER}, …) are
 * ignored, like systemd ignores what it does not understand.
 *
 * @param ready             {@code READY=1}
 * @param reloading         {@code RELOADING=1}
 * @param stopping          {@code STOPPING=1}
 * @param watchdog          {@code WATCHDOG=1}
 * @param watchdogTrigger   {@code WATCHDOG=trigger}: the add-on asks to be treated as hung
 * @param status            {@code STATUS=…}, the add-on's own one-line status
 * @param watchdogUsec      {@code WATCHDOG_USEC=…}: a new watchdog interval
 * @param extendTimeoutUsec {@code EXTEND_TIMEOUT_USEC=…}: more time to become ready
 */
record NotifyMessage(boolean ready, boolean reloading, boolean stopping, boolean watchdog, boolean watchdogTrigger,
                     Optional<String> status, OptionalLong watchdogUsec, OptionalLong extendTimeoutUsec) {
    /** Longest STATUS text kept; the rest is cut (the detail is one sentence, not a log). */
    static final int MAX_STATUS = 200;

    static NotifyMessage parse(byte[] datagram, int length) {
        String text = new String(datagram, 0, length, StandardCharsets.UTF_8);
        boolean ready = false;
        boolean reloading = false;
        boolean stopping = false;
        boolean watchdog = false;
        boolean trigger = false;
        Optional<String> status = Optional.empty();
        OptionalLong watchdogUsec = OptionalLong.empty();
        OptionalLong extend = OptionalLong.empty();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            String key = line.substring(0, eq);
            String value = line.substring(eq + 1);
            switch (key) {
                case "READY" -> ready |= value.equals("1");
                case "RELOADING" -> reloading |= value.equals("1");
                case "STOPPING" -> stopping |= value.equals("1");
                case "WATCHDOG" -> {
                    watchdog |= value.equals("1");
                    trigger |= value.equals("trigger");
                }
                case "STATUS" -> status = Optional.of(printable(value));
                case "WATCHDOG_USEC" -> watchdogUsec = number(value);
                case "EXTEND_TIMEOUT_USEC" -> extend = number(value);
                default -> {
                    // not acted upon
                }
            }
        }
        return new NotifyMessage(ready, reloading, stopping, watchdog, trigger, status, watchdogUsec, extend);
    }

    private static OptionalLong number(String value) {
        try {
            long n = Long.parseLong(value.trim());
            return n > 0 ? OptionalLong.of(n) : OptionalLong.empty();
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    /** The status text without control characters, at most {@link #MAX_STATUS} characters. */
    private static String printable(String value) {
        StringBuilder b = new StringBuilder(Math.min(value.length(), MAX_STATUS));
        value.codePoints().limit(MAX_STATUS).forEach(c -> b.appendCodePoint(Character.isISOControl(c) ? ' ' : c));
        return b.toString().strip();
    }
}
