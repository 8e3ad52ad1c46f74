package io.steward.source.http.internal;

import io.steward.source.signed.SignedDocumentGate;
import io.steward.supervision.spi.AssignmentSource.Snapshot;
import java.io.IOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The poll loop: one GET, its answer through the {@link SignedDocumentGate}, the next poll scheduled by
 * {@link PollTiming}. Runs on one scheduler thread; {@link #snapshot()} may be read from any thread.
 * A refused value or a failed poll changes nothing: the last valid document stays in effect.
 */
final class HttpPoller {
    private static final Logger LOG = LoggerFactory.getLogger(HttpPoller.class);

    /** Runs a task once after a delay (a scheduled executor in production; the tests record the delay). */
    interface Scheduler {
        void schedule(Runnable task, Duration delay);
    }

    private final URI url;
    private final SignedDocumentGate gate;
    private final HttpFetch fetch;
    private final PollTiming timing;
    private final Scheduler scheduler;
    private final Clock clock;
    private final Runnable changed;
    private Optional<String> etag = Optional.empty();    // scheduler thread only
    private volatile String refusal;                     // the last refusal's sentence, until a valid value comes
    private volatile String failure;                     // the last failed poll, until one succeeds
    private volatile Duration nextDelay;
    private volatile Snapshot snapshot;
    private volatile boolean stopped;

    /** @param changed called after the snapshot changed (core then reconciles soon) */
    HttpPoller(URI url, SignedDocumentGate gate, HttpFetch fetch, PollTiming timing, Scheduler scheduler, Clock clock,
               Runnable changed) {
        this.url = url;
        this.gate = gate;
        this.fetch = fetch;
        this.timing = timing;
        this.scheduler = scheduler;
        this.clock = clock;
        this.changed = changed;
    }

    /** Puts the cached document in effect (no network) and schedules the first poll now. */
    void start() {
        Optional<String> cacheProblem = gate.loadCache();
        cacheProblem.ifPresent(p -> LOG.error("{}", p));
        refusal = cacheProblem.orElse(null);
        gate.current().ifPresent(a -> LOG.info("Cached document serial {} for host {} is in effect until {} says more",
                a.value().serial(), gate.hostId(), url));
        update();
        schedule(Duration.ZERO);
    }

    void stop() {
        stopped = true;
    }

    Snapshot snapshot() {
        return snapshot;
    }

    /** The delay the last poll scheduled the next one with. */
    Duration nextDelay() {
        return nextDelay;
    }

    /** One poll, then the next one scheduled. */
    void poll() {
        if (stopped) {
            return;
        }
        Duration next;
        try {
            next = handle(fetch.get(etag));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;         // stopping
        } catch (RuntimeException e) {
            next = failed("the poll of " + url + " failed (" + e + ")");
        }
        schedule(next);
    }

    private Duration handle(HttpFetch.Result result) {
        if (result instanceof HttpFetch.NotModified) {
            return succeeded();
        }
        if (result instanceof HttpFetch.Busy busy) {
            Duration d = timing.busy(busy.retryAfter());
            setFailure(url + " answered HTTP " + busy.status() + " (busy); next poll in " + d.toSeconds() + " s");
            return d;
        }
        if (result instanceof HttpFetch.Failed f) {
            return failed(f.reason());
        }
        if (result instanceof HttpFetch.TooLarge t) {
            refuse(t.reason());
            return succeeded();
        }
        HttpFetch.Body body = (HttpFetch.Body) result;
        SignedDocumentGate.Verdict verdict;
        try {
            verdict = gate.offer(body.bytes());
        } catch (IOException e) {
            LOG.error("The document from {} is in effect but could not be cached for offline boots: {}", url, e.getMessage());
            verdict = new SignedDocumentGate.Verdict(SignedDocumentGate.Outcome.ACCEPTED, Optional.empty());
        }
        switch (verdict.outcome()) {
            case ACCEPTED -> {
                refusal = null;
                LOG.info("Document serial {} for host {} accepted from {}",
                        gate.current().map(a -> a.value().serial()).orElse(0L), gate.hostId(), url);
                changed();
            }
            case REFUSED -> refuse(verdict.reason().orElse(""));
            case UNCHANGED -> {
            }
        }
        // an ETag is remembered only for a body that was read in full, so a refused one is not asked again
        // every interval but a newer one is still seen when the server changes it
        etag = body.etag();
        return succeeded();
    }

    private void refuse(String reason) {
        String sentence = "the document at " + url + " was refused: " + reason + "; the last valid document stays in effect";
        if (!sentence.equals(refusal)) {
            LOG.warn("{}", sentence);
        }
        refusal = sentence;
        changed();
    }

    private Duration succeeded() {
        if (failure != null) {
            LOG.info("{} answers again", url);
            failure = null;
            changed();
        }
        return timing.ok();
    }

    private Duration failed(String reason) {
        Duration d = timing.failed();
        setFailure(reason + "; next poll in " + d.toSeconds() + " s");
        return d;
    }

    private void setFailure(String sentence) {
        if (failure == null) {
            LOG.warn("{}", sentence);
        }
        failure = sentence;
        changed();
    }

    private void schedule(Duration delay) {
        if (!stopped) {
            nextDelay = delay;
            scheduler.schedule(this::poll, delay);
        }
    }

    private void changed() {
        update();
        changed.run();
    }

    private void update() {
        Optional<SignedDocumentGate.Accepted> current = gate.current();
        List<String> warnings = new ArrayList<>(current.map(SignedDocumentGate.Accepted::warnings).orElse(List.of()));
        String fail = failure;
        if (fail != null && current.isPresent()) {
            warnings.add(fail);
        }
        Optional<String> error = Optional.ofNullable(refusal);
        if (error.isEmpty() && current.isEmpty()) {
            error = Optional.of("no document received from " + url + " yet and none cached; nothing is removed until one is"
                    + (fail == null ? "" : " (" + fail + ")"));
        }
        snapshot = new Snapshot("http:" + url, current.map(SignedDocumentGate.Accepted::document), error, warnings,
                clock.instant());
    }
}
