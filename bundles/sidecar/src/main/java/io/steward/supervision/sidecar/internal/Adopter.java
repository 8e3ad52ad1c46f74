package io.steward.supervision.sidecar.internal;

import com.google.gson.JsonObject;
import io.steward.supervision.AddonId;
import io.steward.supervision.sidecar.internal.Supervised.Phase;
import io.steward.supervision.sidecar.internal.Supervised.Running;
import java.io.IOException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes over what an earlier dispatcher or agent recorded ({@link SidecarRecords}): a live process is kept as it
 * is (same pid, its notify socket bound again), a dead one is started again, a rejected one stays rejected.
 * <p>
 * Threading: the calling operation's thread, which holds the add-on; takes its monitor for the change.
 */
final class Adopter {
    // the dispatcher's logger: log categories stay what they were before the dispatcher was split
    private static final Logger LOG = LoggerFactory.getLogger(SidecarDispatcher.class);

    private final Recorder recorder;
    private final NotifySockets sockets;

    Adopter(Recorder recorder, NotifySockets sockets) {
        this.recorder = recorder;
        this.sockets = sockets;
    }

    /** Takes over what an earlier dispatcher or agent recorded: the live process, or the spec of a dead one. */
    void reattach(Supervised s, JsonObject stored) {
        AddonId id = s.id;
        Spec spec;
        try {
            spec = Spec.fromJson(stored.getAsJsonObject("spec"));
        } catch (RuntimeException e) {
            LOG.warn("Add-on {}: ignoring unreadable {}: {}", id, recorder.stateFile(id), e.toString());
            return;
        }
        Optional<Running> live = recorder.records().liveProcess(id, stored);
        synchronized (s) {
            s.recorded(spec, stored.has("launch_id") ? stored.get("launch_id").getAsString() : null);
            if (live.isPresent()) {
                Running run = live.get();
                try {
                    sockets.hub().bind(id, stored.has("notify_socket") ? stored.get("notify_socket").getAsString()
                            : sockets.address(id));
                } catch (IOException e) {
                    LOG.warn("Add-on {}: cannot bind its notify socket again: {}", id, e.getMessage());
                }
                run.ready = bool(stored, "ready");
                run.lastWatchdogNanos = System.nanoTime();
                // it may have become ready while nobody listened: a fresh start timeout from now
                run.extendUntilNanos = System.nanoTime() + spec.params().startTimeout().toNanos();
                s.adopted(run, stored.has("limits_problem") ? stored.get("limits_problem").getAsString() : null);
                LOG.info("Add-on {}: adopted pid {} (version {}), not restarted", id, run.pid, spec.version());
            } else if (stored.has("rejected")) {
                s.down(Phase.REJECTED, stored.get("rejected").getAsString());
            } else {
                s.backoff(System.nanoTime(), "its recorded process is gone");
                LOG.info("Add-on {}: recorded pid {} is gone; starting it again", id,
                        stored.has("pid") ? stored.get("pid").getAsLong() : 0);
            }
        }
    }

    private static boolean bool(JsonObject o, String key) {
        return o.has(key) && o.get(key).getAsBoolean();
    }
}
