package io.steward.supervision.sidecar.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.Resources;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.TreeMap;

/**
 * What runs for one add-on: the program, its command line and environment, its supervision parameters.
 *
 * @param id            the add-on
 * @param version       the delivered version (what status reports, never a self-report)
 * @param fingerprint   digest of the restart boundary: version, artifact, binary, args, env, capabilities
 * @param exec          the program, an absolute path ({@code <home>/current/<binary>}, or what
 *                      {@code PrivilegedOperations} returned)
 * @param args          extra argv
 * @param env           the assignment's environment
 * @param params        supervision parameters (manifest over defaults)
 * @param resources     resource limits asked for
 * @param defaultConfig the artifact's default config file, if it ships one
 * @param configHash    digest of the merged config file the process was given
 */
record Spec(AddonId id, String version, String fingerprint, Path exec, List<String> args, Map<String, String> env,
            Params params, Resources resources, Optional<Path> defaultConfig, String configHash) {

    Spec {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(fingerprint, "fingerprint");
        Objects.requireNonNull(exec, "exec");
        args = List.copyOf(args);
        env = Map.copyOf(env);
        Objects.requireNonNull(params, "params");
        Objects.requireNonNull(resources, "resources");
        Objects.requireNonNull(defaultConfig, "defaultConfig");
        Objects.requireNonNull(configHash, "configHash");
    }

    /** The same command line with another config and resource limits (a change that needs no restart). */
    Spec reconfigured(Resources newResources, String newConfigHash) {
        return new Spec(id, version, fingerprint, exec, args, env, params, newResources, defaultConfig, newConfigHash);
    }

    /**
     * The restart boundary of an assignment: a change of any of these fields restarts the process; a change
     * of config or resources only does not.
     */
    static String fingerprint(Assignment a) {
        JsonObject o = new JsonObject();
        o.addProperty("version", a.version());
        o.addProperty("delivery", a.delivery());
        a.artifact().ifPresent(r -> {
            o.addProperty("url", r.url());
            o.addProperty("sha256", r.sha256());
        });
        a.binary().ifPresent(b -> o.addProperty("binary", b));
        JsonArray args = new JsonArray();
        a.args().forEach(args::add);
        o.add("args", args);
        JsonObject env = new JsonObject();
        new TreeMap<>(a.env()).forEach(env::addProperty);
        o.add("env", env);
        JsonArray caps = new JsonArray();
        a.capabilities().stream().map(String::trim).map(String::toLowerCase).sorted().distinct().forEach(caps::add);
        o.add("capabilities", caps);
        return Files2.sha256(o.toString().getBytes(StandardCharsets.UTF_8));
    }

    JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("id", id.value());
        o.addProperty("version", version);
        o.addProperty("fingerprint", fingerprint);
        o.addProperty("exec", exec.toString());
        JsonArray a = new JsonArray();
        args.forEach(a::add);
        o.add("args", a);
        JsonObject e = new JsonObject();
        new TreeMap<>(env).forEach(e::addProperty);
        o.add("env", e);
        o.add("params", params.toJson());
        JsonObject r = new JsonObject();
        resources.cpuMaxPercent().ifPresent(v -> r.addProperty("cpu_max_percent", v));
        resources.memoryMaxBytes().ifPresent(v -> r.addProperty("memory_max_bytes", v));
        resources.tasksMax().ifPresent(v -> r.addProperty("tasks_max", v));
        o.add("resources", r);
        defaultConfig.ifPresent(p -> o.addProperty("default_config", p.toString()));
        o.addProperty("config_hash", configHash);
        return o;
    }

    static Spec fromJson(JsonObject o) {
        List<String> args = new ArrayList<>();
        o.getAsJsonArray("args").forEach(x -> args.add(x.getAsString()));
        Map<String, String> env = new TreeMap<>();
        o.getAsJsonObject("env").entrySet().forEach(x -> env.put(x.getKey(), x.getValue().getAsString()));
        JsonObject r = o.getAsJsonObject("resources");
        Resources resources = new Resources(
                r.has("cpu_max_percent") ? OptionalDouble.of(r.get("cpu_max_percent").getAsDouble()) : OptionalDouble.empty(),
                r.has("memory_max_bytes") ? OptionalLong.of(r.get("memory_max_bytes").getAsLong()) : OptionalLong.empty(),
                r.has("tasks_max") ? OptionalLong.of(r.get("tasks_max").getAsLong()) : OptionalLong.empty());
        JsonElement dc = o.get("default_config");
        return new Spec(new AddonId(o.get("id").getAsString()), o.get("version").getAsString(),
                o.get("fingerprint").getAsString(), Path.of(o.get("exec").getAsString()), args, env,
                Params.fromJson(o.getAsJsonObject("params")), resources,
                dc == null || dc.isJsonNull() ? Optional.empty() : Optional.of(Path.of(dc.getAsString())),
                o.get("config_hash").getAsString());
    }
}
