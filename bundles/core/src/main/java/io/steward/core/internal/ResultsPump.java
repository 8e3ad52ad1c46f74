package io.steward.core.internal;

import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.ResultSink;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives the {@link SpoolIngester} of every add-on that has a spool ({@code <data>/addons/<id>/spool}, made by
 * the {@code systemd_timer} and {@code ephemeral_helper} kinds) on its own thread {@code core-results}, every
 * {@code every} and whenever a sink appears; its problems are lines for the pass's warnings (status).
 */
final class ResultsPump implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ResultsPump.class);

    private final HostLayout layout;
    private final SpoolIngester.Limits limits;
    private final Map<AddonId, SpoolIngester> spools = new ConcurrentSkipListMap<>();
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "core-results");
        t.setDaemon(true);
        return t;
    });
    private volatile ResultSink sink;

    ResultsPump(HostLayout layout, SpoolIngester.Limits limits, long everyMillis) {
        this.layout = layout;
        this.limits = limits;
        thread.scheduleWithFixedDelay(this::passQuietly, 0, everyMillis, TimeUnit.MILLISECONDS);
    }

    /** The sink records go to; {@code null}: none, the spools buffer. */
    void sink(ResultSink next) {
        synchronized (this) {
            sink = next;
        }
        if (next != null) {
            thread.execute(this::passQuietly);
        }
    }

    /** {@code gone} left: no sink, unless another already took its place. */
    void sinkGone(ResultSink gone) {
        synchronized (this) {
            if (sink == gone) {
                sink = null;
            }
        }
    }

    /** One sentence per add-on whose spool had a problem (counts since the agent started). */
    List<String> warnings() {
        List<String> out = new ArrayList<>();
        spools.forEach((id, s) -> s.tally().summary(id).ifPresent(out::add));
        return out;
    }

    /** The tally of one add-on's spool, for tests. */
    Optional<SpoolIngester.Tally> tally(AddonId id) {
        return Optional.ofNullable(spools.get(id)).map(SpoolIngester::tally);
    }

    /** Runs one pass now on the results thread and waits for it (tests, shutdown). */
    void passNow() throws Exception {
        thread.submit(this::passQuietly).get();
    }

    private void passQuietly() {
        try {
            pass();
        } catch (IOException | RuntimeException e) {
            LOG.warn("Result spools: a pass failed: {}", e.toString());
        }
    }

    private void pass() throws IOException {
        Path addons = layout.data().resolve("addons");
        if (!Files.isDirectory(addons, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<AddonId> present = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(addons)) {
            for (Path home : ds) {
                String name = home.getFileName().toString();
                if (AddonId.isValid(name)
                        && Files.isDirectory(home.resolve(HostLayout.SPOOL), LinkOption.NOFOLLOW_LINKS)) {
                    present.add(new AddonId(name));
                }
            }
        }
        spools.keySet().retainAll(present);
        ResultSink s = sink;
        for (AddonId id : present) {
            SpoolIngester in = spools.computeIfAbsent(id, i -> new SpoolIngester(i, layout.addonSpool(i), limits));
            try {
                in.pass(s);
            } catch (IOException e) {
                LOG.warn("add-on {}: result spool: cannot read {}: {}", id, layout.addonSpool(id), e.toString());
            }
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
