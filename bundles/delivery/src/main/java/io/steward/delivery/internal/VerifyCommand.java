package io.steward.delivery.internal;

import com.google.gson.JsonObject;
import io.steward.delivery.AddonManifest;
import io.steward.delivery.artifacts.ArtifactReader;
import io.steward.delivery.artifacts.Failures;
import io.steward.delivery.artifacts.Manifests;
import io.steward.delivery.artifacts.SignaturePolicy;
import io.steward.delivery.artifacts.Sink;
import io.steward.delivery.staging.FileOps;
import io.steward.delivery.trust.Ed25519;
import io.steward.delivery.trust.TrustStore;
import io.steward.supervision.AddonId;
import io.steward.supervision.CommandResult;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Versions;
import io.steward.supervision.spi.SupervisionException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.spec.InvalidKeySpecException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * {@code steward verify FILE --id ID --version V --sha256 HEX --signature BASE64}: reads an artifact as a host
 * would (digest, signature against the trust store or one public key file, archive rules, {@code addon.json})
 * without staging it, and says whether it would be accepted. Stateless besides its invocation; runs on the
 * one-shot command's thread.
 */
final class VerifyCommand {
    private final CommandContext ctx;

    VerifyCommand(CommandContext ctx) {
        this.ctx = ctx;
    }

    CommandResult run(List<String> list) throws Usage {
        CommandArgs a = CommandArgs.parse(list, Set.of("--id", "--version", "--sha256", "--signature", "--key"), Set.of("--json"));
        Path file = ctx.resolve(a.positionals(1).get(0));
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
        HostLayout layout = HostLayout.from(ctx.context()::getProperty);
        if (key.isPresent() && (key.get().contains("/") || key.get().endsWith(".pem"))) {
            // a public key file instead of a key id: checked against that key alone, before it is trusted anywhere
            Path keyFile = ctx.resolve(key.get());
            String keyId = KeygenCommand.stem(keyFile.getFileName().toString());
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
        SignaturePolicy policy = new SignaturePolicy(trust, Set.of(ctx.config().allow_unsigned_addons()));
        ArtifactReader reader = new ArtifactReader(DeliveryStager.limits(ctx.config()));
        try {
            ArtifactReader.Result r;
            long size = Files.size(file);
            try (InputStream in = Files.newInputStream(file)) {
                r = reader.read(fail, in, Sink.DISCARD, ctx.progress("verify " + file.getFileName(), size));
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
                return new CommandResult(0, DeliveryCommands.JSON.toJson(o) + "\n", "");
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
                return new CommandResult(1, DeliveryCommands.JSON.toJson(o) + "\n", stderr);
            }
            return new CommandResult(1, "", stderr);
        } catch (IOException e) {
            return new CommandResult(1, "", "steward: verify: cannot read " + file + ": " + Failures.describe(e));
        }
    }
}
