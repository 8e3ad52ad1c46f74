package io.steward.source.nats.internal;

import io.nats.client.Connection;
import io.nats.client.api.KeyValueEntry;
import io.nats.client.api.KeyValueOperation;
import io.steward.delivery.trust.TrustStore;
import io.steward.source.nats.fleet.AssignmentWatch;
import io.steward.source.signed.SignedDocumentGate;
import io.steward.supervision.AssignmentCodec;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.spi.AssignmentSource;
import io.steward.supervision.spi.ResultSink;
import io.steward.supervision.spi.StatusSink;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
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
 * The NATS fleet transport of an agent: the host's signed assignment document in from
 * {@code <bucket>/host.<id>} ({@link AssignmentSource}), its status out to {@code <status bucket>/host.<id>}
 * ({@link StatusSink}), the add-ons' spooled results to the stream {@code steward-results} ({@link ResultSink},
 * {@link ResultPublisher}). Offline first: the last valid document (cached by the {@link SignedDocumentGate})
 * is in effect from activation on, before the network is tried. A value the gate refuses changes nothing;
 * its one sentence is the source's error (logged by core, written in the status) until a valid one comes.
 * <p>
 * Off (no service registered) unless servers are configured (PID {@value #PID}, or the framework property
 * {@code steward.nats.servers}) and the command is the agent's. Threads {@code source-nats-watch} and
 * {@code source-nats-status}; the client's own threads deliver the watch.
 */
@Component(service = {}, immediate = true, configurationPid = NatsAssignmentSource.PID)
@Designate(ocd = NatsSourceConfig.class)
public final class NatsAssignmentSource implements AssignmentSource, StatusSink, NatsLink.Listener,
        AssignmentWatch.Sink {
    static final String PID = "io.steward.source.nats";
    private static final Logger LOG = LoggerFactory.getLogger(NatsAssignmentSource.class);
    /** A link down for less than this is not worth a warning (a boot, a reconnect). */
    static final java.time.Duration DOWN_GRACE = java.time.Duration.ofSeconds(5);

    private final NatsSettings settings;
    private final SignedDocumentGate gate;
    private final ScheduledExecutorService watchThread;
    private final ScheduledExecutorService statusThread;
    private final NatsLink link;
    private final AssignmentWatch watch;
    private final StatusWriter status;
    private final ResultPublisher results;
    private final String agentVersion;
    private final List<ServiceRegistration<?>> registrations = new ArrayList<>();

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC)
    private volatile SupervisionService supervision;

    private volatile Snapshot snapshot;
    private volatile String refusal;            // the last refusal's sentence, until a valid value comes
    private volatile String keyNote;            // a warning about the key itself (empty, deleted)
    private volatile ReconcileReport lastReport;
    private volatile Long passSerial;           // the serial the last pass read from snapshot()
    private volatile Long servedSerial;         // the serial snapshot() handed out last

    @Activate
    public NatsAssignmentSource(BundleContext context, @Reference AssignmentCodec codec, NatsSourceConfig config)
            throws IOException, InterruptedException {
        String command = context.getProperty("steward.command");
        Optional<NatsSettings> resolved = (command == null || command.isBlank() || command.equals("run"))
                ? NatsSettings.resolve(config, context::getProperty) : Optional.empty();
        if (resolved.isEmpty()) {
            settings = null;
            gate = null;
            watchThread = statusThread = null;
            link = null;
            watch = null;
            status = null;
            results = null;
            agentVersion = null;
            return;
        }
        settings = resolved.get();
        agentVersion = context.getBundle().getVersion().toString();
        gate = new SignedDocumentGate(settings.hostId(), new TrustStore(settings.trust()), codec, settings.cacheFile(),
                config.max_value_bytes(), config.strict());
        Optional<String> cacheProblem = gate.loadCache();
        cacheProblem.ifPresent(p -> LOG.error("{}", p));
        refusal = cacheProblem.orElse(null);
        keyNote = gate.current().isPresent() ? null : "no document received yet and none cached; nothing is removed until one is";
        gate.current().ifPresent(a -> LOG.info("Cached document serial {} for host {} is in effect until the network says more",
                a.value().serial(), settings.hostId()));
        updateSnapshot();

        watchThread = Executors.newSingleThreadScheduledExecutor(named("source-nats-watch"));
        statusThread = Executors.newSingleThreadScheduledExecutor(named("source-nats-status"));
        watch = new AssignmentWatch(settings.bucket(), settings.key(), this, watchThread, settings.resync(),
                settings.link().reconnectWait(), settings.link().reconnectMax());
        status = new StatusWriter(settings.statusBucket(), settings.key(), this::renderStatus, statusThread,
                settings.heartbeat(), config.status_per_second(), config.status_burst());
        results = new ResultPublisher(settings.hostId());
        link = new NatsLink(settings.link(), this);
        // the services first: core applies the cached document while the link is still connecting
        registrations.add(context.registerService(AssignmentSource.class, this, null));
        registrations.add(context.registerService(StatusSink.class, this, null));
        registrations.add(context.registerService(ResultSink.class, results, null));
        status.start();
        link.start(watchThread);
        watchThread.scheduleWithFixedDelay(this::reloadLink, 5, 5, TimeUnit.SECONDS);
        LOG.info("NATS source for host {}: {} at {} (status to {})", settings.hostId(), settings.key(),
                settings.bucket(), settings.statusBucket());
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        if (settings == null) {
            return;
        }
        for (ServiceRegistration<?> r : registrations) {
            try {
                r.unregister();
            } catch (IllegalStateException e) {
                // gone with the bundle
            }
        }
        watch.close();
        status.close();
        link.close();
        watchThread.shutdown();
        statusThread.shutdown();
        watchThread.awaitTermination(5, TimeUnit.SECONDS);
        statusThread.awaitTermination(5, TimeUnit.SECONDS);
    }

    // ---- AssignmentSource -------------------------------------------------------------------

    @Override
    public Snapshot snapshot() {
        Snapshot s = snapshot;
        servedSerial = gate.current().map(a -> a.value().serial()).orElse(null);
        Optional<String> down = link.downFor(DOWN_GRACE);
        if (down.isPresent()) {
            List<String> w = new ArrayList<>(s.warnings());
            w.add(down.get());
            return new Snapshot(s.name(), s.document(), s.error(), w, s.changedAt());
        }
        return s;
    }

    private void updateSnapshot() {
        List<String> warnings = new ArrayList<>(gate.current().map(SignedDocumentGate.Accepted::warnings).orElse(List.of()));
        if (keyNote != null && gate.current().isPresent()) {
            warnings.add(keyNote);
        }
        Optional<String> error = Optional.ofNullable(refusal)
                .or(() -> gate.current().isEmpty() ? Optional.ofNullable(keyNote) : Optional.empty());
        snapshot = new Snapshot("nats:" + settings.bucket() + "/" + settings.key(),
                gate.current().map(SignedDocumentGate.Accepted::document), error, warnings, Instant.now());
    }

    // ---- AssignmentWatch.Sink ---------------------------------------------------------------

    @Override
    public void entry(KeyValueEntry entry) {
        if (entry.getOperation() != KeyValueOperation.PUT) {
            keyNote = "the key " + settings.key() + " was " + entry.getOperation().name().toLowerCase(java.util.Locale.ROOT)
                    + "d (revision " + entry.getRevision() + "); a deletion is not signed, so the last valid document"
                    + " stays in effect (publish a signed empty document to remove add-ons)";
            LOG.warn("{}", keyNote);
            changed();
            return;
        }
        SignedDocumentGate.Verdict verdict;
        try {
            verdict = gate.offer(entry.getValue());
        } catch (IOException e) {
            LOG.error("The document of revision {} is in effect but could not be cached for offline boots: {}",
                    entry.getRevision(), e.getMessage());
            verdict = new SignedDocumentGate.Verdict(SignedDocumentGate.Outcome.ACCEPTED, Optional.empty());
        }
        switch (verdict.outcome()) {
            case ACCEPTED -> {
                refusal = null;
                keyNote = null;
                LOG.info("Document serial {} for host {} accepted (revision {})",
                        gate.current().map(a -> a.value().serial()).orElse(0L), settings.hostId(), entry.getRevision());
            }
            case REFUSED -> {
                refusal = "revision " + entry.getRevision() + " of " + settings.bucket() + "/" + settings.key()
                        + " was refused: " + verdict.reason().orElse("") + "; the last valid document stays in effect";
                LOG.warn("{}", refusal);
            }
            case UNCHANGED -> {
                return;
            }
        }
        changed();
    }

    @Override
    public void empty() {
        if (gate.current().isEmpty()) {
            keyNote = "no document at " + settings.bucket() + "/" + settings.key() + " yet; nothing is removed until one comes";
            changed();
        }
    }

    private void changed() {
        updateSnapshot();
        SupervisionService s = supervision;
        if (s != null) {
            s.reconcileSoon();
        }
        status.changed();       // a refusal is news for the controller even when the pass changes nothing
    }

    // ---- NatsLink.Listener -----------------------------------------------------------------

    @Override
    public void up(Connection connection) {
        watch.up(connection);
        status.up(connection);
        try {
            results.up(connection);
        } catch (IOException e) {
            LOG.warn("NATS: results cannot be published on this connection: {}", e.toString());
        }
    }

    @Override
    public void down() {
        status.down();
        results.down();
    }

    private void reloadLink() {
        try {
            link.reloadIfChanged();
        } catch (RuntimeException e) {
            LOG.warn("Reconnecting to NATS with changed credentials failed: {}", e.toString());
        }
    }

    // ---- StatusSink -------------------------------------------------------------------------

    @Override
    public void passCompleted(ReconcileReport report) {
        lastReport = report;
        passSerial = servedSerial;
        status.changed();
    }

    private byte[] renderStatus() {
        Optional<SignedDocumentGate.Accepted> current = gate.current();
        Optional<Long> applied = Optional.ofNullable(passSerial);
        Optional<SignedDocumentGate.Accepted> appliedDoc = current.filter(a -> applied.isPresent()
                && a.value().serial() == applied.get());
        Optional<Long> pending = current.map(a -> a.value().serial()).filter(s -> applied.map(p -> p < s).orElse(true));
        return StatusDocument.render(new StatusDocument.Inputs(settings.hostId(), applied,
                appliedDoc.map(SignedDocumentGate.Accepted::sha256), appliedDoc.map(a -> a.document().revision()),
                pending, Optional.ofNullable(refusal), lastReport, agentVersion, link.connected(), Instant.now()),
                settings.statusMaxBytes());
    }

    /** For tests: the watch (its last revision and how many watches it started). */
    AssignmentWatch watch() {
        return watch;
    }

    /** For tests: the results transport (the {@link ResultSink} service). */
    ResultPublisher results() {
        return results;
    }

    /** For tests: the link. */
    NatsLink link() {
        return link;
    }

    private static java.util.concurrent.ThreadFactory named(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }
}
