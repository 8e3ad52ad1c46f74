package io.steward.privileged.capabilities;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.delivery.AddonManifest;
import io.steward.delivery.StagedArtifact;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** setcap through the in-process privileged operations, checked with /usr/sbin/getcap; then every refusal. */
class LocalPrivilegedOperationsTest {
    private static final AddonId ID = new AddonId("probe");

    @TempDir
    Path tmp;
    private Path staged;
    private final LocalPrivilegedOperations ops = new LocalPrivilegedOperations();

    @BeforeEach
    void setUp() throws IOException {
        staged = Files.createDirectories(tmp.resolve("addons/probe/versions/1.0.0"));
        Files.createDirectories(staged.resolve("bin"));
        Files.copy(Path.of("/bin/true"), staged.resolve("bin/probe"), StandardCopyOption.COPY_ATTRIBUTES);
    }

    private StagedArtifact artifact() {
        return artifact("sidecar", List.of("cap_net_raw", "CAP_NET_ADMIN"));
    }

    private StagedArtifact artifact(String kind, List<String> declared) {
        return new StagedArtifact(staged, new AddonManifest("probe", "1.0.0", kind, "bin/probe", List.of(),
                declared, Optional.empty(), Map.of()), "0".repeat(64));
    }

    private static String getcap(Path file) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("/usr/sbin/getcap", file.toString()).redirectErrorStream(true);
        pb.environment().clear();
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        return out;
    }

    @Test
    void grantsNormalisedCapabilitiesAndGetcapSeesThem() throws Exception {
        assertEquals(OptionalLong.of(0), io.steward.privileged.ProcessIdentity.effectiveUid(Path.of("/proc/self/status")),
                "this test runs as root, like CI");
        Path program = ops.grantCapabilities(ID, artifact(), "bin/probe",
                List.of(" CAP_NET_RAW", "cap_net_admin", "cap_net_raw "));
        assertEquals(staged.resolve("bin/probe").toRealPath(), program);
        String shown = getcap(program);
        assertTrue(shown.startsWith(program.toString()), shown);
        assertEquals(Set.of("cap_net_admin", "cap_net_raw"), LocalPrivilegedOperations.granted(shown));
        assertTrue(shown.endsWith("cap_net_admin,cap_net_raw=ep"), shown);
        assertEquals("rwxr-x---", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(staged.resolve("bin/probe"))), "not executable by other users");
        assertEquals(0, Files.getAttribute(staged.resolve("bin/probe"), "unix:uid"));
        ops.release(ID);   // a no-op in-process: the capability stays on the staged file
        assertEquals(shown, getcap(program));
    }

    private void refused(String binary, List<String> caps, String expected) {
        SupervisionException e = assertThrows(SupervisionException.class,
                () -> ops.grantCapabilities(ID, artifact(), binary, caps), binary + " " + caps);
        assertEquals(Disposition.PERMANENT, e.disposition(), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void aGrantIsBoundToTheSignedManifest() throws Exception {
        Files.copy(Path.of("/bin/true"), staged.resolve("tool"));
        Map<String, String> before = Map.of("probe", getcap(staged.resolve("bin/probe")), "tool", getcap(staged.resolve("tool")));
        refused("tool", List.of("cap_net_raw"), "capabilities refused: tool is not the manifest's binary (bin/probe)");
        refused("bin/probe", List.of("cap_net_raw", "cap_dac_read_search"),
                "cap_dac_read_search is not among the manifest's capabilities [cap_net_admin, cap_net_raw]");
        SupervisionException none = assertThrows(SupervisionException.class, () -> ops.grantCapabilities(ID,
                artifact("sidecar", List.of()), "bin/probe", List.of("cap_net_raw")));
        assertTrue(none.getMessage().contains("cap_net_raw is not among the manifest's capabilities []"), none.getMessage());
        SupervisionException kind = assertThrows(SupervisionException.class, () -> ops.grantCapabilities(ID,
                artifact("systemd_service", List.of("cap_net_raw")), "bin/probe", List.of("cap_net_raw")));
        assertTrue(kind.getMessage().contains("supervision systemd_service does not use capabilities"), kind.getMessage());
        assertEquals(Disposition.PERMANENT, kind.disposition());
        assertEquals(before, Map.of("probe", getcap(staged.resolve("bin/probe")), "tool", getcap(staged.resolve("tool"))),
                "nothing granted");
        SupervisionException helper = null;
        try {
            ops.grantCapabilities(ID, artifact("ephemeral_helper", List.of("cap_net_raw")), "bin/probe",
                    List.of("cap_net_raw"));
        } catch (SupervisionException e) {
            helper = e;
        }
        assertEquals(null, helper, "ephemeral_helper uses capabilities too");
    }

    @Test
    void capabilitiesOutsideTheAllowlistOrNoneAtAllAreRefused() {
        refused("bin/probe", List.of("cap_net_raw", "cap_sys_admin"), "outside the allowed set");
        refused("bin/probe", List.of("cap_net_raw+ep"), "outside the allowed set");
        refused("bin/probe", List.of(), "empty");
        refused("bin/probe", List.of("  "), "outside the allowed set");
    }

    @Test
    void onlyARegularFileInsideTheStagedDirectoryQualifies() throws Exception {
        Path outside = Files.copy(Path.of("/bin/true"), tmp.resolve("outside"));
        Files.createSymbolicLink(staged.resolve("link"), outside);
        Files.createSymbolicLink(staged.resolve("inner-link"), staged.resolve("bin/probe"));
        Files.createSymbolicLink(staged.resolve("dirlink"), tmp);
        List<String> caps = List.of("cap_net_raw");
        refused("../../outside", caps, "plain relative path");
        refused("bin/../bin/probe", caps, "plain relative path");
        refused("/bin/true", caps, "plain relative path");
        refused("bin//probe", caps, "plain relative path");
        refused("", caps, "plain relative path");
        refused("bin\\probe", caps, "plain relative path");
        refused("link", caps, "symbolic link");
        refused("inner-link", caps, "symbolic link");
        refused("dirlink/outside", caps, "symbolic link");
        refused("bin", caps, "not a regular file");
        refused("bin/missing", caps, "not a regular file");
        assertEquals("", getcap(outside).replace(outside.toString(), "").strip(), "nothing was granted outside");
    }

    @Test
    void getcapOutputIsParsed() {
        assertEquals(Set.of("cap_net_raw"), LocalPrivilegedOperations.granted("/x/y cap_net_raw=ep"));
        assertEquals(Set.of("cap_bpf", "cap_perfmon"), LocalPrivilegedOperations.granted("/x cap_bpf,cap_perfmon=eip"));
        assertEquals(Set.of(), LocalPrivilegedOperations.granted("/x cap_net_raw=p"));
        assertEquals(Set.of(), LocalPrivilegedOperations.granted(""));
    }

    @Test
    void theEffectiveUidComesFromProcStatus() throws IOException {
        Path status = tmp.resolve("status");
        Files.writeString(status, "Name:\tjava\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
        assertEquals(OptionalLong.of(0), io.steward.privileged.ProcessIdentity.effectiveUid(status));
        Files.writeString(status, "Uid:\t0\t1000\t1000\t1000\n");
        assertEquals(OptionalLong.of(1000), io.steward.privileged.ProcessIdentity.effectiveUid(status));
        assertEquals(OptionalLong.empty(), io.steward.privileged.ProcessIdentity.effectiveUid(tmp.resolve("missing")));
    }
}
