package io.steward.supervision.sidecar.internal;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.supervision.AddonId;
import io.steward.supervision.sidecar.internal.Supervised.Phase;
import io.steward.supervision.sidecar.internal.Supervised.Running;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sidecar kind's durable state, one file per add-on ({@code <data>/state/sidecar/<id>.json}, replaced
 * atomically): the spec, the notify address, the boot id, the launch id (written before the spawn), and once the
 * process exists its pid, start time and readiness. And the one question asked of it: which live process, if any,
 * is the recorded one — by pid and start time, or by the launch id it carries when the pid was never recorded.
 */
final class SidecarRecords {
    private static final Logger LOG = LoggerFactory.getLogger(SidecarRecords.class);

    private final Path dir;
    private final String bootId;

    SidecarRecords(Path dir, String bootId) {
        this.dir = dir;
        this.bootId = bootId;
    }

    Path file(AddonId id) {
        return dir.resolve(id.value() + ".json");
    }

    /** Where the add-on's keeper writes how its process ended ({@link Keeper}). */
    Path exitFile(AddonId id) {
        return dir.resolve(id.value() + ".exit");
    }

    /** Records an add-on as it is now; nothing for one without a spec. Caller holds {@code s}. */
    void write(Supervised s, String notifyAddress) throws IOException {
        if (s.spec == null) {
            return;
        }
        JsonObject o = new JsonObject();
        o.addProperty("format", 1);
        o.add("spec", s.spec.toJson());
        o.addProperty("notify_socket", notifyAddress);
        o.addProperty("boot_id", bootId);
        if (s.launchId != null) {
            o.addProperty("launch_id", s.launchId);
        }
        Running run = s.run;
        if (run != null) {
            o.addProperty("pid", run.pid);
            o.addProperty("start_time", run.startInstant.toString());
            o.addProperty("start_ticks", run.startTicks);
            o.addProperty("ready", run.ready);
        }
        if (s.phase == Phase.REJECTED) {
            o.addProperty("rejected", s.detail);
        }
        if (s.limitsProblem != null) {
            o.addProperty("limits_problem", s.limitsProblem);
        }
        Files2.writeAtomically(file(s.id), Files2.bytes(o));
    }

    /** The record of an add-on; empty when there is none or it cannot be read (then with a warning). */
    Optional<JsonObject> read(AddonId id) {
        try {
            JsonElement e = JsonParser.parseString(Files.readString(file(id), StandardCharsets.UTF_8));
            return e.isJsonObject() && e.getAsJsonObject().has("spec") ? Optional.of(e.getAsJsonObject()) : Optional.empty();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            LOG.warn("Add-on {}: ignoring unreadable {}: {}", id, file(id), e.toString());
            return Optional.empty();
        }
    }

    /**
     * The recorded process, when it is still the same process: same boot, same pid, same start time; or, when
     * the agent died between the spawn and the record of the pid, the process that carries the recorded launch id.
     */
    Optional<Running> liveProcess(AddonId id, JsonObject stored) {
        String launchId = stored.has("launch_id") ? stored.get("launch_id").getAsString() : null;
        if (!bootId.equals(string(stored, "boot_id"))) {
            return Optional.empty();
        }
        if (stored.has("pid") && stored.has("start_time")) {
            long pid = stored.get("pid").getAsLong();
            Instant started = Instant.parse(stored.get("start_time").getAsString());
            long ticks = stored.has("start_ticks") ? stored.get("start_ticks").getAsLong() : -1;
            if (pid > 1 && Processes.alive(pid, started) && Processes.alive(pid, ticks)) {
                return Optional.of(adopted(id, pid, started, ticks, launchId));
            }
            return Optional.empty();
        }
        if (launchId == null) {
            return Optional.empty();
        }
        Optional<Processes.Stat> found = Launches.find(launchId);
        Optional<Instant> started = found.flatMap(st -> ProcessHandle.of(st.pid())).flatMap(h -> h.info().startInstant());
        if (found.isEmpty() || started.isEmpty() || found.get().pid() <= 1) {
            return Optional.empty();
        }
        LOG.info("Add-on {}: found pid {} by its launch id (the agent stopped before recording it)", id, found.get().pid());
        return Optional.of(adopted(id, found.get().pid(), started.get(), found.get().startTicks(), launchId));
    }

    private Running adopted(AddonId id, long pid, Instant started, long ticks, String launchId) {
        long upNanos = Math.max(0, Duration.between(started, Instant.now()).toNanos());
        Keeper.Watch keeper = Keeper.of(pid, launchId, exitFile(id)).orElse(null);
        return new Running(pid, keeper, true, started, ticks, System.nanoTime() - upNanos);
    }

    private static String string(JsonObject o, String key) {
        return o.has(key) ? o.get(key).getAsString() : "";
    }
}
