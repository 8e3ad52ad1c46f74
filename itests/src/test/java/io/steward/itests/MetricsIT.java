package io.steward.itests;

import static io.steward.itests.Assignments.configToggle;
import static io.steward.itests.Assignments.document;
import static io.steward.itests.Assignments.nextRevision;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;

import io.steward.supervision.SupervisionState;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * The metrics bundle in a real Felix: the loopback endpoint is scraped over HTTP while a real reconciler drives a
 * {@code config_toggle} add-on, and what it serves (Prometheus text and OpenMetrics) is parsed by the official
 * Prometheus Python client's parsers (Debian's python3-prometheus-client; the OpenMetrics one is strict: counter
 * names, units, {@code # EOF}); the node_exporter textfile is written atomically and parses too.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class MetricsIT extends PlatformTestSupport {
    private static final String ID = "flow-export";
    private static final String PYTHON = "/usr/bin/python3";

    @Configuration
    @Override
    public Option[] config() throws IOException {
        List<Option> options = new ArrayList<>(List.of(super.config()));
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Path textfile = Path.of(System.getProperty("itest.work", "target/itest-work")).toAbsolutePath()
                .resolve("metrics-" + port).resolve("steward.prom");
        Files.createDirectories(textfile.getParent());
        options.add(frameworkProperty("steward.metrics.port").value(Integer.toString(port)));
        options.add(frameworkProperty("steward.metrics.textfile").value(textfile.toString()));
        options.add(bundle(reactorBundle("bundle.lib.prometheus", "lib-prometheus", "io.steward.lib.prometheus")
                .toURI().toString()));
        options.add(bundle(reactorBundle("bundle.metrics", "metrics", "io.steward.metrics").toURI().toString()));
        return options.toArray(new Option[0]);
    }

    @Test
    public void theEndpointServesTheAddonsStateAndThePassesInTheFormatsPrometheusParses() throws Exception {
        writeAssignments(document(nextRevision("metrics"), configToggle(ID, true, "flow-export")));
        awaitState(ID, SupervisionState.READY);
        String[] text = new String[1];
        await("the endpoint shows " + ID + " ready and a pass", () -> {
            text[0] = scrape("text/plain");
            return text[0].contains("steward_addon_state{addon=\"" + ID + "\",kind=\"config_toggle\",state=\"ready\"} 1")
                    && value(text[0], "steward_reconcile_passes_total") >= 1;
        });
        // one series per state: the others are 0
        assertTrue(text[0], text[0].contains(
                "steward_addon_state{addon=\"" + ID + "\",kind=\"config_toggle\",state=\"failed\"} 0"));
        assertTrue(text[0], text[0].contains("# TYPE steward_reconcile_pass_duration_seconds histogram"));
        assertTrue(text[0], value(text[0], "steward_reconcile_pass_duration_seconds_count") >= 1
                && value(text[0], "steward_reconcile_pass_duration_seconds_sum") > 0);
        assertEquals(text[0], 0.0, value(text[0], "steward_reconcile_pass_failures_total"), 0.0);
        assertTrue(text[0], text[0].contains("steward_kind_info{bundle=\"io.steward.supervision.config.toggle\""));
        assertTrue(text[0], value(text[0], "steward_addon_state_since_timestamp_seconds") > 1.7e9);

        parses("text", text[0]);
        parses("openmetrics", scrape("application/openmetrics-text; version=1.0.0"));
    }

    @Test
    public void theTextfileIsWrittenForNodeExporterAndParses() throws Exception {
        Path file = Path.of(context.getProperty("steward.metrics.textfile"));
        writeAssignments(document(nextRevision("textfile"), configToggle(ID, true, "flow-export")));
        awaitState(ID, SupervisionState.READY);
        String[] text = new String[1];
        await("the textfile shows " + ID, Duration.ofSeconds(40), () -> {
            text[0] = Files.isRegularFile(file) ? Files.readString(file) : "";
            return text[0].contains("steward_addon_state{addon=\"" + ID + "\"");
        });
        parses("text", text[0]);
        try (var siblings = Files.list(file.getParent())) {
            assertEquals("only the .prom file is left (the temporary file was renamed)", List.of(file),
                    siblings.toList());
        }
    }

    // ---------------------------------------------------------------- helpers

    private String scrape(String accept) throws IOException, InterruptedException {
        return Scrape.metrics(context, accept);
    }

    private static double value(String text, String name) {
        return Scrape.value(text, name);
    }

    /** Parses {@code body} with the Prometheus Python client's parser of {@code format}; fails on its error. */
    private static void parses(String format, String body) throws Exception {
        String script = format.equals("openmetrics")
                ? "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n"
                : "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\n";
        script += "n = 0\nfor f in p(sys.stdin.read()):\n    n += len(f.samples)\nprint(n)\n";
        Process p = new ProcessBuilder(PYTHON, "-c", script).redirectErrorStream(true).start();
        p.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
        }
        assertTrue("the parser did not finish", p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(format + " parser: " + out + "\n" + body, 0, p.exitValue());
        assertTrue(format + " parser found no samples: " + out, Integer.parseInt(out) > 10);
    }
}
