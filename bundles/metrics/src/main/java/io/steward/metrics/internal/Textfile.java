package io.steward.metrics.internal;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The registry written as a node_exporter textfile ({@code *.prom} in the collector's directory): the text format
 * into a temporary file of the same directory, then renamed over the old one, so node_exporter never reads half
 * a file.
 */
final class Textfile {
    private final Path file;
    private final PrometheusRegistry registry;
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    Textfile(Path file, PrometheusRegistry registry) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString();
        if (!name.endsWith(".prom") || name.startsWith(".")) {
            throw new IllegalArgumentException("metrics textfile " + file + " must be named <name>.prom (node_exporter's "
                    + "textfile collector reads only those)");
        }
        this.file = file.toAbsolutePath().normalize();
        this.registry = registry;
    }

    Path file() {
        return file;
    }

    /** Writes the current values; the old file stays as it was when this fails. */
    void write() throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                writer.write(out, registry.scrape());
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot rename " + tmp + " over " + file + " atomically", e);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
