package io.steward.delivery.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.delivery.AddonManifest;
import io.steward.delivery.artifacts.ArtifactReader;
import io.steward.delivery.artifacts.Failures;
import io.steward.delivery.artifacts.Manifests;
import io.steward.delivery.artifacts.Progress;
import io.steward.delivery.artifacts.SignaturePolicy;
import io.steward.delivery.artifacts.Sink;
import io.steward.delivery.trust.Ed25519;
import io.steward.delivery.trust.TrustStore;
import io.steward.oneshot.OneShotRun;
import io.steward.supervision.AddonId;
import io.steward.supervision.CommandResult;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Versions;
import io.steward.supervision.spi.SupervisionException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.spec.InvalidKeySpecException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
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
    private static final Gson JSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    private final BundleContext context;
    private final DeliveryStager.Config config;
    private final OneShotRun oneShot;      // null: not this bundle's command, or the agent

    /** What the launcher prints. */
    /** An invocation error: exit 2. */
    private static final class Usage extends Exception {
        private static final long serialVersionUID = 1L;

        Usage(String message) {
            super(message);
        }
    }

    @Activate
    public DeliveryCommands(BundleContext context, DeliveryStager.Config config) {
        this.context = context;
        this.config = config;
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
                case "keygen" -> keygen(args);
                case "pack" -> pack(args);
                case "verify" -> verify(args);
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

    private CommandResult keygen(List<String> list) throws Usage, IOException {
        Args a = Args.parse(list, Set.of("--out"), Set.of());
        a.positionals(0);
        Path base = resolve(stem(a.required("--out")));
        // the private half cannot be mistaken for the file a host trusts (<trust>/NAME.pem)
        Path priv = base.resolveSibling(base.getFileName() + ".key.pem");
        Path pub = base.resolveSibling(base.getFileName() + ".pub.pem");
        KeyPair pair = Ed25519.generate();
        try {
            Files.createDirectories(priv.toAbsolutePath().getParent());
            write(priv, Ed25519.privatePem(pair.getPrivate()), "rw-------");
            write(pub, Ed25519.publicPem(pair.getPublic()), "rw-r--r--");
        } catch (FileAlreadyExistsException e) {
            return new CommandResult(1, "", "steward: keygen: " + e.getFile() + " already exists; not overwriting a key");
        }
        String id = base.getFileName().toString();
        return new CommandResult(0, "private key " + priv + " (keep it secret; sign with steward pack DIR --key " + priv
                + " --out FILE)\n"
                + "public key  " + pub + "\n"
                + "trust it on a host by copying " + pub.getFileName() + " to <trust>/" + id + ".pem (key id \"" + id
                + "\")\n", "");
    }

    /** A key name without the suffixes keygen adds: NAME, NAME.pem, NAME.key.pem and NAME.pub.pem all give NAME. */
    static String stem(String name) {
        for (String suffix : List.of(".key.pem", ".pub.pem", ".pem")) {
            if (name.endsWith(suffix) && name.length() > suffix.length()) {
                return name.substring(0, name.length() - suffix.length());
            }
        }
        return name;
    }

    /** Creates {@code file} with {@code mode} from the start: a private key is never readable by others, even briefly. */
    private static void write(Path file, String text, String mode) throws IOException {
        var perms = PosixFilePermissions.fromString(mode);
        try (var ch = Files.newByteChannel(file, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(perms))) {
            Files.setPosixFilePermissions(file, perms);     // whatever the umask
            ch.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)));
        }
    }

    private CommandResult pack(List<String> list) throws Usage, IOException {
        Args a = Args.parse(list, Set.of("--key", "--out", "--expect-id", "--expect-version"), Set.of("--json"));
        Path dir = resolve(a.positionals(1).get(0));
        Path keyFile = resolve(a.required("--key"));
        Path out = resolve(a.required("--out"));
        if (!Files.isDirectory(dir)) {
            throw new Usage(dir + " is not a directory");
        }
        PrivateKey key;
        try {
            key = Ed25519.readPrivate(Files.readString(keyFile, StandardCharsets.US_ASCII));
        } catch (NoSuchFileException e) {
            throw new Usage("the key " + keyFile + " does not exist");
        } catch (InvalidKeySpecException | CharacterCodingException e) {
            throw new Usage(keyFile + " is not an Ed25519 private key in PEM (" + e.getMessage() + ")");
        }
        Packer.Packed packed;
        try {
            packed = Packer.pack(dir, out, DeliveryStager.limits(config));
        } catch (Packer.Refused e) {
            return new CommandResult(1, "", "steward: pack: cannot pack " + dir + ": " + e.getMessage());
        }
        String id = packed.manifest().id();
        String version = packed.manifest().version();
        // the id and version come from addon.json; these only check them (a script's guard)
        Optional<String> wantId = a.optional("--expect-id");
        Optional<String> wantVersion = a.optional("--expect-version");
        if (wantId.isPresent() && !wantId.get().equals(id) || wantVersion.isPresent() && !wantVersion.get().equals(version)) {
            Files.deleteIfExists(out);
            throw new Usage("--expect-id/--expect-version (" + wantId.orElse(id) + " " + wantVersion.orElse(version)
                    + ") disagree with " + dir.resolve("addon.json") + " (" + id + " " + version
                    + "); the artifact would be refused");
        }
        String signature = Base64.getEncoder().encodeToString(
                Ed25519.sign(key, Ed25519.statement(id, version, packed.sha256())));
        String keyId = stem(keyFile.getFileName().toString());
        JsonObject artifact = new JsonObject();
        artifact.addProperty("url", packed.file().toAbsolutePath().toUri().toString());
        artifact.addProperty("sha256", packed.sha256());
        artifact.addProperty("signature", signature);
        JsonObject assignment = new JsonObject();
        assignment.addProperty("id", id);
        assignment.addProperty("version", version);
        assignment.addProperty("enabled", true);
        assignment.addProperty("supervision", packed.manifest().supervision());
        assignment.addProperty("delivery", DeliveryStager.PUSHED);
        assignment.add("artifact", artifact);
        assignment.addProperty("binary", packed.manifest().binary());
        if (a.flag("--json")) {
            JsonObject o = new JsonObject();
            o.addProperty("file", packed.file().toAbsolutePath().toString());
            o.addProperty("id", id);
            o.addProperty("version", version);
            o.addProperty("sha256", packed.sha256());
            o.addProperty("signature", signature);
            o.addProperty("key", keyId);
            o.addProperty("entries", packed.entries());
            o.add("assignment", assignment);
            return new CommandResult(0, JSON.toJson(o) + "\n", "");
        }
        return new CommandResult(0, "artifact  " + packed.file().toAbsolutePath() + " (" + packed.entries() + " entries)\n"
                + "sha256    " + packed.sha256() + "\n"
                + "signature " + signature + "\n"
                + "signed with " + keyFile + "; hosts must trust its public key (as <trust>/" + keyId + ".pem, for example)\n"
                + "assignment (an element of \"addons\"):\n" + JSON.toJson(assignment) + "\n", "");
    }

    private CommandResult verify(List<String> list) throws Usage {
        Args a = Args.parse(list, Set.of("--id", "--version", "--sha256", "--signature", "--key"), Set.of("--json"));
        Path file = resolve(a.positionals(1).get(0));
        String id = a.required("--id");
        String version = a.required("--version");
        String sha = a.required("--sha256").toLowerCase(Locale.ROOT);
        String signature = a.required("--signature");
        Optional<String> key = a.optional("--key");
        boolean json = a.flag("--json");
        if (!AddonId.isValid(id)) {
            throw new Usage("--id \"" + id + "\" is not a valid add-on id");
        }
        if (!Versions.isValid(version)) {
            throw new Usage("--version \"" + version + "\" is not a valid version");
        }
        if (!sha.matches("[0-9a-f]{64}")) {
            throw new Usage("--sha256 must be 64 hex digits");
        }
        if (!Files.isRegularFile(file)) {
            throw new Usage(file + " is not a regular file");
        }
        HostLayout layout = HostLayout.from(context::getProperty);
        if (key.isPresent() && (key.get().contains("/") || key.get().endsWith(".pem"))) {
            // a public key file instead of a key id: checked against that key alone, before it is trusted anywhere
            Path keyFile = resolve(key.get());
            String keyId = stem(keyFile.getFileName().toString());
            Path single = null;
            try {
                Ed25519.readPublic(Files.readString(keyFile, StandardCharsets.US_ASCII));
                single = Files.createTempDirectory("steward-verify-");
                Files.copy(keyFile, single.resolve(keyId + ".pem"));
                return verify(file, id, version, sha, signature, Optional.of(keyId), json, new TrustStore(single));
            } catch (NoSuchFileException e) {
                throw new Usage("--key " + keyFile + " does not exist (give a key id of the trust store or a public key file)");
            } catch (InvalidKeySpecException | IOException e) {
                throw new Usage("--key " + keyFile + " is not an Ed25519 public key in PEM (" + e.getMessage() + ")");
            } finally {
                if (single != null) {
                    try {
                        FileOps.deleteTree(single);
                    } catch (IOException e) {
                        // a temporary copy of a public key: nothing secret is left behind
                    }
                }
            }
        }
        return verify(file, id, version, sha, signature, key, json, new TrustStore(layout.trust()));
    }

    private CommandResult verify(Path file, String id, String version, String sha, String signature,
                                 Optional<String> key, boolean json, TrustStore trust) {
        Failures fail = new Failures(id);
        SignaturePolicy policy = new SignaturePolicy(trust, Set.of(config.allow_unsigned_addons()));
        ArtifactReader reader = new ArtifactReader(DeliveryStager.limits(config));
        try {
            ArtifactReader.Result r;
            long size = Files.size(file);
            try (InputStream in = Files.newInputStream(file)) {
                r = reader.read(fail, in, Sink.DISCARD, progress("verify " + file.getFileName(), size));
            }
            if (!r.sha256().equals(sha)) {
                throw fail.permanent("verify", "digest mismatch: the artifact's sha256 is " + r.sha256()
                        + ", expected " + sha);
            }
            SignaturePolicy.Verdict verdict = policy.check(fail, id, version, sha, signature, key);
            if (r.manifest().isEmpty()) {
                throw fail.permanent(Manifests.STEP, "the artifact has no addon.json at its root");
            }
            AddonManifest m;
            try {
                m = Manifests.parse(r.manifest().get());
                if (!m.id().equals(id)) {
                    throw new Manifests.Invalid("addon.json id \"" + m.id() + "\" does not match --id \"" + id + "\"");
                }
                if (!m.version().equals(version)) {
                    throw new Manifests.Invalid("addon.json version \"" + m.version() + "\" does not match --version \""
                            + version + "\"");
                }
                Manifests.checkFiles(m, r.files());
            } catch (Manifests.Invalid e) {
                throw fail.permanent(Manifests.STEP, e.getMessage());
            }
            String signer = verdict.key().map(k -> "signed by trusted key " + k).orElse("unsigned (allowed for " + id + ")");
            if (json) {
                JsonObject o = new JsonObject();
                o.addProperty("ok", true);
                o.addProperty("file", file.toString());
                o.addProperty("id", id);
                o.addProperty("version", version);
                o.addProperty("sha256", sha);
                o.addProperty("key", verdict.key().orElse(""));
                o.addProperty("supervision", m.supervision());
                o.addProperty("binary", m.binary());
                o.addProperty("entries", r.entries());
                o.addProperty("bytes", r.bytes());
                return new CommandResult(0, JSON.toJson(o) + "\n", "");
            }
            return new CommandResult(0, "ok: " + file + ": " + id + " " + version + ", " + m.supervision() + ", binary "
                    + m.binary() + ", " + r.entries() + " entries, " + signer + "\n", "");
        } catch (SupervisionException e) {
            String stderr = "steward: " + e.getMessage();   // already names the add-on and the step
            if (json) {
                JsonObject o = new JsonObject();
                o.addProperty("ok", false);
                o.addProperty("file", file.toString());
                o.addProperty("error", e.getMessage());
                o.addProperty("disposition", e.disposition().name().toLowerCase(Locale.ROOT));
                return new CommandResult(1, JSON.toJson(o) + "\n", stderr);
            }
            return new CommandResult(1, "", stderr);
        } catch (IOException e) {
            return new CommandResult(1, "", "steward: verify: cannot read " + file + ": " + Failures.describe(e));
        }
    }

    private Progress progress(String label, long total) {
        return Boolean.parseBoolean(context.getProperty("steward.tty"))
                ? Progress.percent(System.err, label, total) : Progress.NONE;
    }

    private Path resolve(String arg) {
        String cwd = context.getProperty("steward.cwd");
        Path base = Path.of(cwd == null || cwd.isBlank() ? System.getProperty("user.dir") : cwd);
        return base.resolve(arg).toAbsolutePath().normalize();
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

    /** Options {@code --name value} or {@code --name=value}, flags, and positionals. */
    private record Args(Map<String, String> options, Set<String> flags, List<String> positional) {
        static Args parse(List<String> args, Set<String> withValue, Set<String> flagNames) throws Usage {
            Map<String, String> options = new HashMap<>();
            Set<String> flags = new HashSet<>();
            List<String> positional = new ArrayList<>();
            for (int i = 0; i < args.size(); i++) {
                String arg = args.get(i);
                if (!arg.startsWith("--") || arg.equals("--")) {
                    positional.add(arg);
                    continue;
                }
                String name = arg;
                String value = null;
                int eq = arg.indexOf('=');
                if (eq > 0) {
                    name = arg.substring(0, eq);
                    value = arg.substring(eq + 1);
                }
                if (flagNames.contains(name) && value == null) {
                    flags.add(name);
                } else if (withValue.contains(name)) {
                    if (value == null) {
                        if (i + 1 >= args.size()) {
                            throw new Usage(name + " needs a value");
                        }
                        value = args.get(++i);
                    }
                    if (options.put(name, value) != null) {
                        throw new Usage(name + " is given twice");
                    }
                } else {
                    throw new Usage("unknown option " + name);
                }
            }
            return new Args(options, flags, positional);
        }

        String required(String name) throws Usage {
            String v = options.get(name);
            if (v == null) {
                throw new Usage(name + " is required");
            }
            return v;
        }

        Optional<String> optional(String name) {
            return Optional.ofNullable(options.get(name));
        }

        boolean flag(String name) {
            return flags.contains(name);
        }

        List<String> positionals(int n) throws Usage {
            if (positional.size() != n) {
                throw new Usage(n == 0 ? "unexpected argument " + positional.get(0)
                        : "expected " + n + " argument(s), got " + positional.size());
            }
            return positional;
        }
    }
}
