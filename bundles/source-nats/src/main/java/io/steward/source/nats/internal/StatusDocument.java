package io.steward.source.nats.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionStatus;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * The status value a host writes ({@code steward-status/host.<id>}): the ack a controller reads.
 * {@code serial} and {@code digest} are those of the document the last pass applied, so
 * {@code converged} at a serial means that document is in effect; {@code pending_serial} names a newer
 * document received and not yet through a pass. {@code addons} are the objects of
 * {@code steward status --json}; when the value would exceed its limit, the last add-ons are left out
 * and {@code addons_omitted} counts them.
 */
final class StatusDocument {

    /** The inputs, gathered by the source. */
    record Inputs(String host, Optional<Long> serial, Optional<String> digest, Optional<String> revision,
                  Optional<Long> pendingSerial, Optional<String> error, ReconcileReport report, String agentVersion,
                  boolean connected, Instant at) {
    }

    private StatusDocument() {
    }

    static byte[] render(Inputs in, int maxBytes) {
        List<SupervisionStatus> all = in.report() == null ? List.of() : in.report().statuses();
        int keep = all.size();
        while (true) {
            byte[] bytes = json(in, all.subList(0, keep), all.size() - keep).getBytes(StandardCharsets.UTF_8);
            if (bytes.length <= maxBytes || keep == 0) {
                return bytes;
            }
            keep = keep / 2;
        }
    }

    private static String json(Inputs in, List<SupervisionStatus> addons, int omitted) {
        JsonObject o = new JsonObject();
        o.addProperty("host", in.host());
        o.add("serial", in.serial().map(s -> (com.google.gson.JsonElement) new com.google.gson.JsonPrimitive(s)).orElse(JsonNull.INSTANCE));
        o.add("digest", string(in.digest()));
        o.add("revision", string(in.revision()));
        in.pendingSerial().ifPresent(p -> o.addProperty("pending_serial", p));
        boolean converged = in.report() != null && in.serial().isPresent() && in.pendingSerial().isEmpty()
                && in.report().converged();
        o.addProperty("converged", converged);
        o.add("error", string(in.error()));
        JsonArray warnings = new JsonArray();
        if (in.report() != null) {
            in.report().warnings().forEach(warnings::add);
        }
        o.add("warnings", warnings);
        JsonArray list = new JsonArray();
        for (SupervisionStatus s : addons) {
            JsonObject a = new JsonObject();
            a.addProperty("id", s.id().value());
            a.addProperty("kind", s.kind());
            a.addProperty("state", s.state().wireName());
            a.add("desired_version", string(s.desiredVersion()));
            a.add("active_version", string(s.activeVersion()));
            a.addProperty("detail", s.detail());
            a.addProperty("since", s.since().toString());
            list.add(a);
        }
        o.add("addons", list);
        if (omitted > 0) {
            o.addProperty("addons_omitted", omitted);
        }
        JsonObject agent = new JsonObject();
        agent.addProperty("version", in.agentVersion());
        agent.addProperty("connected", in.connected());
        o.add("agent", agent);
        o.addProperty("at", in.at().toString());
        return o.toString();
    }

    private static com.google.gson.JsonElement string(Optional<String> s) {
        return s.map(v -> (com.google.gson.JsonElement) new com.google.gson.JsonPrimitive(v)).orElse(JsonNull.INSTANCE);
    }
}
