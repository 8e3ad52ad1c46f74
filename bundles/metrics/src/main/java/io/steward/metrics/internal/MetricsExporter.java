package io.steward.metrics.internal;

import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.steward.observe.StewardObserver;
import io.steward.supervision.SupervisionService;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves Steward's metrics in the Prometheus format on a loopback port and/or writes them as a node_exporter
 * textfile; off unless one of them is configured (PID {@value #PID}, or the framework properties
 * {@code steward.metrics.port} / {@code steward.metrics.textfile} that {@code steward run --metrics-port} and
 * {@code --metrics-textfile} set). Off, it creates nothing: no registry, no thread, no observer. In a one-shot
 * command it stays off.
 */
@Component(immediate = true, configurationPid = MetricsExporter.PID, configurationPolicy = ConfigurationPolicy.OPTIONAL)
@Designate(ocd = MetricsExporter.Config.class)
public final class MetricsExporter {
    static final String PID = "io.steward.metrics";
    static final String PORT_PROPERTY = "steward.metrics.port";
    static final String TEXTFILE_PROPERTY = "steward.metrics.textfile";
    private static final Logger LOG = LoggerFactory.getLogger(MetricsExporter.class);

    @ObjectClassDefinition(name = "Steward metrics", description = "Prometheus exposition of the agent")
    public @interface Config {
        @AttributeDefinition(description = "TCP port of the /metrics endpoint: 0 off, -1 the framework property "
                + PORT_PROPERTY + " (else off)")
        int port() default -1;

        @AttributeDefinition(description = "Address to listen on; only a loopback address is accepted")
        String address() default "127.0.0.1";

        @AttributeDefinition(description = "A node_exporter textfile (<dir>/<name>.prom) to write the metrics to; "
                + "empty: the framework property " + TEXTFILE_PROPERTY + " (else none)")
        String textfile() default "";

        @AttributeDefinition(description = "Seconds between two writes of the textfile")
        int textfile_interval_seconds() default 15;
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile SupervisionService supervision;

    private HTTPServer server;
    private ScheduledExecutorService textfileWriter;
    private ServiceRegistration<StewardObserver> observer;

    @Activate
    public MetricsExporter(BundleContext context, Config config) throws IOException {
        String command = context.getProperty("steward.command");
        boolean oneShot = !(command == null || command.isBlank() || command.equals("run"));
        int port = config.port() == -1 ? portProperty(context.getProperty(PORT_PROPERTY)) : config.port();
        String textfilePath = !config.textfile().isBlank() ? config.textfile().trim()
                : blankToEmpty(context.getProperty(TEXTFILE_PROPERTY));
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("metrics port must be 0 (off) to 65535, not " + port);
        }
        if (config.textfile_interval_seconds() < 1) {
            throw new IllegalArgumentException("metrics textfile.interval.seconds must be at least 1");
        }
        if (oneShot || (port == 0 && textfilePath.isEmpty())) {
            return;     // off: nothing is created
        }
        InetAddress address = loopback(config.address());
        PrometheusRegistry registry = new PrometheusRegistry();
        WorkMetrics work = new WorkMetrics(registry, () -> supervision);
        registry.register(new StateCollector(() -> supervision));
        Textfile textfile = textfilePath.isEmpty() ? null : new Textfile(Path.of(textfilePath), registry);
        if (port != 0) {
            ExecutorService one = Executors.newSingleThreadExecutor(daemon("metrics-http"));
            try {
                server = HTTPServer.builder().inetAddress(address).port(port).registry(registry)
                        .executorService(one).buildAndStart();
            } catch (IOException e) {
                one.shutdownNow();
                throw new IOException("metrics: cannot listen on " + address.getHostAddress() + ":" + port + ": "
                        + e.getMessage(), e);
            }
            LOG.info("Metrics served on http://{}:{}/metrics", address.getHostAddress(), server.getPort());
        }
        if (textfile != null) {
            textfileWriter = Executors.newSingleThreadScheduledExecutor(daemon("metrics-textfile"));
            textfileWriter.scheduleWithFixedDelay(() -> write(textfile), 0, config.textfile_interval_seconds(),
                    TimeUnit.SECONDS);
            LOG.info("Metrics written to {} every {} s", textfile.file(), config.textfile_interval_seconds());
        }
        observer = context.registerService(StewardObserver.class, work, null);
    }

    @Deactivate
    void deactivate() {
        if (observer != null) {
            try {
                observer.unregister();
            } catch (IllegalStateException e) {
                // gone with the bundle
            }
        }
        if (server != null) {
            server.close();
        }
        if (textfileWriter != null) {
            textfileWriter.shutdownNow();
        }
    }

    /** The port the endpoint listens on (0 when none): a configured port of 0 never reaches here. */
    int port() {
        return server == null ? 0 : server.getPort();
    }

    private static void write(Textfile textfile) {
        try {
            textfile.write();
        } catch (IOException | RuntimeException e) {
            LOG.warn("Metrics: cannot write the textfile {}: {}", textfile.file(), e.getMessage());
        }
    }

    static int portProperty(String value) {
        if (value == null || value.isBlank()) {
            return 0;
        }
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(PORT_PROPERTY + " must be a port number, not \"" + value + "\"");
        }
    }

    static InetAddress loopback(String address) throws UnknownHostException {
        InetAddress a = InetAddress.getByName(address.trim());
        if (!a.isLoopbackAddress()) {
            throw new IllegalArgumentException("metrics address " + address + " is not a loopback address; the "
                    + "endpoint has no authentication, so it listens on loopback only (scrape through a local proxy)");
        }
        return a;
    }

    private static String blankToEmpty(String s) {
        return s == null ? "" : s.trim();
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }
}
