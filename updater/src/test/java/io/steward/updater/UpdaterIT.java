package io.steward.updater;

import static io.steward.updater.BoundaryHarness.AGENT;
import static io.steward.updater.BoundaryHarness.cmd;
import static io.steward.updater.BoundaryHarness.raw;
import static io.steward.updater.BoundaryHarness.steps;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.steward.privileged.client.UpdaterClient;
import io.steward.supervision.spi.SupervisionException;
import io.steward.systemd.ActiveState;
import io.steward.systemd.UnitState;
import io.steward.updater.BoundaryHarness.Published;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.Signature;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Privilege separation end to end, against a real systemd (tools/systemd-sandbox.sh), on the
 * {@link BoundaryHarness#startFromHostileCaller} fixture: the updater runs as root, started through
 * {@code bin/steward-updater} from a hostile environment; the agent runs in a child JVM as the unprivileged user
 * {@code steward} (setpriv), with fake {@code systemctl}, {@code setcap} and friends first on its PATH (and the
 * updater's caller's PATH): each fake leaves a marker, and no marker may ever appear. Every refusal is checked to
 * change nothing: the harness's {@link BoundaryHarness#snapshot} (the unit directory, the privileged tree and the
 * updater's ledger among it) is compared before and after.
 */
class UpdaterIT {
    /** The one add-on id the updater allows to roll back ({@code --allow-rollback}). */
    private static final String ROLLBACK_OK = newId();

    private static BoundaryHarness h;

    // ---- fixture -------------------------------------------------------------------------------------------

    @BeforeAll
    static void start() throws Exception {
        h = BoundaryHarness.startFromHostileCaller(ROLLBACK_OK);
        // what the hostile caller could have steered, checked before any test
        assertEquals("srw-rw----", BoundaryHarness.mode(h.socket), "socket mode");
        assertEquals("drwx------", BoundaryHarness.mode(h.root.resolve("rt")), "the JVM's temporary directory is --runtime-dir");
        assertFalse(h.updaterLog().lines().anyMatch(l -> l.startsWith("+")), "SHELLOPTS=xtrace did not reach the launcher:\n"
                + h.updaterLog());
        assertNoFakeToolRan();
    }

    @AfterAll
    static void stop() throws Exception {
        if (h == null) {
            return;
        }
        try {
            h.stopAgent();
            assertNoFakeToolRan();
        } finally {
            h.close();
        }
    }

    @AfterEach
    void noFakeToolRan() throws IOException {
        assertNoFakeToolRan();
    }

    // ---- artifacts -----------------------------------------------------------------------------------------

    /** An artifact whose manifest declares the .service and .timer files it ships, and no capabilities. */
    private static Published publish(String id, String version, String kind, Map<String, String> files) throws Exception {
        List<String> units = files.keySet().stream().filter(n -> n.endsWith(".service") || n.endsWith(".timer")).sorted()
                .toList();
        return publish(id, version, kind, files, units, List.of());
    }

    private static Published publish(String id, String version, String kind, Map<String, String> files,
                                     List<String> units, List<String> capabilities) throws Exception {
        return h.publish(id, version, kind, files, units, capabilities);
    }

    private static String service(String description) {
        return "[Unit]\nDescription=" + description + "\n[Service]\nExecStart=@ADDON_HOME@/run.sh\n"
                + "[Install]\nWantedBy=multi-user.target\n";
    }

    private static final String RUNS = "#!/bin/sh\nexec sleep 600\n";

    private static String newId() {
        return "u" + UUID.randomUUID().toString().substring(0, 8);
    }

    // ---- assertions ------------------------------------------------------------------------------------------

    private static void assertRefused(JsonObject answer, String expected) {
        assertFalse(answer.get("ok").getAsBoolean(), answer.toString());
        String error = answer.has("error") ? answer.get("error").getAsString() : answer.toString();
        assertTrue(error.contains(expected), "expected \"" + expected + "\" in: " + error);
    }

    private static void assertRawRefused(JsonObject answer, String code, String disposition) {
        assertTrue(answer.get("ok").getAsBoolean(), answer.toString());
        JsonObject a = answer.getAsJsonObject("answer");
        assertFalse(a.get("ok").getAsBoolean(), a.toString());
        assertEquals(code, a.getAsJsonObject("error").get("code").getAsString(), a.toString());
        assertEquals(disposition, a.getAsJsonObject("error").get("disposition").getAsString(), a.toString());
    }

    private static void assertNoFakeToolRan() throws IOException {
        try (Stream<Path> s = Files.list(h.markers)) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).toList(),
                    "a program was resolved through a caller's PATH");
        }
    }

    // ---- the lifecycles -------------------------------------------------------------------------------------------

    @Test
    void aServiceIsInstalledUpgradedAndRemovedThroughTheUpdater() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        Published v1 = publish(id, "1.0", "systemd_service", Map.of(name, service("v1"), "run.sh", RUNS));
        Published v2 = publish(id, "2.0", "systemd_service", Map.of(name, service("v2"), "run.sh", RUNS, "extra", "2"));

        JsonObject s1 = h.send(v1.command("apply"));
        assertTrue(s1.get("ok").getAsBoolean(), s1.toString());
        assertEquals("READY", s1.get("state").getAsString(), s1.toString());
        assertEquals("1.0", s1.get("version").getAsString());
        UnitState u1 = h.systemd.unit(name);
        assertEquals(ActiveState.ACTIVE, u1.activeState());
        assertTrue(u1.enabled());
        Path privCurrent = h.priv.resolve(id).resolve("current");
        assertTrue(Files.readString(h.unit(name)).contains("ExecStart=" + h.priv.resolve(id).resolve("versions")
                .resolve(v1.sha256()) + "/run.sh"), Files.readString(h.unit(name)));     // the immutable copy, not current
        assertEquals(h.priv.resolve(id).resolve("versions").resolve(v1.sha256()), privCurrent.toRealPath());
        assertEquals(0, Files.getAttribute(privCurrent.resolve("run.sh"), "unix:uid"), "the copy units run is root's");
        assertTrue(Files.isRegularFile(h.kept(v1)), "the agent kept the verified artifact at the fixed path");
        assertEquals(List.of(name), h.ledgerUnits(id), h.ledger());

        JsonObject s2 = h.send(v2.command("apply"));
        assertEquals("READY", s2.get("state").getAsString(), s2.toString());
        assertEquals("2.0", s2.get("version").getAsString());
        UnitState u2 = h.systemd.unit(name);
        assertNotEquals(u1.mainPid(), u2.mainPid(), "restarted on the new version");
        assertTrue(Files.readString(h.unit(name)).contains("Description=v2"));
        assertEquals("2", Files.readString(privCurrent.resolve("extra")));
        assertEquals(h.priv.resolve(id).resolve("versions").resolve(v2.sha256()), privCurrent.toRealPath());

        JsonObject removed = h.send(v2.command("remove"));
        assertTrue(removed.get("ok").getAsBoolean(), removed.toString());
        assertFalse(Files.exists(h.unit(name)));
        assertEquals("not-found", h.systemd.unit(name).loadState());
        assertFalse(Files.exists(h.priv.resolve(id)), "the root-owned copy is gone with the add-on");
        assertEquals(List.of(), h.ledgerUnits(id), h.ledger());
    }

    @Test
    void aTimerIsInstalledUpgradedAndRemovedThroughTheUpdater() throws Exception {
        String id = newId();
        String timer = "steward-" + id + ".timer";
        String svc = "steward-" + id + ".service";
        String timerText = "[Timer]\nOnCalendar=*-*-* 03:00:00\n[Install]\nWantedBy=timers.target\n";
        String svcText = "[Service]\nType=oneshot\nExecStart=@ADDON_HOME@/run.sh\n";
        Published v1 = publish(id, "1", "systemd_timer", Map.of(timer, timerText, svc, svcText, "run.sh", "#!/bin/sh\nexit 0\n"));
        Published v2 = publish(id, "2", "systemd_timer", Map.of(timer, timerText.replace("03:00", "04:00"), svc, svcText,
                "run.sh", "#!/bin/sh\nexit 0\n"));

        JsonObject s1 = h.send(v1.command("apply"));
        assertEquals("READY", s1.get("state").getAsString(), s1.toString());
        UnitState t1 = h.systemd.unit(timer);
        assertTrue(t1.active() && t1.enabled(), t1.describe());
        assertTrue(t1.nextElapse().isPresent(), "scheduled");
        assertEquals(List.of(svc, timer), h.ledgerUnits(id), h.ledger());

        JsonObject s2 = h.send(v2.command("apply"));
        assertEquals("READY", s2.get("state").getAsString(), s2.toString());
        assertEquals("2", s2.get("version").getAsString());
        assertTrue(Files.readString(h.unit(timer)).contains("04:00"));
        assertTrue(h.systemd.unit(timer).active());

        assertTrue(h.send(v2.command("remove")).get("ok").getAsBoolean());
        assertFalse(Files.exists(h.unit(timer)));
        assertFalse(Files.exists(h.unit(svc)));
        assertEquals("not-found", h.systemd.unit(timer).loadState());
        assertFalse(Files.exists(h.priv.resolve(id)));
        assertEquals(List.of(), h.ledgerUnits(id), h.ledger());
    }

    @Test
    void capabilitiesAreGrantedOnTheRootOwnedCopyOnly() throws Exception {
        String id = newId();
        Published p = publish(id, "1.0", "sidecar", Map.of("run.sh", RUNS, "tools/cat", RUNS), List.of(),
                List.of("cap_net_raw"));
        Map<String, String> before = h.snapshot();
        // bound to the signed manifest: its binary, its capabilities (hole #4, R12b, R12j)
        JsonObject notTheBinary = p.command("grant");
        notTheBinary.addProperty("grant_binary", "tools/cat");
        notTheBinary.add("caps", JsonParser.parseString("[\"cap_net_raw\"]"));
        assertRefused(h.send(notTheBinary), "add-on " + id + ": capabilities refused: tools/cat is not the "
                + "manifest's binary (run.sh)");
        assertEquals(before, h.snapshot(), "nothing granted, no copy left");
        JsonObject manifestFile = notTheBinary.deepCopy();
        manifestFile.addProperty("grant_binary", "addon.json");
        assertRefused(h.send(manifestFile), "addon.json is not the manifest's binary");
        JsonObject undeclared = p.command("grant");
        undeclared.add("caps", JsonParser.parseString("[\"cap_net_raw\",\"cap_dac_read_search\"]"));
        assertRefused(h.send(undeclared), "capabilities refused: cap_dac_read_search is not among the manifest's "
                + "capabilities [cap_net_raw]");
        assertEquals(before, h.snapshot());
        String other = newId();
        Published service = publish(other, "1.0", "systemd_service", Map.of("run.sh", RUNS), List.of(),
                List.of("cap_net_raw"));
        JsonObject wrongKind = service.command("grant");
        wrongKind.add("caps", JsonParser.parseString("[\"cap_net_raw\"]"));
        assertRefused(h.send(wrongKind), "the manifest's supervision systemd_service does not use capabilities");
        assertEquals(before, h.snapshot(), "nothing of either add-on under the privileged root");

        JsonObject outside = p.command("grant");
        outside.addProperty("binary", "run.sh");
        outside.add("caps", JsonParser.parseString("[\"cap_sys_admin\"]"));
        assertRefused(h.send(outside), "outside the allowed set");
        assertEquals(before, h.snapshot(), "a capability outside the allowlist changes nothing");

        JsonObject grant = p.command("grant");
        grant.add("caps", JsonParser.parseString("[\"cap_net_raw\"]"));
        JsonObject granted = h.send(grant);
        assertTrue(granted.get("ok").getAsBoolean(), granted.toString());
        Path program = Path.of(granted.get("path").getAsString());
        assertEquals(h.priv.resolve(id).resolve("versions").resolve(p.sha256()).resolve("run.sh"), program);
        assertEquals(0, Files.getAttribute(program, "unix:uid"));
        assertEquals("-rwxr-x---", BoundaryHarness.mode(program), "a capability-bearing file no other local user can execute");
        assertEquals((int) h.user.gid(), Files.getAttribute(program, "unix:gid"),
                "the agent's group (--agent-group) executes it");
        String getcap = BoundaryHarness.run("/usr/sbin/getcap", program.toString());
        assertTrue(getcap.contains("cap_net_raw") && getcap.contains("ep"), getcap);
        Path staged = h.data.resolve("addons").resolve(id).resolve("versions/1.0/run.sh");
        assertEquals("", BoundaryHarness.run("/usr/sbin/getcap", staged.toString()).trim(), "the agent's own copy gets nothing");

        assertTrue(h.send(cmd("release", "id", id)).get("ok").getAsBoolean());
        assertFalse(Files.exists(h.priv.resolve(id)));
        assertTrue(h.send(cmd("release", "id", id)).get("ok").getAsBoolean(), "release is idempotent");

        // materialize alone: re-verified from the kept artifact, current swapped to the root-owned copy
        JsonObject m = h.send(raw("{\"protocol\":1,\"op\":\"materialize\",\"id\":\"" + id + "\",\"version\":"
                + "\"1.0\",\"sha256\":\"" + p.sha256() + "\",\"signature\":\"" + p.signature() + "\"}"))
                .getAsJsonObject("answer");
        assertTrue(m.get("ok").getAsBoolean(), m.toString());
        assertEquals(h.priv.resolve(id).resolve("versions").resolve(p.sha256()).toString(), m.get("directory").getAsString());
        assertEquals(Path.of(m.get("directory").getAsString()), h.priv.resolve(id).resolve("current").toRealPath());
        assertTrue(h.send(cmd("release", "id", id)).get("ok").getAsBoolean());
        assertFalse(Files.exists(h.priv.resolve(id)));
    }

    // ---- refusals: nothing changes -------------------------------------------------------------------------------

    @Test
    void uninstallingAForeignUnitIsRefusedAndChangesNothing() throws Exception {
        String id = newId();
        Files.writeString(h.unit("ssh.service"), "[Service]\nExecStart=/bin/true\n");
        Path byHand = h.unit("steward-" + id + "-byhand.service");
        Files.writeString(byHand, "[Service]\nExecStart=/bin/true\n");
        try {
            Map<String, String> before = h.snapshot();
            assertRefused(h.send(cmd("uninstall", "id", id, "units", List.of("steward-" + id + ".service",
                    "ssh.service"), "release", false)), "ssh.service\" is outside the convention");
            assertRefused(h.send(cmd("uninstall", "id", id, "units", List.of("steward-other.service"),
                    "release", false)), "outside the convention");
            assertEquals(before, h.snapshot());
            // in the convention but not installed by the updater: skipped, not touched
            JsonObject skipped = h.send(cmd("uninstall", "id", id, "units", List.of(byHand.getFileName().toString()),
                    "release", true));
            assertTrue(skipped.get("ok").getAsBoolean(), skipped.toString());
            assertEquals(before, h.snapshot());
        } finally {
            Files.deleteIfExists(h.unit("ssh.service"));
            Files.deleteIfExists(byHand);
        }
    }

    @Test
    void installingAUnitOutsideTheConventionIsRefusedAndChangesNothing() throws Exception {
        String id = newId();
        Published p = publish(id, "1.0", "systemd_service", Map.of("steward-" + id + ".service", service("ok"),
                "evil.service", service("evil"), "run.sh", RUNS));
        assertTrue(h.send(p.command("stage")).get("ok").getAsBoolean());
        Map<String, String> before = h.snapshot();
        JsonObject install = p.command("install");
        install.add("units", JsonParser.parseString("[\"evil.service\"]"));
        install.addProperty("primary", "evil.service");
        assertRefused(h.send(install), "\"evil.service\" is outside the convention");
        String request = "{\"protocol\":1,\"op\":\"install_units\",\"id\":\"" + id + "\",\"version\":\"1.0\",\"sha256\":\""
                + p.sha256() + "\",\"signature\":\"" + p.signature() + "\",\"units\":[\"steward-" + id
                + ".service\",\"ssh.service\"],\"primary\":\"steward-" + id + ".service\",\"resources\":{},"
                + "\"restart\":false,\"job_timeout_ms\":30000}";
        assertRawRefused(h.send(raw(request)), "refused", "permanent");
        assertEquals(before, h.snapshot());
    }

    @Test
    void unitBytesTamperedInTheAgentsTreeAreNotWhatGetsInstalled() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        Published p = publish(id, "1.0", "systemd_service", Map.of(name, service("verified"), "run.sh", RUNS));
        JsonObject staged = h.send(p.command("stage"));
        Path dir = Path.of(staged.get("directory").getAsString());
        JsonObject install = p.command("install");
        install.add("units", JsonParser.parseString("[\"" + name + "\"]"));
        install.addProperty("primary", name);
        // after the agent's verification, its own tree is changed (by the agent, or whoever got its uid)
        JsonObject tampered = install.deepCopy();
        tampered.add("after_stage", steps(
                cmd("write", "path", dir.resolve(name), "content",
                        "[Service]\nDescription=TAMPERED\nExecStart=/usr/bin/touch /tmp/pwned\n"),
                cmd("write", "path", dir.resolve("run.sh"), "content", "#!/bin/sh\ntouch /tmp/pwned\n")));
        JsonObject done = h.send(tampered);
        assertTrue(done.get("ok").getAsBoolean(), done.toString());
        String installed = Files.readString(h.unit(name));
        assertTrue(installed.contains("Description=verified") && !installed.contains("TAMPERED"), installed);
        assertEquals(RUNS, Files.readString(h.priv.resolve(id).resolve("current/run.sh")), "the verified program");
        assertTrue(h.send(cmd("uninstall", "id", id, "units", List.of(name), "release", true)).get("ok").getAsBoolean());
        assertFalse(Files.exists(h.unit(name)));
        assertFalse(Files.exists(h.priv.resolve(id)));

        // the kept artifact itself changed: its digest no longer matches, refused, nothing changed
        Map<String, String> before = h.snapshot();
        JsonObject changedArtifact = install.deepCopy();
        changedArtifact.add("after_stage", steps(cmd("append", "path", h.kept(p))));
        assertRefused(h.send(changedArtifact), "digest mismatch");
        assertEquals(before, h.snapshot());
    }

    @Test
    void aSymlinkSwappedIntoTheStagingPathIsNotFollowed() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        Published p = publish(id, "1.0", "systemd_service", Map.of(name, service("x"), "run.sh", RUNS));
        assertTrue(h.send(p.command("stage")).get("ok").getAsBoolean());
        JsonObject install = p.command("install");
        install.add("units", JsonParser.parseString("[\"" + name + "\"]"));
        install.addProperty("primary", name);
        Map<String, String> before = h.snapshot();

        // the file, swapped after the agent's check for a link to the very same (valid) bytes: still refused
        Path file = h.kept(p);
        JsonObject fileSwapped = install.deepCopy();
        fileSwapped.add("after_stage", steps(cmd("symlink", "link", file, "target", p.file())));
        assertRefused(h.send(fileSwapped), "does not follow links");
        assertEquals(before, h.snapshot());
        assertTrue(h.send(cmd("undo-symlink", "link", file)).get("ok").getAsBoolean());

        // a directory on the way: artifacts/ swapped for a link to a directory holding the same file
        Path elsewhere = h.data.resolve("elsewhere-" + id);
        assertTrue(h.send(cmd("mkdir", "path", elsewhere)).get("ok").getAsBoolean());
        assertTrue(h.send(cmd("copy", "from", file, "to", elsewhere.resolve(file.getFileName()))).get("ok").getAsBoolean());
        JsonObject dirSwapped = install.deepCopy();
        dirSwapped.add("after_stage", steps(cmd("symlink", "link", file.getParent(), "target", elsewhere)));
        assertRefused(h.send(dirSwapped), "without following links");
        assertEquals(before, h.snapshot());
        assertTrue(h.send(cmd("undo-symlink", "link", file.getParent())).get("ok").getAsBoolean());

        // put back, the same request goes through
        JsonObject done = h.send(install);
        assertTrue(done.get("ok").getAsBoolean(), done.toString());
        assertTrue(h.send(cmd("uninstall", "id", id, "units", List.of(name), "release", true)).get("ok").getAsBoolean());
    }

    @Test
    void aPeerThatIsNotTheAgentIsRefused() throws Exception {
        Map<String, String> before = h.snapshot();
        // root itself (this JVM): not the agent
        SupervisionException root = org.junit.jupiter.api.Assertions.assertThrows(SupervisionException.class,
                () -> new UpdaterClient(h.socket).release(new io.steward.supervision.AddonId("x")));
        assertTrue(root.getMessage().contains("refuses this agent") && root.getMessage().contains("uid 0"), root.getMessage());
        // another uid that has the agent's group (so the socket's mode lets it connect)
        try (BoundaryHarness.Agent nobody = h.startAgent("nobody", AGENT)) {
            assertRawRefused(nobody.send(raw("{\"protocol\":1,\"op\":\"release\",\"id\":\"x\"}")), "forbidden",
                    "transient");
        }
        assertTrue(h.updaterLog().contains("Refused a connection from uid 65534"), h.updaterLog());
        assertEquals(before, h.snapshot());
    }

    @Test
    void oversizedMalformedAndTraversingRequestsAreRefused() throws Exception {
        Map<String, String> before = h.snapshot();
        JsonObject big = raw("x");
        big.addProperty("repeat", 100_000);
        assertRawRefused(h.send(big), "request_too_large", "permanent");
        JsonObject slow = raw("{\"protocol\":1,");
        slow.addProperty("hold", true);
        assertRawRefused(h.send(slow), "read_timeout", "transient");
        assertRawRefused(h.send(raw("not json")), "malformed_request", "permanent");
        assertRawRefused(h.send(raw("[1,2]")), "malformed_request", "permanent");
        assertRawRefused(h.send(raw("{\"op\":\"version\"}")), "malformed_request", "permanent");
        assertRawRefused(h.send(raw("{\"protocol\":1,\"op\":\"release\",\"id\":5}")), "malformed_request", "permanent");
        assertRawRefused(h.send(raw("{\"protocol\":1,\"op\":\"release\",\"id\":\"x\",\"path\":\"/etc\"}")),
                "malformed_request", "permanent");
        assertRawRefused(h.send(raw("{\"protocol\":1,\"op\":\"chmod\"}")), "unknown_op", "transient");
        assertRawRefused(h.send(raw("{\"protocol\":2,\"op\":\"version\"}")), "unsupported_protocol", "transient");
        String sha = "a".repeat(64);
        for (String id : List.of("..", "../x", "x/../../etc", "")) {
            assertRawRefused(h.send(raw("{\"protocol\":1,\"op\":\"release\",\"id\":\"" + id + "\"}")),
                    "invalid_argument", "permanent");
            assertRawRefused(h.send(raw("{\"protocol\":1,\"op\":\"materialize\",\"id\":\"" + id + "\",\"version\":"
                    + "\"1\",\"sha256\":\"" + sha + "\",\"signature\":\"\"}")), "invalid_argument", "permanent");
        }
        assertRawRefused(h.send(raw("{\"protocol\":1,\"op\":\"materialize\",\"id\":\"x\",\"version\":\"../1\","
                + "\"sha256\":\"" + sha + "\",\"signature\":\"\"}")), "invalid_argument", "permanent");
        assertRawRefused(h.send(raw("{\"protocol\":1,\"op\":\"materialize\",\"id\":\"x\",\"version\":\"1\","
                + "\"sha256\":\"../../etc/shadow\",\"signature\":\"\"}")), "invalid_argument", "permanent");
        assertEquals(before, h.snapshot());
        // still serving
        assertTrue(h.send(raw("{\"protocol\":1,\"op\":\"version\"}")).getAsJsonObject("answer").get("ok").getAsBoolean());
    }

    @Test
    void aMissingUpdaterFailsTheAddOnTransientlyAndInstallsNothing() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        Published p = publish(id, "1.0", "systemd_service", Map.of(name, service("x"), "run.sh", RUNS));
        Map<String, String> before = h.snapshot();
        assertTrue(h.send(cmd("socket", "path", h.root.resolve("run/absent.sock"))).get("ok").getAsBoolean());
        try {
            JsonObject failed = h.send(p.command("apply"));
            assertFalse(failed.get("ok").getAsBoolean(), failed.toString());
            assertEquals("TRANSIENT", failed.get("disposition").getAsString(), failed.toString());
            assertTrue(failed.get("error").getAsString().contains("start steward-updater.socket"), failed.toString());
        } finally {
            assertTrue(h.send(cmd("socket", "path", h.socket)).get("ok").getAsBoolean());
        }
        assertEquals(before, h.snapshot());
        Path home = h.data.resolve("addons").resolve(id);
        assertFalse(Files.exists(home.resolve("current"), LinkOption.NOFOLLOW_LINKS), "rolled back: not half-installed");
        assertFalse(Files.exists(home.resolve("versions")), "the first install left no version behind");
        assertFalse(Files.exists(h.data.resolve("state/systemd").resolve(id + ".json")), "no unit record");
    }

    @Test
    void theUpdaterRefusesAnEnvironmentItDidNotSet() throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                h.home.resolve("lib/updater") + "/*", Main.class.getName(), "--help-is-not-an-option");
        pb.environment().put("FOO", "bar");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("refusing to start with environment variable(s)") && out.contains("FOO"), out);
    }

    // ---- bound to the signed manifest, anti-rollback, units the updater does not own, signature first -----------

    @Test
    void onlyUnitsTheManifestListsAreInstalledAndOnlyForTheSystemdKinds() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        String data = "steward-" + id + "-data.service";
        Published p = publish(id, "1.0", "systemd_service", Map.of(name, service("ok"), data, service("data"),
                "run.sh", RUNS), List.of(name), List.of());
        assertTrue(h.send(p.command("stage")).get("ok").getAsBoolean());
        Map<String, String> before = h.snapshot();
        JsonObject undeclared = p.command("install");
        undeclared.add("units", JsonParser.parseString("[\"" + name + "\",\"" + data + "\"]"));
        undeclared.addProperty("primary", name);
        assertRefused(h.send(undeclared), "add-on " + id + ": install_units refused: " + data + " is not among the "
                + "manifest's units [" + name + "]");
        assertEquals(before, h.snapshot());

        String sid = newId();     // R15: a sidecar artifact that carries a convention-named unit file
        String sname = "steward-" + sid + ".service";
        Published sidecar = publish(sid, "1.0", "sidecar", Map.of(sname, service("s"), "run.sh", RUNS), List.of(sname),
                List.of());
        assertTrue(h.send(sidecar.command("stage")).get("ok").getAsBoolean());
        JsonObject fromSidecar = sidecar.command("install");
        fromSidecar.add("units", JsonParser.parseString("[\"" + sname + "\"]"));
        fromSidecar.addProperty("primary", sname);
        assertRefused(h.send(fromSidecar), "install_units refused: the manifest's supervision sidecar installs no units");
        assertEquals(before, h.snapshot());
        assertFalse(Files.exists(h.unit(sname)));
    }

    @Test
    void anOlderVersionIsRefusedUnlessTheOperatorAllowsTheRollback() throws Exception {
        for (String id : List.of(newId(), ROLLBACK_OK)) {
            String name = "steward-" + id + ".service";
            Published v1 = publish(id, "1.0.0", "systemd_service", Map.of(name, service("v1"), "run.sh", RUNS));
            Published v2 = publish(id, "2.0.0", "systemd_service", Map.of(name, service("v2"), "run.sh", RUNS));
            JsonObject s2 = h.send(v2.command("apply"));
            assertEquals("READY", s2.get("state").getAsString(), s2.toString());
            // a failed upgrade is restored inside its request and never raises the floor: v2 stays installable
            Published v3 = publish(id, "3.0.0", "systemd_service", Map.of(name, service("v3"), "run.sh",
                    "#!/bin/sh\nexit 1\n"));
            JsonObject s3 = h.send(v3.command("apply"));
            assertFalse(s3.get("ok").getAsBoolean() && "READY".equals(s3.get("state").getAsString()), s3.toString());
            assertTrue(Files.readString(h.unit(name)).contains("Description=v2"), "restored");
            assertEquals("2.0.0", JsonParser.parseString(h.ledger()).getAsJsonObject().getAsJsonObject("addons")
                    .getAsJsonObject(id).get("highest").getAsString(), h.ledger());
            assertEquals("READY", h.send(v2.command("apply")).get("state").getAsString(), "v2 again: not a rollback");
            Map<String, String> before = h.snapshot();
            JsonObject s1 = h.send(v1.command("apply"));
            if (id.equals(ROLLBACK_OK)) {
                assertEquals("READY", s1.get("state").getAsString(), s1.toString());
                assertTrue(Files.readString(h.unit(name)).contains("Description=v1"), "rolled back by the operator's leave");
            } else {
                assertRefused(s1, "add-on " + id + ": install_units refused: version 1.0.0 is older than 2.0.0, which the "
                        + "updater installed before; an operator allows a rollback with --allow-rollback " + id);
                assertEquals("PERMANENT", s1.get("disposition").getAsString(), s1.toString());
                assertEquals(before, h.snapshot(), "the unit, the copy and the ledger are v2's");
                assertTrue(Files.readString(h.unit(name)).contains("Description=v2"));
                assertEquals(ActiveState.ACTIVE, h.systemd.unit(name).activeState(), "v2 keeps running");
            }
            assertTrue(h.send(v2.command("remove")).get("ok").getAsBoolean());
            assertFalse(Files.exists(h.unit(name)));
        }

        // the same floor for grant_capabilities (a sidecar), kept after the add-on's copy is released
        String id = newId();
        Published c1 = publish(id, "1.9", "sidecar", Map.of("run.sh", RUNS), List.of(), List.of("cap_net_raw"));
        Published c2 = publish(id, "1.10", "sidecar", Map.of("run.sh", RUNS), List.of(), List.of("cap_net_raw"));
        JsonObject g2 = c2.command("grant");
        g2.add("caps", JsonParser.parseString("[\"cap_net_raw\"]"));
        assertTrue(h.send(g2).get("ok").getAsBoolean());
        assertTrue(h.send(cmd("release", "id", id)).get("ok").getAsBoolean());
        Map<String, String> before = h.snapshot();
        JsonObject g1 = c1.command("grant");
        g1.add("caps", JsonParser.parseString("[\"cap_net_raw\"]"));
        assertRefused(h.send(g1), "grant_capabilities refused: version 1.9 is older than 1.10");
        assertEquals(before, h.snapshot());
    }

    @Test
    void aUnitFileTheUpdaterDidNotWriteIsNeverOverwritten() throws Exception {
        String id = newId();
        String name = "steward-" + id + ".service";
        Published v1 = publish(id, "1", "systemd_service", Map.of(name, service("v1"), "run.sh", RUNS));
        Published v2 = publish(id, "2", "systemd_service", Map.of(name, service("v2"), "run.sh", RUNS));
        String operators = "[Service]\nExecStart=/bin/true\n";
        Files.writeString(h.unit(name), operators);     // N05: e.g. the operator's own steward-updater.service
        try {
            Map<String, String> before = h.snapshot();
            JsonObject refused = h.send(v1.command("apply"));
            assertRefused(refused, "add-on " + id + ": install_units refused: " + h.unit(name) + " exists and the updater "
                    + "did not install it");
            assertEquals(before, h.snapshot());
            assertEquals(operators, Files.readString(h.unit(name)));
            Files.delete(h.unit(name));
            Files.createSymbolicLink(h.unit(name), Path.of("/dev/null"));     // a link (a masked unit) likewise
            before = h.snapshot();
            assertRefused(h.send(v1.command("apply")), "did not install it");
            assertEquals(before, h.snapshot());
        } finally {
            Files.deleteIfExists(h.unit(name));
        }

        // written by the updater, then changed outside Steward: neither overwritten nor deleted
        assertEquals("READY", h.send(v1.command("apply")).get("state").getAsString());
        String written = Files.readString(h.unit(name));
        Files.writeString(h.unit(name), written + "# edited by hand\n");
        Map<String, String> before = h.snapshot();
        assertRefused(h.send(v2.command("apply")), h.unit(name) + " was changed outside Steward since the updater "
                + "wrote it");
        assertEquals(before, h.snapshot());
        assertRefused(h.send(v1.command("remove")), "uninstall_units refused: " + h.unit(name) + " was changed outside "
                + "Steward");
        assertEquals(before, h.snapshot());
        Files.writeString(h.unit(name), written);     // the operator restores it
        assertTrue(h.send(v1.command("remove")).get("ok").getAsBoolean());
        assertFalse(Files.exists(h.unit(name)));
    }

    @Test
    void aGzipBombWithAWrongSignatureIsRefusedBeforeAByteIsWritten() throws Exception {
        String id = newId();
        Path bomb = h.repo.resolve(id + "-bomb.tar.gz");
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GZIPOutputStream(
                Files.newOutputStream(bomb), 1 << 16), "UTF-8")) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            byte[] manifest = ("{\"id\":\"" + id + "\",\"version\":\"1\",\"supervision\":\"sidecar\","
                    + "\"binary\":\"zeros\"}").getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry m = new TarArchiveEntry("addon.json", true);
            m.setSize(manifest.length);
            tar.putArchiveEntry(m);
            tar.write(manifest);
            tar.closeArchiveEntry();
            long size = 300_000_000L;
            TarArchiveEntry z = new TarArchiveEntry("zeros", true);
            z.setSize(size);
            tar.putArchiveEntry(z);
            byte[] chunk = new byte[1 << 20];
            for (long left = size; left > 0; left -= chunk.length) {
                tar.write(chunk, 0, (int) Math.min(chunk.length, left));
            }
            tar.closeArchiveEntry();
        }
        Files.setPosixFilePermissions(bomb, PosixFilePermissions.fromString("rw-r--r--"));
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        try (var in = new java.security.DigestInputStream(Files.newInputStream(bomb), sha)) {
            in.transferTo(OutputStream.nullOutputStream());
        }
        String digest = HexFormat.of().formatHex(sha.digest());
        Path kept = h.data.resolve("addons").resolve(id).resolve("artifacts").resolve(digest + ".tar.gz");
        assertTrue(h.send(cmd("mkdir", "path", kept.getParent())).get("ok").getAsBoolean());
        assertTrue(h.send(cmd("copy", "from", bomb, "to", kept)).get("ok").getAsBoolean());
        Signature s = Signature.getInstance("Ed25519");
        s.initSign(h.key.getPrivate());
        s.update(("steward-artifact-v1\n" + id + "\n2\n" + digest + "\n").getBytes(StandardCharsets.UTF_8));
        String wrong = Base64.getEncoder().encodeToString(s.sign());     // a real signature, of another statement
        s.initSign(h.key.getPrivate());
        s.update(("steward-artifact-v1\n" + id + "\n1\n" + digest + "\n").getBytes(StandardCharsets.UTF_8));
        String right = Base64.getEncoder().encodeToString(s.sign());

        Map<String, String> before = h.snapshot();
        String request = "{\"protocol\":1,\"op\":\"materialize\",\"id\":\"" + id + "\",\"version\":\"1\","
                + "\"sha256\":\"" + digest + "\",\"signature\":\"";
        JsonObject refused = h.send(raw(request + wrong + "\"}"));
        assertRawRefused(refused, "refused", "permanent");
        assertTrue(refused.toString().contains("signature does not match"), refused.toString());
        assertEquals(before, h.snapshot(), "nothing was written under the privileged root: no .verify-*, no versions/");
        assertFalse(Files.exists(h.priv.resolve(id), LinkOption.NOFOLLOW_LINKS));

        // validly signed, the bomb is still refused by the updater's own, lower limit; nothing is left behind
        JsonObject limited = h.send(raw(request + right + "\"}"));
        assertRawRefused(limited, "refused", "permanent");
        assertTrue(limited.toString().contains("above the per-file limit of " + (256L << 20)), limited.toString());
        assertEquals(before, h.snapshot(), "no .verify-*, no empty versions/ or <id>/");
        assertFalse(Files.exists(h.priv.resolve(id), LinkOption.NOFOLLOW_LINKS));
        Files.delete(bomb);
    }

    @Test
    void theLauncherRefusesARuntimeDirectoryTheAgentCouldSteer() throws Exception {
        Path agentOwned = h.dir("agent-rt2", "rwxr-xr-x");
        h.chown(agentOwned);
        Path link = h.root.resolve("rt-link");
        Files.createSymbolicLink(link, h.root.resolve("rt"));
        Path writable = h.dir("rt-writable", "rwxrwxr-x");
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put(agentOwned.resolve("rt").toString(), agentOwned + " (for " + agentOwned.resolve("rt") + ") is owned by uid");
        cases.put(link.toString(), link + " (for " + link + ") is a symbolic link");
        cases.put(link + "/x", link + " (for " + link + "/x) is a symbolic link");
        cases.put(writable.resolve("rt").toString(), writable + " (for " + writable.resolve("rt") + ") is writable by "
                + "group or others (mode 775)");
        cases.put("relative/rt", "--runtime-dir must be an absolute path");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            ProcessBuilder pb = new ProcessBuilder(h.home.resolve("bin/steward-updater").toString(), "--runtime-dir",
                    c.getKey(), "--socket", h.root.resolve("never.sock").toString()).redirectErrorStream(true);
            pb.environment().clear();
            pb.environment().put("BASH_ENV", h.root.resolve("bash-env.sh").toString());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(2, p.exitValue(), out);
            assertTrue(out.startsWith("steward-updater: ") && out.contains(c.getValue()), c.getKey() + ": " + out);
        }
        assertFalse(Files.exists(agentOwned.resolve("rt")), "nothing created through the agent's directory");
        assertFalse(Files.exists(writable.resolve("rt")));
        assertFalse(Files.exists(h.root.resolve("never.sock")));
    }
}
