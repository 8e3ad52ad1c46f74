package io.steward.delivery.internal;

import com.google.gson.JsonObject;
import io.steward.delivery.trust.Ed25519;
import io.steward.supervision.CommandResult;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.spec.InvalidKeySpecException;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * {@code steward pack DIR --key NAME.key.pem --out FILE}: packs a directory with {@link Packer} under the
 * configured limits, signs the artifact and prints its digest, signature and an assignment element (text or
 * {@code --json}). Stateless besides its invocation; runs on the one-shot command's thread.
 */
final class PackCommand {
    private final CommandContext ctx;

    PackCommand(CommandContext ctx) {
        this.ctx = ctx;
    }

    CommandResult run(List<String> list) throws Usage, IOException {
        CommandArgs a = CommandArgs.parse(list, Set.of("--key", "--out", "--expect-id", "--expect-version"), Set.of("--json"));
        Path dir = ctx.resolve(a.positionals(1).get(0));
        Path keyFile = ctx.resolve(a.required("--key"));
        Path out = ctx.resolve(a.required("--out"));
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
            packed = Packer.pack(dir, out, DeliveryStager.limits(ctx.config()));
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
        String keyId = KeygenCommand.stem(keyFile.getFileName().toString());
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
            return new CommandResult(0, DeliveryCommands.JSON.toJson(o) + "\n", "");
        }
        return new CommandResult(0, "artifact  " + packed.file().toAbsolutePath() + " (" + packed.entries() + " entries)\n"
                + "sha256    " + packed.sha256() + "\n"
                + "signature " + signature + "\n"
                + "signed with " + keyFile + "; hosts must trust its public key (as <trust>/" + keyId + ".pem, for example)\n"
                + "assignment (an element of \"addons\"):\n" + DeliveryCommands.JSON.toJson(assignment) + "\n", "");
    }
}
