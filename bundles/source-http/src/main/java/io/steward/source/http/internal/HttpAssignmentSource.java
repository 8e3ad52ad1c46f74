package io.steward.source.http.internal;

import io.steward.delivery.trust.TrustStore;
import io.steward.source.signed.SignedDocumentGate;
import io.steward.supervision.AssignmentCodec;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.spi.AssignmentSource;
import java.io.IOException;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Assignments for control planes without NATS: polls one HTTPS URL for the host's signed value (the same
 * {@code steward-assignment-v1} value as the NATS key) and puts it through the same
 * {@link SignedDocumentGate}, with the same refusal sentences and offline cache. The cached document is in
 * effect from activation on, before the network is tried.
 * <p>
 * Off (no service registered) unless a URL is configured (PID {@value #PID}, or the framework property
 * {@code steward.http.url}) and the command is the agent's. One scheduler thread {@code source-http-poll};
 * the JDK client's I/O runs on {@code source-http-io}, shut down with the source.
 */
@Component(service = {}, immediate = true, configurationPid = HttpAssignmentSource.PID)
@Designate(ocd = HttpSourceConfig.class)
public final class HttpAssignmentSource implements AssignmentSource {
    static final String PID = "io.steward.source.http";
    private static final Logger LOG = LoggerFactory.getLogger(HttpAssignmentSource.class);

    private final ScheduledExecutorService pollThread;
    private final ExecutorService ioThreads;
    private final HttpFetch fetch;
    private final HttpPoller poller;
    private ServiceRegistration<AssignmentSource> registration;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC)
    private volatile SupervisionService supervision;

    @Activate
    public HttpAssignmentSource(BundleContext context, @Reference AssignmentCodec codec, HttpSourceConfig config)
            throws IOException {
        String command = context.getProperty("steward.command");
        Optional<HttpSettings> resolved = (command == null || command.isBlank() || command.equals("run"))
                ? HttpSettings.resolve(config, context::getProperty) : Optional.empty();
        if (resolved.isEmpty()) {
            pollThread = null;
            ioThreads = null;
            fetch = null;
            poller = null;
            return;
        }
        HttpSettings s = resolved.get();
        SignedDocumentGate gate = new SignedDocumentGate(s.hostId(), new TrustStore(s.trust()), codec, s.cacheFile(),
                s.maxBytes(), s.strict());
        pollThread = Executors.newSingleThreadScheduledExecutor(named("source-http-poll"));
        ioThreads = Executors.newCachedThreadPool(named("source-http-io"));
        fetch = new HttpFetch(s.url(), Tls.context(s.caFile(), s.caPassword()), s.timeout(), s.maxBytes(), ioThreads);
        PollTiming timing = new PollTiming(s.interval(), s.maxBackoff(), Clock.systemUTC(),
                bound -> ThreadLocalRandom.current().nextLong(bound + 1));
        poller = new HttpPoller(s.url(), gate, fetch, timing,
                (task, delay) -> pollThread.schedule(task, delay.toMillis(), TimeUnit.MILLISECONDS),
                Clock.systemUTC(), this::reconcileSoon);
        // the cache first and the service next: core applies the cached document while the first GET is under way
        poller.start();
        registration = context.registerService(AssignmentSource.class, this, null);
        LOG.info("HTTP source for host {}: {} every {} s", s.hostId(), s.url(), s.interval().toSeconds());
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        if (poller == null) {
            return;
        }
        try {
            registration.unregister();
        } catch (IllegalStateException e) {
            // gone with the bundle
        }
        poller.stop();
        pollThread.shutdownNow();       // interrupts a GET under way
        ioThreads.shutdownNow();
        pollThread.awaitTermination(5, TimeUnit.SECONDS);
        ioThreads.awaitTermination(5, TimeUnit.SECONDS);
        fetch.close();
    }

    @Override
    public Snapshot snapshot() {
        return poller.snapshot();
    }

    private void reconcileSoon() {
        SupervisionService s = supervision;
        if (s != null) {
            s.reconcileSoon();
        }
    }

    /** For tests. */
    HttpPoller poller() {
        return poller;
    }

    private static ThreadFactory named(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }
}
