package io.steward.source.nats.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.KeyValueEntry;
import io.nats.client.api.KeyValueOperation;
import io.nats.client.api.KeyValueWatchOption;
import io.nats.client.api.KeyValueWatcher;
import io.steward.delivery.trust.Ed25519;
import io.steward.oneshot.OneShotRun;
import io.steward.source.nats.fleet.FleetController;
import io.steward.source.signed.SignedAssignment;
import io.steward.supervision.AssignmentCodec;
import io.steward.supervision.CommandResult;
import io.steward.supervision.InvalidDocumentException;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.spec.InvalidKeySpecException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code steward fleet put|status|watch}, the operator's side (launcher command {@code fleet}, arguments
 * in {@code steward.command.args}): runs once on thread {@code fleet-command} and hands the result to the
 * launcher as a {@link CommandResult} service, as the artifact tools do. {@code watch} prints each change
 * as it comes. Exit codes: 0 done, 1 failed or refused (one sentence), 2 invalid invocation or document.
 */
@Component(immediate = true)
public final class FleetCommands {
    static final String USAGE = """
            usage: steward fleet put --nats URL --host H --key NAME.key.pem [--key-id ID] DOC.json [--create-buckets [--replicas N]]
                   steward fleet status --nats URL [--host H] [--json]
                   steward fleet watch --nats URL [--count N]
              common: [--creds FILE] [--bucket B] [--status-bucket B]""";
    private static final List<String> VALUED = List.of("--nats", "--host", "--key", "--key-id", "--replicas", "--creds",
            "--bucket", "--status-bucket", "--count");
    private static final List<String> FLAGS = List.of("--json", "--create-buckets");

    private final BundleContext context;
    private final AssignmentCodec codec;
    private final OneShotRun oneShot;      // null: not this bundle's command, or the agent

    /** An invocation error: exit 2. */
    static final class Usage extends Exception {
        private static final long serialVersionUID = 1L;

        Usage(String message) {
            super(message);
        }
    }

    @Activate
    public FleetCommands(BundleContext context, @Reference AssignmentCodec codec) {
        this.context = context;
        this.codec = codec;
        if (!"fleet".equals(context.getProperty("steward.command"))) {
            oneShot = null;
            return;
        }
        oneShot = new OneShotRun(context, "fleet-command", () -> run(args(context.getProperty("steward.command.args"))));
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        if (oneShot != null) {
            oneShot.close();
        }
    }

    CommandResult run(List<String> list) {
        try {
            if (list.isEmpty()) {
                throw new Usage("missing put, status or watch");
            }
            String sub = list.get(0);
            Map<String, String> a = parse(list.subList(1, list.size()));
            String nats = required(a, "--nats");
            try (Connection conn = connect(nats, a.get("--creds"))) {
                FleetController controller = new FleetController(conn, a.getOrDefault("--bucket", "steward-assignments"),
                        a.getOrDefault("--status-bucket", "steward-status"));
                return switch (sub) {
                    case "put" -> put(controller, a);
                    case "status" -> FleetStatusView.render(controller.statuses(), a.get("--host"), a.containsKey("--json"));
                    case "watch" -> watch(conn, a);
                    default -> throw new Usage("unknown fleet command " + sub);
                };
            }
        } catch (Usage e) {
            return new CommandResult(2, "", "steward: fleet: " + e.getMessage() + "\n" + USAGE + "\n");
        } catch (FleetController.Conflict e) {
            return new CommandResult(1, "", "steward: fleet put: " + e.getMessage() + "\n");
        } catch (IOException | JetStreamApiException e) {
            return new CommandResult(1, "", "steward: fleet: " + e.getMessage()
                    + " (NATS unreachable, no such bucket, or permission denied)\n");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new CommandResult(1, "", "steward: fleet: interrupted\n");
        } catch (RuntimeException e) {
            return new CommandResult(1, "", "steward: fleet failed: " + e + "\n");
        }
    }

    private CommandResult put(FleetController controller, Map<String, String> a)
            throws Usage, IOException, JetStreamApiException, FleetController.Conflict, InterruptedException {
        String host = required(a, "--host");
        if (!SignedAssignment.validHostId(host)) {
            throw new Usage("--host: '" + host + "' is not a valid host id (letters, digits, _ and -, at most 128)");
        }
        Path keyFile = path(required(a, "--key"));
        String keyId = a.getOrDefault("--key-id", keyFile.getFileName().toString().replaceFirst("(\\.key)?\\.pem$", ""));
        Path docFile = path(required(a, "document"));
        String document;
        PrivateKey key;
        try {
            document = Files.readString(docFile, StandardCharsets.UTF_8);
            key = Ed25519.readPrivate(Files.readString(keyFile, StandardCharsets.US_ASCII));
        } catch (IOException | InvalidKeySpecException e) {
            throw new Usage("cannot read " + (e instanceof InvalidKeySpecException ? keyFile + " as an Ed25519 private key" : "a file")
                    + ": " + e.getMessage());
        }
        try {
            codec.parse(document, true);
        } catch (InvalidDocumentException e) {
            throw new Usage(docFile + " was refused, nothing was published: " + e.getMessage());
        }
        if (a.containsKey("--create-buckets")) {
            controller.ensureBuckets(positive(a.getOrDefault("--replicas", "1"), "--replicas"));
        }
        FleetController.Published p = controller.put(host, document, keyId, key);
        return new CommandResult(0, "published serial " + p.serial() + " for host " + host + " (revision " + p.revision()
                + ", sha256 " + p.sha256() + ", key " + keyId + ")\n", "");
    }

    /** Prints one line per status change on the terminal as it comes; ends after --count changes. */
    private CommandResult watch(Connection conn, Map<String, String> a) throws Usage, IOException, JetStreamApiException,
            InterruptedException {
        int count = a.containsKey("--count") ? positive(a.get("--count"), "--count") : Integer.MAX_VALUE;
        CountDownLatch done = new CountDownLatch(count == Integer.MAX_VALUE ? 1 : count);
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        KeyValueWatcher watcher = new KeyValueWatcher() {
            @Override
            public void watch(KeyValueEntry e) {
                if (e.getOperation() == KeyValueOperation.PUT && e.getKey().startsWith("host.")) {
                    out.println(FleetStatusView.line(e.getKey().substring("host.".length()), e.getValue()));
                    done.countDown();
                }
            }

            @Override
            public void endOfData() {
            }
        };
        var sub = conn.keyValue(a.getOrDefault("--status-bucket", "steward-status")).watchAll(watcher,
                KeyValueWatchOption.UPDATES_ONLY);
        try {
            done.await();
        } finally {
            sub.unsubscribe();
        }
        return new CommandResult(0, "", "");
    }

    private static Connection connect(String servers, String creds) throws IOException, InterruptedException {
        Options.Builder b = new Options.Builder().servers(servers.split(",")).connectionTimeout(Duration.ofSeconds(5))
                .maxReconnects(3);
        if (creds != null) {
            b.credentialPath(creds);
        }
        return Nats.connect(b.build());
    }

    private Path path(String name) {
        Path p = Path.of(name);
        String cwd = context.getProperty("steward.cwd");
        return p.isAbsolute() || cwd == null ? p : Path.of(cwd).resolve(p);
    }

    private static Map<String, String> parse(List<String> args) throws Usage {
        Map<String, String> out = new java.util.HashMap<>();
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (VALUED.contains(arg)) {
                if (i + 1 >= args.size()) {
                    throw new Usage(arg + " needs a value");
                }
                out.put(arg, args.get(++i));
            } else if (FLAGS.contains(arg)) {
                out.put(arg, "");
            } else if (arg.startsWith("-")) {
                throw new Usage("unknown option " + arg);
            } else if (out.putIfAbsent("document", arg) != null) {
                throw new Usage("unexpected argument " + arg);
            }
        }
        return out;
    }

    private static String required(Map<String, String> a, String name) throws Usage {
        String v = a.get(name);
        if (v == null || v.isBlank()) {
            throw new Usage(name.equals("document") ? "missing the document file" : "missing " + name);
        }
        return v;
    }

    private static int positive(String v, String name) throws Usage {
        try {
            int n = Integer.parseInt(v);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new Usage(name + " must be a positive number, not '" + v + "'");
    }

    private static List<String> args(String json) {
        List<String> out = new ArrayList<>();
        if (json != null && !json.isBlank()) {
            JsonArray a = JsonParser.parseString(json).getAsJsonArray();
            for (JsonElement e : a) {
                out.add(e.getAsString());
            }
        }
        return out;
    }
}
