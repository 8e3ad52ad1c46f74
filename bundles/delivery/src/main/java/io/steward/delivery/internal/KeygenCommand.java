package io.steward.delivery.internal;

import io.steward.delivery.trust.Ed25519;
import io.steward.supervision.CommandResult;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.util.List;
import java.util.Set;

/**
 * {@code steward keygen --out NAME}: writes a new Ed25519 key pair as NAME.key.pem (owner only) and NAME.pub.pem,
 * refusing to overwrite either. Stateless besides its invocation; runs on the one-shot command's thread.
 */
final class KeygenCommand {
    private final CommandContext ctx;

    KeygenCommand(CommandContext ctx) {
        this.ctx = ctx;
    }

    CommandResult run(List<String> list) throws Usage, IOException {
        CommandArgs a = CommandArgs.parse(list, Set.of("--out"), Set.of());
        a.positionals(0);
        Path base = ctx.resolve(stem(a.required("--out")));
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
}
