package io.steward.source.file.internal;

import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.AssignmentCodec;
import io.steward.supervision.AssignmentDocument;
import io.steward.supervision.HostLayout;
import io.steward.supervision.InvalidDocumentException;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.spi.AssignmentSource;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the assignment document from a file (framework property {@code steward.assignments},
 * default {@code <etc>/assignments.json}) and polls it, and the local override beside it, for
 * changes. A document that fails validation is refused with its reason while the last valid one
 * stays in effect, so a typo never uninstalls anything. Polling (content, not just mtime) catches
 * editors that replace the file and network file systems that send no events.
 * <p>
 * Configuration PID {@value #PID}; thread {@code source-file-watch}. In a one-shot process the
 * file is read once, at activation.
 */
@Component(service = AssignmentSource.class, immediate = true, configurationPid = FileAssignmentSource.PID)
@Designate(ocd = FileAssignmentSource.Config.class)
public final class FileAssignmentSource implements AssignmentSource {
    static final String PID = "io.steward.source.file";
    static final String ASSIGNMENTS_PROPERTY = "steward.assignments";
    private static final Logger LOG = LoggerFactory.getLogger(FileAssignmentSource.class);
    private static final long MAX_BYTES = 16L * 1024 * 1024;

    @ObjectClassDefinition(name = "Steward file assignment source")
    public @interface Config {
        @AttributeDefinition(description = "Milliseconds between checks of the file for changes")
        long poll_millis() default 1000;

        @AttributeDefinition(description = "Unknown fields are errors (true) or warnings (false)")
        boolean strict() default true;
    }

    private final Path file;
    private final Path override;
    private final AssignmentCodec codec;
    private final boolean strict;
    private final ScheduledExecutorService watcher;
    private final boolean oneShot;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC)
    private volatile SupervisionService supervision;

    private volatile Snapshot snapshot;
    // confined to the watcher thread (and the constructor)
    private byte[] lastBytes;
    private byte[] lastOverrideBytes;

    @Activate
    public FileAssignmentSource(BundleContext context, @Reference AssignmentCodec codec, Config config) {
        HostLayout layout = HostLayout.from(context::getProperty);
        String named = context.getProperty(ASSIGNMENTS_PROPERTY);
        this.file = named == null || named.isBlank() ? layout.etc().resolve("assignments.json")
                : Path.of(named).toAbsolutePath().normalize();
        this.override = layout.etc().resolve("assignments.local.json");
        this.codec = codec;
        this.strict = config.strict();
        if (config.poll_millis() < 10) {
            throw new IllegalArgumentException("poll.millis must be at least 10, not " + config.poll_millis());
        }
        String command = context.getProperty("steward.command");
        this.oneShot = !(command == null || command.isBlank() || command.equals("run"));
        this.snapshot = new Snapshot(name(), Optional.empty(), Optional.of("not read yet"), List.of(), Instant.now());
        check();
        lastOverrideBytes = readOrNull(override);
        if (!oneShot) {
            watcher = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "source-file-watch");
                t.setDaemon(true);
                return t;
            });
            watcher.scheduleWithFixedDelay(this::poll, config.poll_millis(), config.poll_millis(),
                    TimeUnit.MILLISECONDS);
        } else {
            watcher = null;
        }
        LOG.info("Watching {} (every {} ms)", file, config.poll_millis());
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        if (watcher != null) {
            watcher.shutdownNow();
            watcher.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Override
    public Snapshot snapshot() {
        return snapshot;
    }

    private String name() {
        return "file:" + file;
    }

    private void poll() {
        try {
            boolean changed = check();
            byte[] o = readOrNull(override);
            if (!java.util.Arrays.equals(o, lastOverrideBytes)) {
                lastOverrideBytes = o;
                changed = true;
            }
            SupervisionService s = supervision;
            if (changed && s != null) {
                s.reconcileSoon();
            }
        } catch (RuntimeException e) {       // never let the watcher die
            LOG.error("Checking {} failed", file, e);
        }
    }

    /** Reads the file if its bytes changed; returns whether the snapshot changed. */
    private boolean check() {
        byte[] bytes;
        try {
            if (Files.isDirectory(file)) {
                return refuse("is a directory, not a file", null);
            }
            if (Files.exists(file) && Files.size(file) > MAX_BYTES) {
                return refuse("is larger than " + MAX_BYTES + " bytes", null);
            }
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return refuse("does not exist", null);
        } catch (IOException e) {
            return refuse("cannot be read (" + e.getMessage() + ")", null);
        }
        if (java.util.Arrays.equals(bytes, lastBytes)) {
            return false;
        }
        lastBytes = bytes;
        try {
            AssignmentCodec.Parsed parsed = codec.parse(new String(bytes, StandardCharsets.UTF_8), strict);
            snapshot = new Snapshot(name(), Optional.of(resolveRelativeUrls(parsed.document())), Optional.empty(),
                    parsed.warnings(), Instant.now());
            LOG.info("Read {}: revision '{}', {} add-on(s)", file, parsed.document().revision(),
                    parsed.document().addons().size());
            return true;
        } catch (InvalidDocumentException e) {
            return refuse("was refused: " + e.getMessage(), bytes);
        }
    }

    /**
     * A {@code file:} URL without a leading slash ({@code file:artifacts/x.tar.gz}) names a file
     * relative to the document, so a document and its artifacts can move together (the
     * distribution's demo does).
     */
    private AssignmentDocument resolveRelativeUrls(AssignmentDocument doc) {
        List<Assignment> resolved = new ArrayList<>();
        for (Assignment a : doc.addons()) {
            Optional<ArtifactRef> artifact = a.artifact().map(ref -> {
                if (!ref.url().startsWith("file:") || ref.url().startsWith("file:/")) {
                    return ref;
                }
                Path target = file.getParent().resolve(ref.url().substring("file:".length())).normalize();
                return new ArtifactRef(target.toUri().toString(), ref.sha256(), ref.signature(), ref.key());
            });
            resolved.add(new Assignment(a.id(), a.version(), a.enabled(), a.kind(), a.delivery(), artifact, a.binary(),
                    a.args(), a.env(), a.configJson(), a.capabilities(), a.resources()));
        }
        return new AssignmentDocument(doc.revision(), resolved);
    }

    private boolean refuse(String why, byte[] bytes) {
        lastBytes = bytes;
        String error = file + " " + why;
        if (Objects.equals(snapshot.error().orElse(null), error)) {
            return false;
        }
        // reported once by whoever reads the snapshot: the agent's reconciler logs it, a one-shot command prints it
        LOG.debug("Assignment file {}", error);
        snapshot = new Snapshot(name(), snapshot.document(), Optional.of(error), List.of(), Instant.now());
        return true;
    }

    private static byte[] readOrNull(Path path) {
        try {
            return Files.readAllBytes(path);
        } catch (IOException e) {
            return null;
        }
    }
}
