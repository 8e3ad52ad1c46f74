package io.steward.delivery.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.delivery.artifacts.Failures;
import io.steward.oneshot.OneShotRun;
import io.steward.supervision.CommandResult;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

/**
 * Runs the one-shot commands {@code steward keygen|pack|verify} (framework property
 * {@code steward.command}, arguments as a JSON array of strings in {@code steward.command.args}, relative
 * paths against {@code steward.cwd}) once, on thread {@code delivery-command}, and hands the result to
 * the launcher by registering a marker service whose properties carry the exit code and the text to
 * print. Does nothing for any other command. Uses the limits and the unsigned-allow list of
 * configuration PID {@value DeliveryStager#PID}, and the trust store of {@code steward.trust}.
 * <p>
 * Exit codes: 0 done, 1 refused or failed (one sentence on stderr), 2 invalid invocation.
 */
@Component(immediate = true, configurationPid = DeliveryStager.PID)
public final class DeliveryCommands {
    static final Set<String> COMMANDS = Set.of("keygen", "pack", "verify");
    static final Gson JSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    private final BundleContext context;
    private final CommandContext tools;
    private final OneShotRun oneShot;      // null: not this bundle's command, or the agent

    @Activate
    public DeliveryCommands(BundleContext context, DeliveryStager.Config config) {
        this.context = context;
        this.tools = new CommandContext(context, config);
        String command = context.getProperty("steward.command");
        if (command == null || !COMMANDS.contains(command)) {
            oneShot = null;
            return;
        }
        oneShot = new OneShotRun(context, "delivery-command", () -> run(command));
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        if (oneShot != null) {
            oneShot.close();
        }
    }

    CommandResult run(String command) {
        try {
            List<String> args = args(context.getProperty("steward.command.args"));
            return switch (command) {
                case "keygen" -> new KeygenCommand(tools).run(args);
                case "pack" -> new PackCommand(tools).run(args);
                case "verify" -> new VerifyCommand(tools).run(args);
                default -> new CommandResult(2, "", "steward: unknown command " + command);
            };
        } catch (Usage e) {
            String stdout = "";
            if (context.getProperty("steward.command.args") != null
                    && context.getProperty("steward.command.args").contains("\"--json\"")) {
                JsonObject o = new JsonObject();
                o.addProperty("ok", false);
                o.addProperty("error", command + ": " + e.getMessage());
                stdout = JSON.toJson(o) + "\n";
            }
            return new CommandResult(2, stdout, "steward: " + command + ": " + e.getMessage() + "\n" + usage(command));
        } catch (IOException e) {
            return new CommandResult(1, "", "steward: " + command + " failed: " + Failures.describe(e));
        } catch (RuntimeException e) {
            return new CommandResult(1, "", "steward: " + command + " failed: " + e);
        }
    }

    static String usage(String command) {
        return switch (command) {
            case "keygen" -> "usage: steward keygen --out NAME   (writes NAME.key.pem and NAME.pub.pem)";
            case "pack" -> "usage: steward pack DIR --key NAME.key.pem --out FILE [--expect-id ID] [--expect-version V] [--json]";
            default -> "usage: steward verify FILE --id ID --version V --sha256 HEX --signature BASE64 [--key KEYID|FILE] [--json]";
        };
    }
    private static List<String> args(String json) throws Usage {
        if (json == null || json.isBlank()) {
            return List.of();
        }
        try {
            JsonElement e = JsonParser.parseString(json);
            List<String> out = new ArrayList<>();
            for (JsonElement item : (JsonArray) e) {
                out.add(item.getAsString());
            }
            return out;
        } catch (RuntimeException e) {
            throw new Usage("steward.command.args is not a JSON array of strings");
        }
    }
}
