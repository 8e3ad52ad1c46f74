package io.steward.updater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.steward.privileged.protocol.Protocol;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Request parsing, the ledger, the configuration and the host checks, without systemd. */
class HandlerTest {
    @TempDir
    Path dir;

    private static String code(String line) {
        try {
            Handler.parse(line);
            return "accepted";
        } catch (Refusal r) {
            return r.code() + (r.permanent() ? "/permanent" : "/transient");
        }
    }

    @Test
    void requestsAreParsedStrictly() throws Refusal {
        assertEquals("accepted", code("{\"protocol\":1,\"op\":\"version\"}"));
        assertEquals("accepted", code("{\"protocol\":1,\"op\":\"release\",\"id\":\"x\"}"));
        assertEquals("malformed_request/permanent", code("{\"protocol\":1,\"op\":\"release\"}"), "a missing field");
        assertEquals("malformed_request/permanent", code("{\"protocol\":1,\"op\":\"release\",\"id\":\"x\",\"x\":1}"));
        assertEquals("malformed_request/permanent", code("{\"protocol\":\"1\",\"op\":\"version\"}"));
        assertEquals("malformed_request/permanent", code("{\"protocol\":1,\"op\":7}"));
        assertEquals("malformed_request/permanent", code("{\"protocol\":1,\"op\":\"version\"} trailing"));
        assertEquals("malformed_request/permanent", code("{'protocol':1,'op':'version'}"), "strict JSON only");
        assertEquals("malformed_request/permanent", code("[".repeat(5000)), "no deep nesting");
        assertEquals("unsupported_protocol/transient", code("{\"protocol\":2,\"op\":\"version\"}"));
        assertEquals("unknown_op/transient", code("{\"protocol\":1,\"op\":\"exec\"}"));
        JsonObject o = Handler.parse("{\"protocol\":1,\"op\":\"materialize\",\"id\":\"x\",\"version\":\"1\","
                + "\"sha256\":\"" + "a".repeat(64) + "\",\"signature\":\"\"}");
        assertEquals("materialize", o.get("op").getAsString(), "key is optional");
    }

    @Test
    void artifactArgumentsAreValidated() {
        io.steward.supervision.AddonId id = new io.steward.supervision.AddonId("x");
        String sha = "a".repeat(64);
        new Updater.Artifact(id, "1.0+b", sha, "AAAA", Optional.of("k-1"));
        assertThrows(IllegalArgumentException.class, () -> new Updater.Artifact(id, "../1", sha, "", Optional.empty()));
        assertThrows(IllegalArgumentException.class, () -> new Updater.Artifact(id, "1", sha.toUpperCase(), "",
                Optional.empty()));
        assertThrows(IllegalArgumentException.class, () -> new Updater.Artifact(id, "1", sha, "a\nb", Optional.empty()));
        assertThrows(IllegalArgumentException.class, () -> new Updater.Artifact(id, "1", sha, "", Optional.of("../k")));
    }

    @Test
    void theLedgerIsCanonicalAtomicAndNeverGuessed() throws IOException {
        Ledger l = Ledger.open(dir);
        assertEquals("{\"version\":1,\"addons\":{}}\n", Files.readString(dir.resolve(Ledger.FILE)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(Ledger.FILE))));
        io.steward.supervision.AddonId a = new io.steward.supervision.AddonId("a");
        l.put(a, Set.of("steward-a.timer", "steward-a.service"));
        assertEquals("{\"version\":1,\"addons\":{\"a\":{\"units\":[\"steward-a.service\",\"steward-a.timer\"]}}}\n",
                Files.readString(dir.resolve(Ledger.FILE)));
        assertEquals(Optional.of("a"), l.owner("steward-a.timer"));
        assertEquals(Set.of("steward-a.service", "steward-a.timer"), Ledger.open(dir).units(a), "read back");
        l.put(a, Set.of());
        assertEquals("{\"version\":1,\"addons\":{}}\n", Files.readString(dir.resolve(Ledger.FILE)));
        Files.writeString(dir.resolve(Ledger.FILE), "{\"addons\":{\"../x\":{\"units\":[]}}}");
        assertThrows(IOException.class, () -> Ledger.open(dir));
        Files.writeString(dir.resolve(Ledger.FILE), "garbage");
        assertThrows(IOException.class, () -> Ledger.open(dir));
    }

    /**
     * Issue 15's crash campaign: an updater killed after it rewrote a unit and before it recorded the new digest
     * refused the unit forever as "changed outside Steward". The intent recorded before the write drops the digests
     * of the units it rewrites (trusted until the new ones are recorded); a unit not being rewritten keeps its own.
     */
    @Test
    void anInstallIntentDropsTheDigestsOfTheUnitsItRewritesAndOnlyThose() throws Exception {
        Path unitDir = Files.createDirectories(dir.resolve("units"));
        io.steward.supervision.AddonId a = new io.steward.supervision.AddonId("a");
        Files.writeString(unitDir.resolve("steward-a.service"), "[Service]\nExecStart=/v1\n");
        Files.writeString(unitDir.resolve("steward-a.timer"), "[Timer]\nOnActiveSec=1h\n");
        UnitFiles files = new UnitFiles(unitDir);
        Ledger.Entry installed = Ledger.Entry.EMPTY.withUnits(Set.of("steward-a.service", "steward-a.timer"))
                .withDigests(files.digests(a, List.of("steward-a.service", "steward-a.timer")));
        Ledger.Entry intent = installed.withoutDigests(List.of("steward-a.service"));
        // the crash: the new bytes are on disk, the ledger still holds the intent
        Files.writeString(unitDir.resolve("steward-a.service"), "[Service]\nExecStart=/v2\n");
        files.checkOverwrite(a, intent, List.of("steward-a.service"), "install_units");    // trusted as its own
        org.junit.jupiter.api.Assertions.assertThrows(io.steward.supervision.spi.SupervisionException.class,
                () -> files.checkOverwrite(a, installed, List.of("steward-a.service"), "install_units"),
                "without the intent, the updater's own write reads as a change by someone else");
        Files.writeString(unitDir.resolve("steward-a.timer"), "[Timer]\nOnActiveSec=2h\n");
        org.junit.jupiter.api.Assertions.assertThrows(io.steward.supervision.spi.SupervisionException.class,
                () -> files.checkUnchanged(a, intent, List.of("steward-a.timer"), "uninstall_units"),
                "a unit the install does not rewrite is still protected");
    }

    @Test
    void theLedgerKeepsDigestsOfOwnedUnitsAndTheHighestVersion() throws IOException {
        Ledger l = Ledger.open(dir);
        io.steward.supervision.AddonId a = new io.steward.supervision.AddonId("a");
        String d = "b".repeat(64);
        l.put(a, l.entry(a).withUnits(Set.of("steward-a.service")).withDigests(java.util.Map.of("steward-a.service", d))
                .raised("2.0"));
        l.put(a, l.entry(a).raised("1.9"));
        assertEquals("{\"version\":1,\"addons\":{\"a\":{\"units\":[\"steward-a.service\"],\"sha256\":"
                + "{\"steward-a.service\":\"" + d + "\"},\"highest\":\"2.0\"}}}\n", Files.readString(dir.resolve(Ledger.FILE)));
        Ledger back = Ledger.open(dir);
        assertEquals(Optional.of("2.0"), back.highest(a));
        assertEquals(d, back.entry(a).digests().get("steward-a.service"));
        back.put(a, Set.of());     // the units go, with their digests; the floor stays
        assertEquals("{\"version\":1,\"addons\":{\"a\":{\"units\":[],\"highest\":\"2.0\"}}}\n",
                Files.readString(dir.resolve(Ledger.FILE)));
        assertEquals(Optional.of("2.0"), Ledger.open(dir).highest(a));
    }

    @Test
    void aVerificationTheFileSystemCannotHoldIsRefusedBeforeAnythingIsWritten() throws Exception {
        Path passwd = Files.writeString(dir.resolve("passwd"), "steward:x:999:995::/:/bin/false\n");
        Path group = Files.writeString(dir.resolve("group"), "steward:x:995:\n");
        Path priv = Files.createDirectories(dir.resolve("priv"));
        Path state = Files.createDirectories(dir.resolve("state"));
        UpdaterConfig c = UpdaterConfig.parse(List.of("--data", dir.resolve("data").toString(), "--privileged-root",
                priv.toString(), "--trust", Files.createDirectories(dir.resolve("trust")).toString(), "--state",
                state.toString(), "--allow-unsigned", "x", "--max-extract-bytes", String.valueOf(Long.MAX_VALUE / 2)),
                new Accounts(passwd, group));
        Updater u = new Updater(c, null, null, Ledger.open(state));
        io.steward.supervision.spi.SupervisionException e = assertThrows(
                io.steward.supervision.spi.SupervisionException.class, () -> u.materialize(new Updater.Artifact(
                        new io.steward.supervision.AddonId("x"), "1", "a".repeat(64), "", Optional.empty())));
        assertEquals(io.steward.supervision.spi.SupervisionException.Disposition.TRANSIENT, e.disposition());
        assertTrue(e.getMessage().startsWith("add-on x: materialize refused: the file system of " + priv + " has ")
                && e.getMessage().endsWith("one request may extract (--max-extract-bytes)"), e.getMessage());
        try (var listing = Files.list(priv)) {
            assertEquals(List.of(), listing.toList(), "no <priv>/x/ left behind");
        }
    }

    @Test
    void versionsCompareByNumericSegmentsThenAsStrings() {
        assertTrue(VersionOrder.compare("1.10", "1.9") > 0);
        assertTrue(VersionOrder.compare("2", "10") < 0);
        assertTrue(VersionOrder.compare("1.0", "1.0.1") < 0);
        assertTrue(VersionOrder.compare("1.0.0", "1.0") > 0);
        assertEquals(0, VersionOrder.compare("1.007", "1.7"));
        assertEquals(0, VersionOrder.compare("2.0", "2.0"));
        assertTrue(VersionOrder.compare("1.0-rc1", "1.0") > 0, "not semver: a non-numeric segment compares as a string");
        assertTrue(VersionOrder.compare("1.b", "1.a") > 0);
        assertTrue(VersionOrder.compare("1.a", "1.1") > 0, "'a' > '1' as strings");
        assertTrue(VersionOrder.compare("99999999999999999999", "99999999999999999998") > 0);
    }

    @Test
    void optionsAccountsAndHostChecks() throws IOException {
        Path passwd = Files.writeString(dir.resolve("passwd"), "root:x:0:0::/root:/bin/sh\nsteward:x:999:995::/:/bin/false\n");
        Path group = Files.writeString(dir.resolve("group"), "root:x:0:\nsteward:x:995:\nops:x:1200:\n");
        Accounts accounts = new Accounts(passwd, group);
        Path trust = Files.createDirectories(dir.resolve("trust"));
        UpdaterConfig c = UpdaterConfig.parse(List.of("--agent-user", "steward", "--data", dir.resolve("data").toString(),
                "--privileged-root=" + dir.resolve("priv"), "--unit-dir", dir.resolve("units").toString(), "--trust",
                trust.toString(), "--state", dir.resolve("state").toString(), "--read-timeout-millis", "250"), accounts);
        assertEquals(999, c.agentUid());
        assertEquals(995, c.agentGid());
        assertEquals(Duration.ofMillis(250), c.readTimeout());
        assertEquals(1L << 30, c.maxExtractBytes());
        assertEquals(256L << 20, c.maxEntryBytes());
        assertEquals(Set.of(), c.allowRollback());
        UpdaterConfig limits = UpdaterConfig.parse(List.of("--agent-user", "999", "--allow-rollback", "x",
                "--allow-rollback=y", "--max-extract-bytes", "1000", "--max-entry-bytes", "10"), accounts);
        assertEquals(Set.of("x", "y"), limits.allowRollback());
        assertEquals(1000, limits.maxExtractBytes());
        assertEquals(10, limits.maxEntryBytes());
        assertThrows(IllegalArgumentException.class, () -> UpdaterConfig.parse(List.of("--agent-user", "999",
                "--allow-rollback", "../x"), accounts));
        assertEquals("rw-rw----", PosixFilePermissions.toString(c.socketMode()));
        assertEquals(1200, UpdaterConfig.parse(List.of("--agent-user", "999", "--agent-group", "ops"), accounts).agentGid());
        assertThrows(IllegalArgumentException.class, () -> UpdaterConfig.parse(List.of("--exec", "x"), accounts));
        assertThrows(IOException.class, () -> UpdaterConfig.parse(List.of("--agent-user", "mallory"), accounts));

        Files.createDirectories(dir.resolve("units"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        c.checkHost();       // this test runs as root: every directory is root's
        assertTrue(Files.isDirectory(dir.resolve("priv")));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("state"))));
        Files.setPosixFilePermissions(trust, PosixFilePermissions.fromString("rwxrwxrwx"));
        IOException writable = assertThrows(IOException.class, c::checkHost);
        assertTrue(writable.getMessage().contains("writable by group or others"), writable.getMessage());
        Files.setPosixFilePermissions(trust, PosixFilePermissions.fromString("rwxr-xr-x"));
        UpdaterConfig overlapping = UpdaterConfig.parse(List.of("--data", dir.toString(), "--privileged-root",
                dir.resolve("priv").toString(), "--agent-user", "0"), accounts);
        IOException overlap = assertThrows(IOException.class, overlapping::checkHost);
        assertTrue(overlap.getMessage().contains("overlaps"), overlap.getMessage());
    }

    @Test
    void theEnvironmentAllowlistIsSmall() {
        assertEquals(Set.of("PATH", "LANG", "LC_ALL", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"), Main.ENVIRONMENT);
        assertEquals(6, Protocol.OPS.size());
    }
}
