package io.steward.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.KeyValue;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.KeyValueEntry;
import io.nats.client.api.MessageInfo;
import io.nats.client.api.StreamInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Results out, black box (issue 14 §5): a real {@code systemd_timer} add-on in the sandbox, its service run as
 * {@code nobody} every second, writes one result file per run into {@code @ADDON_SPOOL@} (and, after it, a line
 * in a witness file of its own); {@code bin/steward run --nats} as the user {@code steward} through the root
 * updater publishes the records to the stream {@code steward-results} of a real nats-server. Across a SIGKILL of
 * the agent and a broker outage, every record the timer wrote reaches the stream exactly once (JetStream drops the
 * records offered again by their {@code Nats-Msg-Id}), and a malformed and an oversized file dropped into the spool
 * are counted in the host's status while the rest still flows.
 */
class TimerResultsIT {
    private static final String ID = "results-timer";
    private static final Duration DEADLINE = Duration.ofSeconds(90);

    @Test
    void everyRecordReachesTheStreamOnceAcrossAnAgentKillAndABrokerOutage() throws Exception {
        try (CampaignHost host = new CampaignHost()) {
            UserPrincipal nobody = Path.of("/").getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
            Path witness = Files.createDirectories(host.root().resolve("witness"));
            Files.setOwner(witness, nobody);
            Path runs = witness.resolve("runs");
            host.useFleet();
            host.startUpdater();
            host.startAgent();
            host.assign("{\"revision\":\"results-1\",\"addons\":[{\"id\":\"" + ID + "\",\"version\":\"1\","
                    + "\"supervision\":\"systemd_timer\",\"artifact\":" + host.pack(ID, "1", timer(runs)) + "}]}\n");
            await("the timer add-on is ready", () -> isReady(host));
            // what the timer's user needs to reach its spool (docs/fleet.md): traverse <data> and the add-on's home
            for (Path p : List.of(host.data(), host.data().resolve("addons"), host.data().resolve("addons/" + ID))) {
                Set<PosixFilePermission> mode = Files.getPosixFilePermissions(p);
                mode.add(PosixFilePermission.OTHERS_EXECUTE);
                Files.setPosixFilePermissions(p, mode);
            }
            Path spool = host.data().resolve("addons/" + ID + "/spool");

            try (Connection nc = Nats.connect(new Options.Builder().server(host.natsUrl())
                    .maxReconnects(-1).connectionTimeout(Duration.ofSeconds(5)).build())) {
                JetStreamManagement jsm = nc.jetStreamManagement();
                await("three records reach the stream", () -> published(jsm).size() >= 3);

                host.killAgent();
                int written = witnessed(runs).size();
                await("the timer runs on while the agent is down", () -> witnessed(runs).size() >= written + 3);
                host.startAgent();
                int before = published(jsm).size();
                await("the restarted agent publishes again", () -> published(jsm).size() > before + 2);

                host.killBroker();
                int atOutage = witnessed(runs).size();
                Files.writeString(spool.resolve("bad.jsonl"), "{\"run\":\"bad-1\"}\nnot json\n{\"run\":\"bad-3\"}\n");
                Files.writeString(spool.resolve("big.jsonl"), ("{\"run\":\"big\"}\n").repeat(80_000));   // 1.1 MiB
                await("the spool buffers while the broker is down", () -> witnessed(runs).size() >= atOutage + 3
                        && completeFiles(spool) >= 3);
                host.startBroker();

                List<String> wrote = witnessed(runs);
                await("every record written reaches the stream", () -> published(jsm).keySet().containsAll(wrote)
                        && published(jsm).containsKey("bad-1") && published(jsm).containsKey("bad-3"));
                Map<String, Integer> stream = published(jsm);
                for (String run : wrote) {
                    assertEquals(1, stream.get(run), "the record of run " + run + " is in the stream once");
                }
                assertEquals(1, stream.get("bad-1"), "the valid lines of a file with a malformed one still flow");
                assertEquals(1, stream.get("bad-3"), "the valid lines of a file with a malformed one still flow");
                assertFalse(stream.containsKey("big"), "an oversized file is not read");

                KeyValue status = nc.keyValue("steward-status");
                await("the host's status counts the malformed line and the oversized file", () -> {
                    String warnings = warnings(status);
                    return warnings.contains("1 malformed line") && warnings.contains("1 oversized file");
                });
            }
        }
    }

    /** The timer: every second its service, as nobody, writes a result file (temp name, renamed), then witnesses it. */
    private static Map<String, String> timer(Path runs) {
        Map<String, String> files = new TreeMap<>();
        files.put("addon.json", "{\"id\":\"" + ID + "\",\"version\":\"1\",\"supervision\":\"systemd_timer\","
                + "\"binary\":\"run.sh\",\"units\":[\"steward-" + ID + ".timer\",\"steward-" + ID + ".service\"]}\n");
        files.put("run.sh", "#!/bin/sh\nset -e\nn=$(date +%s%N)\n"
                + "printf '{\"run\":\"%s\"}\\n' \"$n\" > \"$1/run-$n.tmp\"\nmv \"$1/run-$n.tmp\" \"$1/run-$n.jsonl\"\n"
                + "echo \"$n\" >> " + runs + "\n");
        files.put("steward-" + ID + ".timer", "[Unit]\nDescription=results\n[Timer]\nOnActiveSec=1s\n"
                + "OnUnitActiveSec=1s\nAccuracySec=10ms\n[Install]\nWantedBy=timers.target\n");
        files.put("steward-" + ID + ".service", "[Service]\nType=oneshot\nUser=nobody\n"
                + "ExecStart=@ADDON_HOME@/run.sh @ADDON_SPOOL@\n");
        return files;
    }

    private static boolean isReady(CampaignHost host) {
        JsonObject entry = host.ledgerEntry(ID);
        return entry != null && entry.has("state") && "ready".equals(entry.get("state").getAsString());
    }

    /** The runs the timer has witnessed, in order. */
    private static List<String> witnessed(Path runs) {
        try {
            return Files.exists(runs) ? Files.readAllLines(runs).stream().filter(l -> !l.isBlank()).toList() : List.of();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long completeFiles(Path spool) {
        try (Stream<Path> files = Files.list(spool)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".jsonl")).count();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every record of this add-on in the stream: its "run" → how many times it is stored. */
    private static Map<String, Integer> published(JetStreamManagement jsm) {
        Map<String, Integer> runs = new TreeMap<>();
        try {
            if (!jsm.getStreamNames().contains("steward-results")) {
                return runs;
            }
            StreamInfo info = jsm.getStreamInfo("steward-results");
            for (long seq = info.getStreamState().getFirstSequence(); seq <= info.getStreamState().getLastSequence(); seq++) {
                MessageInfo m = jsm.getMessage("steward-results", seq);
                assertEquals("steward.results." + CampaignHost.FLEET_HOST + "." + ID, m.getSubject());
                String run = JsonParser.parseString(new String(m.getData(), StandardCharsets.UTF_8)).getAsJsonObject()
                        .get("run").getAsString();
                runs.merge(run, 1, Integer::sum);
            }
        } catch (IOException | io.nats.client.JetStreamApiException e) {
            return runs;            // the broker restarting: asked again at the next poll
        }
        return runs;
    }

    private static String warnings(KeyValue status) {
        try {
            KeyValueEntry e = status.get("host." + CampaignHost.FLEET_HOST);
            return e == null ? "" : JsonParser.parseString(e.getValueAsString()).getAsJsonObject().get("warnings").toString();
        } catch (IOException | io.nats.client.JetStreamApiException | RuntimeException e) {
            return "";
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within " + DEADLINE.toSeconds() + " s: " + what);
            }
            TimeUnit.MILLISECONDS.sleep(200);      // polling a condition with a deadline
        }
    }
}
