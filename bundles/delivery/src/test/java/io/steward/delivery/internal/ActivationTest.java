package io.steward.delivery.internal;

import static io.steward.delivery.internal.Fixtures.Tar;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.delivery.Activation;
import io.steward.delivery.StagedArtifact;
import io.steward.delivery.artifacts.Progress;
import io.steward.delivery.internal.Fixtures.Host;
import io.steward.delivery.internal.Fixtures.Key;
import io.steward.delivery.staging.FileOps;
import io.steward.delivery.staging.StageMetadata;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Activation, rollback, re-published versions, retention, reuse without download, remove. */
class ActivationTest {
    private static final String ID = "netprobe";

    @TempDir
    static Path keys;
    static Key demo;

    @TempDir
    Path root;
    Host host;
    DeliveryStager stager;

    @BeforeAll
    static void key() throws Exception {
        demo = Fixtures.opensslKey(keys, "demo");
    }

    @BeforeEach
    void host() throws Exception {
        host = new Host(root);
        Fixtures.trust(host.trust, demo);
        stager = host.stager(Map.of());
    }

    @AfterEach
    void stop() throws Exception {
        stager.deactivate();
    }

    private AddonRecord artifact(String version) throws Exception {
        return host.signed(ID, version, Tar.addon(ID, version).tgz(), demo);
    }

    private Activation install(String version) throws Exception {
        AddonRecord r = artifact(version);
        return stager.activate(r, stager.stage(r));
    }

    @Test
    void aFailingLaterStepRestoresThePreviousCurrent() throws Exception {
        install("1.0").commit();
        Map<String, String> v1 = tree(host.home(ID).resolve("versions/1.0"));
        Activation a = install("2.0");
        assertEquals(Optional.of("versions/2.0"), host.current(ID));
        assertEquals(Optional.of(host.home(ID).resolve("versions/1.0")), a.previous());
        a.rollback();
        assertEquals(Optional.of("versions/1.0"), host.current(ID));
        assertEquals(v1, tree(host.home(ID).resolve("current").toRealPath()), "current serves the old files");
        a.rollback();     // idempotent
        assertEquals(Optional.of("versions/1.0"), host.current(ID));
        assertThrows(IllegalStateException.class, a::commit);
        assertEquals("1.0", stager.current(new AddonId(ID)).orElseThrow().manifest().version());
    }

    @Test
    void aFailedFirstInstallLeavesNothingBehind() throws Exception {
        Activation a = install("1.0");
        assertTrue(a.previous().isEmpty());
        assertEquals(Optional.of("versions/1.0"), host.current(ID));
        a.rollback();
        assertEquals(Optional.empty(), host.current(ID));
        assertFalse(Files.exists(host.home(ID).resolve("versions/1.0")));
        assertFalse(Files.exists(host.home(ID)), "the add-on's home is gone too");
        assertEquals(Optional.empty(), stager.current(new AddonId(ID)));
        Fixtures.assertNoLeftovers(host);
    }

    @Test
    void aRollbackWhoseTargetVanishedIsRefusedAndLeavesNoDanglingLink() throws Exception {
        install("1.0").commit();
        Activation a = install("2.0");
        FileOps.deleteTree(host.home(ID).resolve("versions/1.0"));
        SupervisionException e = assertThrows(SupervisionException.class, a::rollback);
        assertEquals(Disposition.PERMANENT, e.disposition());
        assertEquals("add-on netprobe: rollback: the previous version directory versions/1.0 no longer exists; "
                + "current is left at versions/2.0", e.getMessage());
        assertEquals(Optional.of("versions/2.0"), host.current(ID));
        assertTrue(Files.isRegularFile(host.home(ID).resolve("current/netprobe")));
    }

    @Test
    void aRepublishedVersionNeverOverwritesWhatARollbackReturnsTo() throws Exception {
        AddonRecord first = artifact("1.0");
        stager.activate(first, stager.stage(first)).commit();
        Path v1 = host.home(ID).resolve("versions/1.0");
        Map<String, String> original = tree(v1);
        byte[] other = Tar.addon(ID, "1.0").file("share/extra", "republished with other bytes").tgz();
        AddonRecord republished = host.signed(ID, "1.0", other, demo);
        String sha = republished.assignment().artifact().orElseThrow().sha256();
        StagedArtifact staged = stager.stage(republished);
        assertEquals(host.home(ID).resolve("versions/1.0+" + sha.substring(0, 12)), staged.directory());
        assertEquals(original, tree(v1), "versions/1.0 untouched");
        Activation a = stager.activate(republished, staged);
        assertEquals(Optional.of("versions/1.0+" + sha.substring(0, 12)), host.current(ID));
        assertTrue(Files.exists(host.home(ID).resolve("current/share/extra")));
        a.rollback();
        assertEquals(Optional.of("versions/1.0"), host.current(ID));
        assertEquals(original, tree(host.home(ID).resolve("current").toRealPath()));
        // and the original bytes are found again in place, without a new directory
        assertEquals(v1, stager.stage(first).directory());
    }

    @Test
    void retentionKeepsCurrentTheRollbackTargetAndNMore() throws Exception {
        for (int i = 1; i <= 6; i++) {
            install(i + ".0").commit();
        }
        // current 6.0, rollback target 5.0, and retain_versions (2) more: 4.0 and 3.0
        assertEquals(Set.of("6.0", "5.0", "4.0", "3.0"), versions());
        assertEquals(Optional.of("versions/6.0"), host.current(ID));
        Fixtures.assertNoLeftovers(host);

        stager.deactivate();
        stager = host.stager(Map.of("retain_versions", 0));
        install("7.0").commit();
        assertEquals(Set.of("7.0", "6.0"), versions());
    }

    @Test
    void retentionNeverRemovesTheRollbackTargetEvenWhenItIsOld() throws Exception {
        install("1.0").commit();
        stager.deactivate();
        stager = host.stager(Map.of("retain_versions", 0));
        // 2.0 to 4.0 staged but never activated: the newest of them are kept only by retention
        for (int i = 2; i <= 4; i++) {
            stager.stage(artifact(i + ".0"));
        }
        install("5.0").commit();
        assertEquals(Set.of("5.0", "1.0"), versions());
    }

    @Test
    void anAlreadyStagedArtifactIsNotDownloadedAgain() throws Exception {
        AddonRecord r = artifact("1.0");
        stager.activate(r, stager.stage(r)).commit();
        Files.delete(Path.of(URI.create(r.assignment().artifact().orElseThrow().url())));     // nothing to fetch any more
        StagedArtifact again = stager.stage(r);
        assertEquals(host.home(ID).resolve("versions/1.0"), again.directory());
        assertEquals("1.0", again.manifest().version());
    }

    @Test
    void anAlreadyStagedArtifactIsRefusedOnceItsKeyIsRevoked() throws Exception {
        AddonRecord r = artifact("1.0");
        stager.activate(r, stager.stage(r)).commit();
        Files.delete(host.trust.resolve("demo.pem"));
        SupervisionException e = assertThrows(SupervisionException.class, () -> stager.stage(r));
        assertEquals(Disposition.PERMANENT, e.disposition());
        assertTrue(e.getMessage().contains("no trusted keys"), e.getMessage());
    }

    @Test
    void aKeyAddedToTheTrustStoreIsUsedAtTheNextStageWithoutARestart() throws Exception {
        Key rotated = Fixtures.opensslKey(root.resolve("keys"), "release-2027");
        AddonRecord r = host.signed(ID, "1.0", Tar.addon(ID, "1.0").tgz(), rotated);
        SupervisionException e = assertThrows(SupervisionException.class, () -> stager.stage(r));
        assertEquals("add-on netprobe: verify: signature does not match any trusted key (tried: demo)", e.getMessage());
        Fixtures.trust(host.trust, rotated);
        assertEquals("release-2027", StageMetadata.read(stager.stage(r).directory()).orElseThrow().key());
    }

    @Test
    void progressOnATerminalIsOneLineEveryFivePercent() {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        Progress p = Progress.percent(new java.io.PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8),
                "add-on netprobe: verify and extract", 1000);
        for (int i = 0; i < 100; i++) {
            p.advance(10);
        }
        List<String> lines = bytes.toString(java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        assertEquals(20, lines.size());
        assertEquals("steward: add-on netprobe: verify and extract 5%", lines.get(0));
        assertEquals("steward: add-on netprobe: verify and extract 100%", lines.get(19));
    }

    @Test
    void aChangedAssignmentIsCheckedAgainstAnAlreadyStagedManifest() throws Exception {
        AddonRecord r = artifact("1.0");
        stager.stage(r);
        Assignment a = r.assignment();
        AddonRecord asService = new AddonRecord(new Assignment(a.id(), a.version(), true, "systemd_service", a.delivery(),
                a.artifact(), a.binary(), List.of(), Map.of(), "{}", List.of(), Resources.NONE), r.home(), 2);
        SupervisionException e = assertThrows(SupervisionException.class, () -> stager.stage(asService));
        assertTrue(e.getMessage().contains("addon.json supervision \"sidecar\" does not match"), e.getMessage());
    }

    @Test
    void removeDeletesEverythingStaged() throws Exception {
        install("1.0").commit();
        install("2.0").commit();
        stager.remove(new AddonId(ID));
        assertFalse(Files.exists(host.home(ID)));
        assertEquals(Optional.empty(), stager.current(new AddonId(ID)));
        stager.remove(new AddonId(ID));     // idempotent
        Fixtures.assertNoLeftovers(host);
    }

    @Test
    void onlyPushedArtifactsAreStaged() {
        Assignment os = new Assignment(new AddonId(ID), "1.0", true, "systemd_service", "os_package", Optional.empty(),
                Optional.of("/usr/bin/netprobe"), List.of(), Map.of(), "{}", List.of(), Resources.NONE);
        assertThrows(IllegalArgumentException.class, () -> stager.stage(new AddonRecord(os, host.home(ID), 1)));
        Assignment compiled = new Assignment(new AddonId(ID), "1.0", true, "config_toggle", "compiled_in",
                Optional.empty(), Optional.empty(), List.of(), Map.of(), "{}", List.of(), Resources.NONE);
        assertThrows(IllegalArgumentException.class, () -> stager.stage(new AddonRecord(compiled, host.home(ID), 1)));
    }

    @Test
    void stagedTreeHasNormalisedModesAndMetadata() throws Exception {
        AddonRecord r = host.signed(ID, "1.0", new Tar().file("addon.json", Fixtures.manifest(ID, "1.0", "sidecar", ID))
                .file(ID, "#!/bin/sh\n", 0600).file("./share/tool.sh", "#!/bin/sh\n", 0700)
                .file("share/readme", "r", 0666).tgz(), demo);
        Path dir = stager.stage(r).directory();
        assertEquals("rwxr-xr-x", mode(dir));
        assertEquals("rwxr-xr-x", mode(dir.resolve(ID)), "the declared binary is executable");
        assertEquals("rwxr-xr-x", mode(dir.resolve("share")));
        assertEquals("rwxr-xr-x", mode(dir.resolve("share/tool.sh")));
        assertEquals("rw-r--r--", mode(dir.resolve("share/readme")));
        StageMetadata meta = StageMetadata.read(dir).orElseThrow();
        assertEquals(r.assignment().artifact().orElseThrow().sha256(), meta.sha256());
        assertEquals("demo", meta.key());
    }

    @Test
    void concurrentStagesOfDifferentAddonsDoNotInterfere() throws Exception {
        List<AddonRecord> records = Stream.of("a", "b", "c", "d").map(id -> {
            try {
                return host.signed(id, "1.0", Tar.addon(id, "1.0").tgz(), demo);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }).toList();
        List<StagedArtifact> staged = records.parallelStream().map(r -> {
            try {
                return stager.stage(r);
            } catch (SupervisionException e) {
                throw new IllegalStateException(e);
            }
        }).toList();
        assertEquals(4, staged.stream().map(StagedArtifact::directory).distinct().count());
        Fixtures.assertNoLeftovers(host);
    }

    private Set<String> versions() throws Exception {
        try (Stream<Path> s = Files.list(host.home(ID).resolve("versions"))) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
    }

    private static String mode(Path p) throws Exception {
        return java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    /** Relative path → content hash of the regular files below {@code dir}. */
    private static Map<String, String> tree(Path dir) throws Exception {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).collect(Collectors.toMap(p -> dir.relativize(p).toString(), p -> {
                try {
                    return Fixtures.sha256(Files.readAllBytes(p));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
    }
}
