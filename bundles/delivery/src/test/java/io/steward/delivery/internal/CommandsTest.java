package io.steward.delivery.internal;

import io.steward.delivery.staging.StageMetadata;
import io.steward.delivery.trust.Ed25519;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.delivery.StagedArtifact;
import io.steward.supervision.CommandResult;
import io.steward.delivery.internal.Fixtures.Host;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.AddonRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** keygen, pack and verify through the launcher handshake, against stock openssl. */
class CommandsTest {
    @TempDir
    Path cwd;
    Host host;

    @BeforeEach
    void host() throws Exception {
        host = new Host(Files.createDirectories(cwd.resolve("host")));
    }

    private CommandResult command(String command, String... args) throws Exception {
        Map<String, String> props = new HashMap<>();
        props.put("steward.command", command);
        props.put("steward.command.args", new com.google.gson.Gson().toJson(List.of(args)));
        props.put("steward.cwd", cwd.toString());
        props.put(HostLayout.DATA, host.data.toString());
        props.put(HostLayout.TRUST, host.trust.toString());
        Fixtures.Context ctx = new Fixtures.Context(props);
        DeliveryCommands commands = new DeliveryCommands(ctx.context, Fixtures.config(Map.of()));
        try {
            Dictionary<String, ?> d = ctx.registered.get(60, TimeUnit.SECONDS);
            return new CommandResult((Integer) d.get(CommandResult.EXIT), (String) d.get(CommandResult.STDOUT),
                    (String) d.get(CommandResult.STDERR));
        } finally {
            commands.deactivate();
        }
    }

    /** An add-on folder with nested directories and an executable helper. */
    private Path folder(String name) throws Exception {
        Path dir = Files.createDirectories(cwd.resolve(name));
        Files.writeString(dir.resolve("addon.json"), Fixtures.manifest("netprobe", "1.4.0", "systemd_service", "netprobe"));
        Files.writeString(dir.resolve("netprobe"), "#!/bin/sh\nexec sleep 1000\n");
        Files.createDirectories(dir.resolve("share/probes"));
        Files.writeString(dir.resolve("share/probes/icmp.json"), "{\"ttl\":64}");
        Files.writeString(dir.resolve("share/helper.sh"), "#!/bin/sh\n");
        Files.setPosixFilePermissions(dir.resolve("share/helper.sh"), PosixFilePermissions.fromString("rwx------"));
        Files.writeString(dir.resolve("steward-netprobe.service"), "[Service]\nExecStart=@ADDON_HOME@/netprobe\n");
        return dir;
    }

    @Test
    void keygenKeysAreInterchangeableWithOpenssl() throws Exception {
        CommandResult o = command("keygen", "--out", "keys/release");
        assertEquals(0, o.exit(), o.stderr());
        Path priv = cwd.resolve("keys/release.key.pem");     // never the name a host trusts (<trust>/release.pem)
        Path pub = cwd.resolve("keys/release.pub.pem");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(priv)));
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(pub)));
        assertTrue(o.stdout().contains("by copying release.pub.pem to <trust>/release.pem"), o.stdout());
        // openssl reads the private key and derives the same public key
        assertEquals(Files.readString(pub), Fixtures.run(cwd, "openssl", "pkey", "-in", priv.toString(), "-pubout"));
        // a statement signed by Steward verifies with openssl
        Path stmt = cwd.resolve("stmt");
        Files.write(stmt, Ed25519.statement("netprobe", "1.4.0", "ab".repeat(32)));
        Files.write(cwd.resolve("sig.bin"), Ed25519.sign(Ed25519.readPrivate(Files.readString(priv)), Files.readAllBytes(stmt)));
        String verified = Fixtures.run(cwd, "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub.toString(), "-rawin",
                "-in", stmt.toString(), "-sigfile", "sig.bin");
        assertTrue(verified.contains("Signature Verified Successfully"), verified);
        // and one signed by openssl with the keygen key verifies with Steward
        byte[] sig = Base64.getDecoder().decode(Fixtures.sh(cwd,
                "openssl pkeyutl -sign -inkey keys/release.key.pem -rawin -in stmt | base64 -w0").strip());
        assertTrue(Ed25519.verify(Ed25519.readPublic(Files.readString(pub)), Files.readAllBytes(stmt), sig));

        CommandResult again = command("keygen", "--out", "keys/release.key.pem");
        assertEquals(1, again.exit());
        assertTrue(again.stderr().contains("already exists"), again.stderr());
    }

    @Test
    void opensslSignatureMadeAsProductShowsVerifies() throws Exception {
        Fixtures.run(cwd, "openssl", "genpkey", "-algorithm", "ed25519", "-out", "key.pem");
        Fixtures.sh(cwd, "openssl pkey -in key.pem -pubout -out " + host.trust.resolve("ops.pem"));
        byte[] tgz = Fixtures.Tar.addon("netprobe", "1.4.0").tgz();
        String sha = Fixtures.sha256(tgz);
        // exactly PRODUCT §3
        String signature = Fixtures.sh(cwd, "printf 'steward-artifact-v1\\n%s\\n%s\\n%s\\n' netprobe 1.4.0 " + sha
                + " > stmt; openssl pkeyutl -sign -inkey key.pem -rawin -in stmt | base64 -w0").strip();
        AddonRecord r = host.record("netprobe", "1.4.0", "sidecar", host.publish("n.tgz", tgz), sha, signature,
                Optional.empty(), Optional.of("netprobe"));
        DeliveryStager stager = host.stager(Map.of());
        try {
            StagedArtifact staged = stager.stage(r);
            assertEquals("ops", StageMetadata.read(staged.directory()).orElseThrow().key());
        } finally {
            stager.deactivate();
        }
        // an openssl-made private key also packs
        CommandResult packed = command("pack", folder("src").toString(), "--key", "key.pem", "--out", "out.tar.gz");
        assertEquals(0, packed.exit(), packed.stderr());
    }

    @Test
    void packIsDeterministicAndItsOutputStagesAndVerifies() throws Exception {
        assertEquals(0, command("keygen", "--out", "demo").exit());
        Files.copy(cwd.resolve("demo.pub.pem"), host.trust.resolve("demo.pem"));
        Path src = folder("src");
        CommandResult first = command("pack", "src", "--key", "demo.key.pem", "--out", "dist/a.tar.gz", "--json");
        assertEquals(0, first.exit(), first.stderr());

        // other mtimes, owners and modes of non-executables on disk: the same bytes
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                Files.setLastModifiedTime(p, FileTime.fromMillis(1_700_000_000_000L + p.toString().length()));
                Fixtures.run(cwd, "chown", "1234:4321", p.toString());
                if (Files.isRegularFile(p) && !p.getFileName().toString().endsWith(".sh")) {
                    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-rw----"));
                }
            }
        }
        CommandResult second = command("pack", "src", "--key", "demo.key.pem", "--out", "dist/b.tar.gz", "--json");
        assertEquals(0, second.exit(), second.stderr());
        assertArrayEquals(Files.readAllBytes(cwd.resolve("dist/a.tar.gz")), Files.readAllBytes(cwd.resolve("dist/b.tar.gz")));

        JsonObject json = JsonParser.parseString(first.stdout()).getAsJsonObject();
        byte[] bytes = Files.readAllBytes(cwd.resolve("dist/a.tar.gz"));
        assertEquals(Fixtures.sha256(bytes), json.get("sha256").getAsString());
        assertEquals("demo", json.get("key").getAsString());
        // fixed gzip header: deflate, no flags (no name), mtime 0
        assertArrayEquals(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0}, java.util.Arrays.copyOf(bytes, 8));
        String listing = Fixtures.run(cwd, "tar", "--numeric-owner", "-tvzf", "dist/a.tar.gz");
        assertEquals(List.of(
                "-rw-r--r-- 0/0 87 1970-01-01 00:00 addon.json",
                "-rwxr-xr-x 0/0 26 1970-01-01 00:00 netprobe",
                "drwxr-xr-x 0/0 0 1970-01-01 00:00 share/",
                "-rwxr-xr-x 0/0 10 1970-01-01 00:00 share/helper.sh",
                "drwxr-xr-x 0/0 0 1970-01-01 00:00 share/probes/",
                "-rw-r--r-- 0/0 10 1970-01-01 00:00 share/probes/icmp.json",
                "-rw-r--r-- 0/0 42 1970-01-01 00:00 steward-netprobe.service"),
                listing.lines().map(l -> l.replaceAll("\\s+", " ")).toList());

        // the assignment snippet is what the stager needs
        JsonObject a = json.getAsJsonObject("assignment");
        JsonObject art = a.getAsJsonObject("artifact");
        assertEquals("systemd_service", a.get("supervision").getAsString());
        assertEquals("pushed_artifact", a.get("delivery").getAsString());
        DeliveryStager stager = host.stager(Map.of());
        try {
            AddonRecord r = host.record("netprobe", "1.4.0", "systemd_service", art.get("url").getAsString(),
                    art.get("sha256").getAsString(), art.get("signature").getAsString(), Optional.empty(),
                    Optional.of(a.get("binary").getAsString()));
            Path dir = stager.stage(r).directory();
            assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("share/helper.sh"))));
        } finally {
            stager.deactivate();
        }

        String sha = json.get("sha256").getAsString();
        String sig = json.get("signature").getAsString();
        CommandResult ok = command("verify", "dist/a.tar.gz", "--id", "netprobe", "--version", "1.4.0", "--sha256", sha,
                "--signature", sig);
        assertEquals(0, ok.exit(), ok.stderr());
        assertTrue(ok.stdout().startsWith("ok: "), ok.stdout());
        assertTrue(ok.stdout().contains("signed by trusted key demo"), ok.stdout());

        CommandResult okJson = command("verify", "dist/a.tar.gz", "--id", "netprobe", "--version", "1.4.0", "--sha256", sha,
                "--signature", sig, "--key", "demo", "--json");
        assertEquals(0, okJson.exit(), okJson.stderr());
        assertTrue(JsonParser.parseString(okJson.stdout()).getAsJsonObject().get("ok").getAsBoolean());

        // --key takes a public key file too: checked against it alone, trusted or not
        Files.delete(host.trust.resolve("demo.pem"));
        CommandResult byFile = command("verify", "dist/a.tar.gz", "--id", "netprobe", "--version", "1.4.0", "--sha256", sha,
                "--signature", sig, "--key", "demo.pub.pem");
        assertEquals(0, byFile.exit(), byFile.stderr());
        assertTrue(byFile.stdout().contains("signed by trusted key demo"), byFile.stdout());
        CommandResult notAKey = command("verify", "dist/a.tar.gz", "--id", "netprobe", "--version", "1.4.0", "--sha256", sha,
                "--signature", sig, "--key", "demo.key.pem");
        assertEquals(2, notAKey.exit());
        assertTrue(notAKey.stderr().contains("is not an Ed25519 public key in PEM"), notAKey.stderr());
        Files.copy(cwd.resolve("demo.pub.pem"), host.trust.resolve("demo.pem"));

        CommandResult wrongVersion = command("verify", "dist/a.tar.gz", "--id", "netprobe", "--version", "1.5.0", "--sha256", sha,
                "--signature", sig);
        assertEquals(1, wrongVersion.exit());
        assertEquals("steward: add-on netprobe: verify: signature does not match any trusted key (tried: demo)",
                wrongVersion.stderr());

        CommandResult wrongSha = command("verify", "dist/a.tar.gz", "--id", "netprobe", "--version", "1.4.0", "--sha256",
                "0".repeat(64), "--signature", sig, "--json");
        assertEquals(1, wrongSha.exit());
        JsonObject refused = JsonParser.parseString(wrongSha.stdout()).getAsJsonObject();
        assertFalse(refused.get("ok").getAsBoolean());
        assertEquals("permanent", refused.get("disposition").getAsString());
        assertTrue(refused.get("error").getAsString().contains("digest mismatch"), wrongSha.stdout());

        CommandResult usage = command("verify", "dist/a.tar.gz", "--id", "netprobe");
        assertEquals(2, usage.exit());
        assertTrue(usage.stderr().contains("--version is required"), usage.stderr());
        Fixtures.assertNoLeftovers(host);
    }

    @Test
    void packRefusesWhatTheStagerWouldRefuse() throws Exception {
        assertEquals(0, command("keygen", "--out", "demo").exit());
        Path src = folder("src");
        Files.createSymbolicLink(src.resolve("share/link"), Path.of("/etc/passwd"));
        CommandResult link = command("pack", "src", "--key", "demo.key.pem", "--out", "x.tar.gz");
        assertEquals(1, link.exit());
        assertTrue(link.stderr().contains("share/link is a symbolic link"), link.stderr());
        Files.delete(src.resolve("share/link"));

        CommandResult mismatch = command("pack", "src", "--key", "demo.key.pem", "--out", "x.tar.gz", "--expect-id", "other");
        assertEquals(2, mismatch.exit());
        assertTrue(mismatch.stderr().contains("disagree"), mismatch.stderr());
        assertFalse(Files.exists(cwd.resolve("x.tar.gz")));

        Files.delete(src.resolve("netprobe"));
        CommandResult noBinary = command("pack", "src", "--key", "demo.key.pem", "--out", "x.tar.gz");
        assertEquals(1, noBinary.exit());
        assertTrue(noBinary.stderr().contains("declared binary \"netprobe\" is missing"), noBinary.stderr());

        CommandResult badKey = command("pack", "src", "--key", "src/addon.json", "--out", "x.tar.gz");
        assertEquals(2, badKey.exit());
        assertTrue(badKey.stderr().contains("is not an Ed25519 private key"), badKey.stderr());

        assertEquals(2, command("pack", "--key", "demo.key.pem").exit());
        assertEquals(2, command("keygen", "--bogus").exit());
    }

    @Test
    void otherCommandsAreLeftToOtherBundles() throws Exception {
        Fixtures.Context ctx = new Fixtures.Context(Map.of("steward.command", "apply"));
        DeliveryCommands commands = new DeliveryCommands(ctx.context, Fixtures.config(Map.of()));
        commands.deactivate();
        assertFalse(ctx.registered.isDone(), "nothing published for a command of another bundle");
    }
}
