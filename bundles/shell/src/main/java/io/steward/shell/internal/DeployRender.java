package io.steward.shell.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.steward.deploy.DeployFolder;
import io.steward.deploy.QuarantinedJar;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/** How {@code status} and {@code steward:kinds} show what guards {@code deploy/} and what it refused. */
final class DeployRender {
    /** Quarantined jars listed in text; the JSON lists them all. */
    private static final int SHOWN = 5;

    private DeployRender() {
    }

    /** One line for {@code status}, or none when nothing guards a deploy folder (an embedding). */
    static String line(DeployFolder d) {
        if (d == null) {
            return "";
        }
        String mode = d.verifies()
                ? "deploy/: only jars signed by a key in " + trust(d) + " are installed"
                : "deploy/: UNSIGNED KINDS ALLOWED (steward run --unsigned-kinds): any jar there runs inside the agent";
        int n = d.quarantined().size();
        return mode + (n == 0 ? "" : "; " + n + " jar" + (n == 1 ? "" : "s") + " quarantined (steward:kinds)");
    }

    /** The quarantined jars for {@code steward:kinds}, newest last. */
    static String quarantinedText(DeployFolder d) {
        if (d == null || d.quarantined().isEmpty()) {
            return "";
        }
        List<QuarantinedJar> all = d.quarantined();
        StringBuilder out = new StringBuilder("\nQuarantined (not installed, in deploy/.quarantine/):");
        for (QuarantinedJar q : all.subList(Math.max(0, all.size() - SHOWN), all.size())) {
            out.append("\n  ").append(q.at()).append("  deploy/").append(q.jar()).append(" -> deploy/").append(q.movedTo())
                    .append(": ").append(q.reason());
        }
        if (all.size() > SHOWN) {
            out.append("\n  (").append(all.size() - SHOWN).append(" older, see kinds --json)");
        }
        return out.toString();
    }

    static JsonObject json(DeployFolder d) {
        JsonObject o = new JsonObject();
        o.addProperty("verify", d.verifies());
        JsonArray trust = new JsonArray();
        d.trust().forEach(t -> trust.add(t.toString()));
        o.add("trust", trust);
        JsonArray q = new JsonArray();
        for (QuarantinedJar j : d.quarantined()) {
            JsonObject x = new JsonObject();
            x.addProperty("jar", j.jar());
            x.addProperty("moved_to", j.movedTo());
            x.addProperty("reason", j.reason());
            x.addProperty("at", j.at().toString());
            q.add(x);
        }
        o.add("quarantined", q);
        return o;
    }

    private static String trust(DeployFolder d) {
        return d.trust().stream().map(Path::toString).collect(Collectors.joining(" or "));
    }
}
