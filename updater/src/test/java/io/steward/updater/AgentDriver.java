package io.steward.updater;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.delivery.staging.Stager;
import io.steward.delivery.staging.StagingSettings;
import io.steward.privileged.UnitInstallRequest;
import io.steward.privileged.UnitInstallation;
import io.steward.privileged.client.UpdaterClient;
import io.steward.privileged.protocol.Protocol;
import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.systemd.bus.DbusSystemdManager;
import io.steward.systemd.units.UnitSupervisor;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The agent side of {@link UpdaterIT}, run in a child JVM as the unprivileged agent user (setpriv): the real
 * delivery stager, the systemd kinds' shared code and the updater's client, wired as in OSGi. Reads one JSON
 * command per line on stdin and answers one JSON line on stdout: {@code {"ok":true,...}} or
 * {@code {"ok":false,"error":...,"disposition":...}}. Args: bus data etc trust unit-dir privileged-root socket.
 */
public final class AgentDriver {
    private AgentDriver() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);     // whatever else prints goes to the log, not to the protocol
        HostLayout layout = new HostLayout(Path.of(args[1]), Path.of(args[2]), Path.of(args[3]), Path.of(args[4]),
                Path.of(args[5]));
        DbusSystemdManager systemd = new DbusSystemdManager(args[0], Duration.ofSeconds(10));
        Map<String, String> properties = Map.of(HostLayout.DATA, args[1], HostLayout.ETC, args[2], HostLayout.TRUST,
                args[3], HostLayout.UNIT_DIR, args[4], HostLayout.PRIVILEGED_ROOT, args[5]);
        ArtifactStager stager = new Stager(HostLayout.from(properties::get), StagingSettings.defaults(), false, List.of());
        UpdaterClient[] client = {new UpdaterClient(Path.of(args[6]))};
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        out.println("{\"ok\":true,\"ready\":true}");
        for (String line; (line = in.readLine()) != null; ) {
            JsonObject c = JsonParser.parseString(line).getAsJsonObject();
            JsonObject answer = new JsonObject();
            try {
                answer = run(c, layout, systemd, stager, client);
                answer.addProperty("ok", true);
            } catch (SupervisionException e) {
                answer.addProperty("ok", false);
                answer.addProperty("error", e.getMessage());
                answer.addProperty("disposition", e.disposition().name());
            } catch (Exception e) {
                answer.addProperty("ok", false);
                answer.addProperty("error", e.toString());
                answer.addProperty("disposition", "EXCEPTION");
            }
            out.println(Protocol.line(answer));
        }
        systemd.close();
    }

    private static JsonObject run(JsonObject c, HostLayout layout, DbusSystemdManager systemd, ArtifactStager stager,
                                  UpdaterClient[] client) throws Exception {
        JsonObject o = new JsonObject();
        switch (c.get("cmd").getAsString()) {
            case "apply" -> {
                SupervisionStatus s = supervisor(c, layout, systemd, stager, client[0]).apply(record(c, layout));
                o.addProperty("state", s.state().name());
                o.addProperty("version", s.activeVersion().orElse(""));
                o.addProperty("detail", s.detail());
            }
            case "remove" -> supervisor(c, layout, systemd, stager, client[0]).remove(new AddonId(c.get("id").getAsString()));
            case "stage" -> {
                StagedArtifact staged = stager.stage(record(c, layout));
                o.addProperty("directory", staged.directory().toString());
            }
            case "install" -> {
                AddonRecord r = record(c, layout);
                StagedArtifact staged = stager.stage(r);
                afterStage(c, layout, systemd, stager, client);
                UnitInstallation done = client[0].install(new UnitInstallRequest(r.id(), staged.directory(),
                        strings(c.getAsJsonArray("units")), c.get("primary").getAsString(), Resources.NONE, false,
                        Duration.ofSeconds(30)));
                o.addProperty("action", done.action());
                o.addProperty("detail", done.detail());
            }
            case "uninstall" -> client[0].uninstall(new AddonId(c.get("id").getAsString()),
                    strings(c.getAsJsonArray("units")), c.get("release").getAsBoolean());
            case "grant" -> {
                StagedArtifact staged = stager.stage(record(c, layout));
                afterStage(c, layout, systemd, stager, client);
                // grant_binary: what a compromised agent asks for, whatever the assignment and the manifest say
                String binary = (c.has("grant_binary") ? c.get("grant_binary") : c.get("binary")).getAsString();
                Path p = client[0].grantCapabilities(new AddonId(c.get("id").getAsString()), staged, binary,
                        strings(c.getAsJsonArray("caps")));
                o.addProperty("path", p.toString());
            }
            case "release" -> client[0].release(new AddonId(c.get("id").getAsString()));
            case "socket" -> client[0] = new UpdaterClient(Path.of(c.get("path").getAsString()));
            case "raw" -> o.add("answer", raw(client[0].socket(), c.get("line").getAsString(),
                    c.has("repeat") ? c.get("repeat").getAsInt() : 1, c.has("hold") && c.get("hold").getAsBoolean()));
            case "write" -> Files.writeString(Path.of(c.get("path").getAsString()), c.get("content").getAsString());
            case "append" -> Files.write(Path.of(c.get("path").getAsString()), new byte[] {0},
                    java.nio.file.StandardOpenOption.APPEND);
            case "symlink" -> {
                Path link = Path.of(c.get("link").getAsString());
                Path moved = link.resolveSibling(link.getFileName() + ".moved");
                Files.move(link, moved);
                Files.createSymbolicLink(link, Path.of(c.get("target").getAsString()));
                o.addProperty("moved", moved.toString());
            }
            case "undo-symlink" -> {
                Path link = Path.of(c.get("link").getAsString());
                Files.delete(link);
                Files.move(link.resolveSibling(link.getFileName() + ".moved"), link);
            }
            case "copy" -> Files.copy(Path.of(c.get("from").getAsString()), Path.of(c.get("to").getAsString()));
            case "mkdir" -> Files.createDirectories(Path.of(c.get("path").getAsString()));
            case "whoami" -> o.addProperty("status", Files.readString(Path.of("/proc/self/status")));
            default -> throw new IllegalArgumentException("unknown command " + c);
        }
        return o;
    }

    /** The commands of {@code after_stage}: run between the agent's verification and the updater's request. */
    private static void afterStage(JsonObject c, HostLayout layout, DbusSystemdManager systemd, ArtifactStager stager,
                                   UpdaterClient[] client) throws Exception {
        if (c.has("after_stage")) {
            for (JsonElement step : c.getAsJsonArray("after_stage")) {
                run(step.getAsJsonObject(), layout, systemd, stager, client);
            }
        }
    }

    /** Sends {@code line} (repeated) as one request, as is (or never ends it), and returns the updater's answer. */
    private static JsonElement raw(Path socket, String line, int repeat, boolean hold) throws Exception {
        try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket))) {
            s.setSoTimeout(30_000);
            try {
                OutputStream w = s.getOutputStream();
                byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
                for (int i = 0; i < repeat; i++) {
                    w.write(bytes);
                }
                if (!hold) {     // hold: the request never ends (no newline, the connection stays open)
                    w.write('\n');
                    s.shutdownOutput();
                }
                w.flush();
            } catch (java.io.IOException e) {
                // answered and closed before the whole request was written (too large, forbidden)
            }
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            InputStream r = s.getInputStream();
            r.transferTo(answer);
            return JsonParser.parseString(answer.toString(StandardCharsets.UTF_8));
        }
    }

    private static UnitSupervisor supervisor(JsonObject c, HostLayout layout, DbusSystemdManager systemd,
                                             ArtifactStager stager, UpdaterClient client) {
        return new UnitSupervisor(c.get("kind").getAsString(), systemd, client, stager, layout, Duration.ofSeconds(30));
    }

    private static AddonRecord record(JsonObject c, HostLayout layout) {
        AddonId id = new AddonId(c.get("id").getAsString());
        Assignment a = new Assignment(id, c.get("version").getAsString(), true, c.get("kind").getAsString(),
                "pushed_artifact", Optional.of(new ArtifactRef(c.get("url").getAsString(), c.get("sha256").getAsString(),
                c.get("signature").getAsString(), Optional.empty())), Optional.of(c.get("binary").getAsString()),
                List.of(), Map.of(), "{}", List.of(), Resources.NONE);
        return new AddonRecord(a, layout.addonHome(id), 1);
    }

    private static List<String> strings(JsonArray a) {
        return a.asList().stream().map(JsonElement::getAsString).toList();
    }
}
