package io.steward.delivery.artifacts;

import java.io.PrintStream;

/**
 * Progress of a long read, for a person at a terminal: one line on stderr every 5 %. Only used when the
 * launcher says stderr is a terminal (framework property {@code steward.tty}); otherwise {@link #NONE}.
 * Not thread-safe: one reader at a time.
 */
public interface Progress {
    Progress NONE = bytes -> {
    };

    void advance(long bytes);

    /** Prints {@code steward: <label> NN%} to {@code out} each time another 5 % of {@code total} has passed. */
    static Progress percent(PrintStream out, String label, long total) {
        if (total <= 0) {
            return NONE;
        }
        return new Progress() {
            private long done;
            private int shown;

            @Override
            public void advance(long bytes) {
                done += bytes;
                int pct = (int) Math.min(100, done * 100 / total);
                if (pct >= shown + 5) {
                    shown = pct - pct % 5;
                    out.println("steward: " + label + " " + shown + "%");
                    out.flush();
                }
            }
        };
    }
}
