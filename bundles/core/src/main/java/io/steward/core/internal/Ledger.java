package io.steward.core.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.InvalidDocumentException;
import io.steward.supervision.SupervisionState;
import io.steward.files.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The durable record of what Steward owns: per add-on, the assignment last handed to its dispatcher,
 * the one installed, the last status and the last failure; plus the operator's holds. One small JSON
 * file per add-on under {@code <data>/state/ledger/} (and {@code <data>/state/holds.json}), each replaced
 * atomically, so recording one add-on's step costs the same with ten add-ons or ten thousand. Only the
 * reconcile thread touches it.
 */
final class Ledger {
    static final String DIR = "ledger";
    static final String HOLDS = "holds.json";
    private static final int FORMAT = 1;
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    /** A failure of one exact assignment (by fingerprint). */
    record Failure(String fingerprint, boolean permanent, int attempts, String error, Instant retryAt) {
    }

    /**
     * One add-on's record.
     *
     * @param kind         kind of the installed (or last attempted) assignment
     * @param attempted    the assignment last handed to a dispatcher (marked before the call)
     * @param installed    the assignment its dispatcher last applied successfully
     * @param generation   grows each time a new assignment is handed to the dispatcher
     * @param state        last known state
     * @param activeVersion version in effect
     * @param detail       last detail
     * @param since        when the state was entered
     * @param failure      last failure, if the last attempt failed
     * @param inFlight     the last attempt neither succeeded nor failed (the agent crashed, or its dispatcher
     *                     went away during the call): what runs may be {@code attempted}, half started
     */
    record Entry(String kind, Optional<Assignment> attempted, Optional<Assignment> installed, long generation,
                 SupervisionState state, Optional<String> activeVersion, String detail, Instant since,
                 Optional<Failure> failure, boolean inFlight) {
        static Entry fresh(String kind, Instant now) {
            return new Entry(kind, Optional.empty(), Optional.empty(), 0, SupervisionState.PENDING, Optional.empty(),
                    "not yet attempted", now, Optional.empty(), false);
        }

        Entry withState(SupervisionState newState, String newDetail, Instant now) {
            Instant newSince = newState == state ? since : now;
            return new Entry(kind, attempted, installed, generation, newState, activeVersion, newDetail, newSince,
                    failure, inFlight);
        }

        Entry withFailure(Optional<Failure> f) {
            return new Entry(kind, attempted, installed, generation, state, activeVersion, detail, since, f, false);
        }

        /**
         * What its dispatcher most likely left in place: the attempt in flight when it was interrupted after the
         * first install, otherwise the installed assignment.
         */
        Optional<Assignment> inPlace() {
            return inFlight && attempted.isPresent() && installed.isPresent() ? attempted : installed;
        }
    }

    private final Path dir;
    private final GsonAssignmentCodec codec;
    // written by the workers of a pass, never two for one add-on
    private final Map<AddonId, Entry> entries = new java.util.concurrent.ConcurrentSkipListMap<>();
    private final Set<AddonId> holds = new TreeSet<>();

    private Ledger(Path dir, GsonAssignmentCodec codec) {
        this.dir = dir;
        this.codec = codec;
    }

    /** Loads the ledger, or an empty one when none was written yet. A damaged file is an error: Steward
     * would not know what it owns. */
    static Ledger load(Path stateDir, GsonAssignmentCodec codec) throws IOException {
        Ledger ledger = new Ledger(stateDir.resolve(DIR), codec);
        List<Path> files = new java.util.ArrayList<>();
        if (Files.isRegularFile(ledger.dir.resolveSibling(HOLDS))) {
            files.add(ledger.dir.resolveSibling(HOLDS));
        }
        if (Files.isDirectory(ledger.dir)) {
            try (Stream<Path> list = Files.list(ledger.dir)) {
                list.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().forEach(files::add);
            }
        }
        for (Path file : files) {
            try {
                JsonObject root = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
                if (root.get("format").getAsInt() != FORMAT) {
                    throw new IOException(file + " has format " + root.get("format") + ", expected " + FORMAT);
                }
                String name = file.getFileName().toString();
                if (file.getParent().equals(ledger.dir.getParent())) {
                    root.getAsJsonArray("holds").forEach(h -> ledger.holds.add(new AddonId(h.getAsString())));
                } else {
                    AddonId id = new AddonId(name.substring(0, name.length() - ".json".length()));
                    ledger.entries.put(id, ledger.entryFromJson(root));
                }
            } catch (RuntimeException | InvalidDocumentException e) {
                throw new IOException(file + " is damaged: " + e.getMessage(), e);
            }
        }
        return ledger;
    }

    Optional<Entry> get(AddonId id) {
        return Optional.ofNullable(entries.get(id));
    }

    Map<AddonId, Entry> entries() {
        return Map.copyOf(entries);
    }

    Set<AddonId> holds() {
        return Set.copyOf(holds);
    }

    /** Records an entry; its file is on disk before this returns. A failed write changes nothing, in memory either. */
    void put(AddonId id, Entry entry) {
        write(dir.resolve(id.value() + ".json"), entryToJson(entry));
        entries.put(id, entry);
    }

    /** What status shows when the disk refused to record {@code entry}: in memory only, until a write succeeds. */
    void showUnrecorded(AddonId id, Entry entry) {
        entries.put(id, entry);
    }

    void remove(AddonId id) {
        if (entries.remove(id) != null) {
            try {
                Files.deleteIfExists(dir.resolve(id.value() + ".json"));
                AtomicFiles.syncDirectory(dir);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove " + id + " from the ledger in " + dir, e);
            }
        }
    }

    /** Sets or releases an operator hold; returns whether anything changed. */
    boolean hold(AddonId id, boolean held) {
        boolean changed = held ? holds.add(id) : holds.remove(id);
        if (changed) {
            JsonObject o = new JsonObject();
            com.google.gson.JsonArray h = new com.google.gson.JsonArray();
            holds.forEach(x -> h.add(x.value()));
            o.add("holds", h);
            try {
                write(dir.resolveSibling(HOLDS), o);    // beside the directory: "holds" is a valid add-on id
            } catch (UncheckedIOException e) {
                if (held) {                             // not on disk: not in effect either
                    holds.remove(id);
                } else {
                    holds.add(id);
                }
                throw e;
            }
        }
        return changed;
    }

    private void write(Path file, JsonObject content) {
        JsonObject o = new JsonObject();
        o.addProperty("format", FORMAT);
        content.entrySet().forEach(e -> o.add(e.getKey(), e.getValue()));
        try {
            AtomicFiles.replace(file, "." + file.getFileName() + ".tmp").createDirectories().durable().cleanUpOnFailure()
                    .write(GSON.toJson(o).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the ledger file " + file + ": " + (e.getMessage() == null
                    ? e.getClass().getSimpleName() : e.getMessage()), e);
        }
    }

    private JsonObject entryToJson(Entry e) {
        JsonObject o = new JsonObject();
        o.addProperty("kind", e.kind());
        e.attempted().ifPresent(a -> o.add("attempted", codec.toJson(a)));
        e.installed().ifPresent(a -> o.add("installed", codec.toJson(a)));
        o.addProperty("generation", e.generation());
        o.addProperty("state", e.state().wireName());
        e.activeVersion().ifPresent(v -> o.addProperty("active_version", v));
        o.addProperty("detail", e.detail());
        o.addProperty("since", e.since().toString());
        e.failure().ifPresent(f -> {
            JsonObject j = new JsonObject();
            j.addProperty("fingerprint", f.fingerprint());
            j.addProperty("permanent", f.permanent());
            j.addProperty("attempts", f.attempts());
            j.addProperty("error", f.error());
            j.addProperty("retry_at", f.retryAt().toString());
            o.add("failure", j);
        });
        if (e.inFlight()) {
            o.addProperty("in_flight", true);    // absent when false: older ledgers read the same
        }
        return o;
    }

    private Entry entryFromJson(JsonObject o) throws InvalidDocumentException {
        Optional<Failure> failure = Optional.empty();
        if (o.has("failure")) {
            JsonObject f = o.getAsJsonObject("failure");
            failure = Optional.of(new Failure(f.get("fingerprint").getAsString(), f.get("permanent").getAsBoolean(),
                    f.get("attempts").getAsInt(), f.get("error").getAsString(),
                    Instant.parse(f.get("retry_at").getAsString())));
        }
        return new Entry(o.get("kind").getAsString(), assignment(o, "attempted"), assignment(o, "installed"),
                o.get("generation").getAsLong(),
                SupervisionState.valueOf(o.get("state").getAsString().toUpperCase(java.util.Locale.ROOT)),
                o.has("active_version") ? Optional.of(o.get("active_version").getAsString()) : Optional.empty(),
                o.get("detail").getAsString(), Instant.parse(o.get("since").getAsString()), failure,
                o.has("in_flight") && o.get("in_flight").getAsBoolean());
    }

    private Optional<Assignment> assignment(JsonObject o, String field) throws InvalidDocumentException {
        return o.has(field) ? Optional.of(codec.fromJson(o.getAsJsonObject(field))) : Optional.empty();
    }
}
