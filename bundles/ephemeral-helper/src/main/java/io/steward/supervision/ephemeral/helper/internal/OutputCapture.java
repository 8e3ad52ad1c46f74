package io.steward.supervision.ephemeral.helper.internal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Drains one output stream of a run to its end, keeping the first {@code limit} bytes. It keeps
 * reading past the limit so a chatty helper never blocks on a full pipe. Thread-safe: one thread
 * drains while another may take a snapshot.
 */
final class OutputCapture {
    private final int limit;
    private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
    private boolean truncated;

    OutputCapture(int limit) {
        this.limit = limit;
    }

    /** Reads {@code in} until end of file or until it is closed under us. */
    void drain(InputStream in) {
        byte[] buffer = new byte[8192];
        try (in) {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                synchronized (this) {
                    int room = limit - kept.size();
                    if (room > 0) {
                        kept.write(buffer, 0, Math.min(n, room));
                    }
                    if (n > room) {
                        truncated = true;
                    }
                }
            }
        } catch (IOException e) {
            // closed because the drain grace ran out: keep what was read
        }
    }

    synchronized byte[] bytes() {
        return kept.toByteArray();
    }

    synchronized boolean truncated() {
        return truncated;
    }
}
