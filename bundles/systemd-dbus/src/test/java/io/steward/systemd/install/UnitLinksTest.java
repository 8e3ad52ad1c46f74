package io.steward.systemd.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.systemd.LoadedUnit;
import io.steward.systemd.bus.DbusSystemdManager;
import io.steward.systemd.install.UnitLinks.Created;
import io.steward.systemd.install.UnitLinks.InstallLink;
import io.steward.systemd.install.UnitLinks.Refused;
import io.steward.systemd.install.UnitLinks.Removed;
import io.steward.systemd.testing.SystemdSandbox;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link UnitLinks} on the sandbox's unit directory, with what its real systemd 252 makes of the links. */
class UnitLinksTest {
    private static final InstallLink MULTI_USER = new InstallLink("multi-user.target", "wants");
    private static SystemdSandbox sandbox;
    private static DbusSystemdManager systemd;
    private static Path dir;
    private final List<Path> cleanup = new ArrayList<>();

    @BeforeAll
    static void connect() throws Exception {
        sandbox = SystemdSandbox.shared();
        systemd = new DbusSystemdManager(sandbox.address(), Duration.ofSeconds(10));
        dir = sandbox.unitDir();
    }

    @AfterAll
    static void close() {
        systemd.close();
    }

    @AfterEach
    void clean() throws Exception {
        List<Path> reversed = new ArrayList<>(cleanup);
        java.util.Collections.reverse(reversed);
        for (Path p : reversed) {
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                SystemdSandbox.PathsForTests.deleteTree(p);
            } else {
                Files.deleteIfExists(p);
            }
        }
        systemd.reload();
    }

    private String unit(String text) throws IOException {
        String unit = "steward-lk" + UUID.randomUUID().toString().substring(0, 6) + ".service";
        Files.writeString(dir.resolve(unit), text);
        cleanup.add(dir.resolve(unit));
        return unit;
    }

    /** A target name of this test only, so that its directories are this test's too. */
    private String target() {
        String t = "steward-lk" + UUID.randomUUID().toString().substring(0, 6) + ".target";
        cleanup.add(0, dir.resolve(t + ".wants"));
        cleanup.add(0, dir.resolve(t + ".requires"));
        return t;
    }

    /** Every entry under the unit directory and {@code others}, without following links: path, type, link, mode. */
    private static List<String> snapshot(Path... others) throws IOException {
        List<String> out = new ArrayList<>();
        for (Path root : Stream.concat(Stream.of(dir), Stream.of(others)).toList()) {
            try (Stream<Path> walk = Files.walk(root)) {
                for (Path p : walk.sorted().toList()) {
                    String type = Files.isSymbolicLink(p) ? "link " + Files.readSymbolicLink(p)
                            : Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "dir" : "file " + Files.size(p);
                    out.add(p + " " + type + " " + PosixFilePermissions.toString(
                            Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS)));
                }
            }
        }
        return out;
    }

    @Test
    void aManualLinkEnablesTheUnitWithOrWithoutAnInstallSection() throws Exception {
        String withInstall = unit("[Service]\nExecStart=/bin/sleep 600\n[Install]\nWantedBy=multi-user.target\n");
        String without = unit("[Service]\nExecStart=/bin/sleep 600\n");
        assertEquals("disabled", systemd.unit(withInstall).unitFileState());
        assertEquals("static", systemd.unit(without).unitFileState());
        Path wants = dir.resolve("multi-user.target.wants");
        boolean hadWants = Files.isDirectory(wants);

        Created a = UnitLinks.create(dir, withInstall, List.of(MULTI_USER));
        Created b = UnitLinks.create(dir, without, List.of(MULTI_USER));
        assertEquals(List.of(wants.resolve(withInstall)), a.links());
        assertEquals(hadWants ? List.of() : List.of(wants), a.directories());
        assertEquals(List.of(), b.directories());
        assertEquals(dir.resolve(withInstall), Files.readSymbolicLink(wants.resolve(withInstall)));
        assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(wants)));

        // GetUnitFileState reads the disk: enabled at once, without a reload, [Install] or not
        assertEquals("enabled", systemd.unit(withInstall).unitFileState());
        assertEquals("enabled", systemd.unit(without).unitFileState());
        assertTrue(systemd.unit(without).enabled());
        systemd.reload();
        assertEquals("enabled", systemd.unit(withInstall).unitFileState());
        assertEquals("enabled", systemd.unit(without).unitFileState());
        LoadedUnit target = systemd.loaded("multi-user.target");
        assertTrue(target.dependency("Wants").contains(withInstall), target.dependency("Wants").toString());
        assertTrue(target.dependency("Wants").contains(without));

        Removed r = UnitLinks.remove(dir, withInstall, List.of(MULTI_USER));
        assertEquals(List.of(wants.resolve(withInstall)), r.links());
        assertEquals(List.of(), r.directories(), "the other unit's link is still in it");
        assertEquals(List.of(), r.skipped());
        assertEquals("disabled", systemd.unit(withInstall).unitFileState());
        Removed r2 = UnitLinks.remove(dir, without, List.of(MULTI_USER));
        assertEquals(hadWants ? List.of() : List.of(wants), r2.directories());
        assertEquals("static", systemd.unit(without).unitFileState());
        systemd.reload();
        assertFalse(systemd.loaded("multi-user.target").dependency("Wants").contains(without));
    }

    @Test
    void aRequiresLinkAndAPrivateTarget() throws Exception {
        String unit = unit("[Service]\nExecStart=/bin/sleep 600\n");
        String t = target();
        Files.writeString(dir.resolve(t), "[Unit]\nDescription=test target\n");
        cleanup.add(dir.resolve(t));
        List<String> before = snapshot();
        // an active target is held by systemd: what it loaded changes only on a reload (an inactive target
        // nothing refers to is unloaded and read afresh on its next load, links included)
        assertEquals(io.steward.systemd.JobOutcome.DONE, systemd.start(t, Duration.ofSeconds(30)).outcome());
        Created c = UnitLinks.create(dir, unit, List.of(new InstallLink(t, "requires"), new InstallLink(t, "wants"),
                new InstallLink(t, "requires")));
        assertEquals(List.of(), systemd.loaded(t).dependency("Requires"));
        assertEquals(List.of(), systemd.loaded(t).dependency("Wants"));
        assertEquals(List.of(dir.resolve(t + ".requires").resolve(unit), dir.resolve(t + ".wants").resolve(unit)),
                c.links(), "duplicates once");
        assertEquals(List.of(dir.resolve(t + ".requires"), dir.resolve(t + ".wants")), c.directories());
        assertEquals("enabled", systemd.unit(unit).unitFileState());
        systemd.reload();
        LoadedUnit target = systemd.loaded(t);
        assertEquals(List.of(unit), target.dependency("Requires"));
        assertEquals(List.of(unit), target.dependency("Wants"));

        assertTrue(UnitLinks.create(dir, unit, List.of(new InstallLink(t, "requires"))).nothing(), "idempotent");
        systemd.stop(t, Duration.ofSeconds(30));
        systemd.stop(unit, Duration.ofSeconds(30));    // the target's Requires/Wants started it
        Removed r = UnitLinks.undo(c);
        assertEquals(c.links(), r.links());
        assertEquals(java.util.Set.of(dir.resolve(t + ".wants"), dir.resolve(t + ".requires")),
                java.util.Set.copyOf(r.directories()));
        assertEquals(before, snapshot());
    }

    @Test
    void aForeignEntryAtTheLinkPathIsRefusedAndNothingChanges() throws Exception {
        String unit = unit("[Service]\nExecStart=/bin/sleep 600\n");
        String fresh = target();
        String t = target();
        Path wants = dir.resolve(t + ".wants");
        Files.createDirectory(wants);
        Path entry = wants.resolve(unit);
        // the fresh target's directory would be made first: the refusal must not leave it behind
        List<InstallLink> links = List.of(new InstallLink(fresh, "wants"), new InstallLink(t, "wants"));

        Files.createSymbolicLink(entry, Path.of("/dev/null"));
        assertRefusedUnchanged(unit, links, "already exists as a symlink to /dev/null");
        Files.delete(entry);
        Files.createSymbolicLink(entry, Path.of("../" + unit));      // the same file, but not Steward's spelling
        assertRefusedUnchanged(unit, links, "already exists as a symlink to ../" + unit);
        Files.delete(entry);
        Files.writeString(entry, "[Service]\n");
        assertRefusedUnchanged(unit, links, "already exists as a regular file");
        Files.delete(entry);
        Files.createDirectory(entry);
        assertRefusedUnchanged(unit, links, "already exists as a directory");
        Files.delete(entry);

        // remove leaves the foreign entries alone, and says so
        Files.createSymbolicLink(entry, Path.of("/dev/null"));
        List<String> before = snapshot();
        Removed r = UnitLinks.remove(dir, unit, links);
        assertEquals(List.of(), r.links());
        assertEquals(List.of(), r.directories());
        assertEquals(1, r.skipped().size(), r.skipped().toString());
        assertTrue(r.skipped().get(0).contains("is a symlink to /dev/null, not Steward's link"), r.skipped().get(0));
        assertEquals(before, snapshot());
    }

    private void assertRefusedUnchanged(String unit, List<InstallLink> links, String expected) throws Exception {
        List<String> before = snapshot();
        Refused e = assertThrows(Refused.class, () -> UnitLinks.create(dir, unit, links));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertTrue(e.getMessage().contains("never replaces"), e.getMessage());
        assertEquals(before, snapshot());
    }

    @Test
    void aSymlinkedWantsDirectoryIsNeitherEnteredNorReplaced() throws Exception {
        String unit = unit("[Service]\nExecStart=/bin/sleep 600\n");
        String t = target();
        Path elsewhere = sandbox.newDirectory("elsewhere");
        cleanup.add(elsewhere);
        Path wants = dir.resolve(t + ".wants");
        Files.createSymbolicLink(wants, elsewhere);
        List<String> before = snapshot(elsewhere);
        Refused e = assertThrows(Refused.class, () -> UnitLinks.create(dir, unit, List.of(new InstallLink(t, "wants"))));
        assertTrue(e.getMessage().contains("it is a symlink to " + elsewhere + ", not a directory"), e.getMessage());
        assertEquals(before, snapshot(elsewhere));

        // a link of the unit's name in the directory the symlink points at is not removed through it
        Files.createSymbolicLink(elsewhere.resolve(unit), dir.resolve(unit));
        before = snapshot(elsewhere);
        Removed r = UnitLinks.remove(dir, unit, List.of(new InstallLink(t, "wants")));
        assertEquals(List.of(), r.links());
        assertTrue(r.skipped().get(0).contains("not a directory; left alone, not followed"), r.skipped().toString());
        assertEquals(before, snapshot(elsewhere));

        // a regular file where the directory should be: refused as well
        Files.delete(wants);
        Files.writeString(wants, "x");
        before = snapshot();
        e = assertThrows(Refused.class, () -> UnitLinks.create(dir, unit, List.of(new InstallLink(t, "wants"))));
        assertTrue(e.getMessage().contains("it is a regular file, not a directory"), e.getMessage());
        assertEquals(before, snapshot());
    }

    @Test
    void theUnitFileMustBeARegularFile() throws Exception {
        String t = target();
        String missing = "steward-lk" + UUID.randomUUID().toString().substring(0, 6) + ".service";
        List<String> before = snapshot();
        Refused e = assertThrows(Refused.class, () -> UnitLinks.create(dir, missing, List.of(new InstallLink(t, "wants"))));
        assertTrue(e.getMessage().contains("is missing, not a regular unit file"), e.getMessage());
        String real = unit("[Service]\nExecStart=/bin/sleep 600\n");
        Path alias = dir.resolve(missing);
        Files.createSymbolicLink(alias, Path.of(real));
        cleanup.add(alias);
        before = snapshot();
        e = assertThrows(Refused.class, () -> UnitLinks.create(dir, missing, List.of(new InstallLink(t, "wants"))));
        assertTrue(e.getMessage().contains("is a symlink to " + real), e.getMessage());
        assertEquals(before, snapshot());
    }

    @Test
    void removeTakesOnlyItsOwnLinksAndOnlyEmptiedDirectories() throws Exception {
        String unit = unit("[Service]\nExecStart=/bin/sleep 600\n");
        String other = unit("[Service]\nExecStart=/bin/sleep 600\n");
        String t1 = target();
        String t2 = target();
        String t3 = target();
        Files.createDirectory(dir.resolve(t3 + ".wants"));       // the operator's, empty: not Steward's to remove
        List<InstallLink> links = List.of(new InstallLink(t1, "wants"), new InstallLink(t2, "wants"));
        UnitLinks.create(dir, unit, links);
        UnitLinks.create(dir, other, List.of(new InstallLink(t2, "wants")));
        Removed r = UnitLinks.remove(dir, unit, List.of(new InstallLink(t1, "wants"), new InstallLink(t2, "wants"),
                new InstallLink(t3, "wants")));
        assertEquals(List.of(dir.resolve(t1 + ".wants").resolve(unit), dir.resolve(t2 + ".wants").resolve(unit)),
                r.links());
        assertEquals(List.of(dir.resolve(t1 + ".wants")), r.directories());
        assertEquals(List.of(), r.skipped());
        assertTrue(Files.isSymbolicLink(dir.resolve(t2 + ".wants").resolve(other)));
        assertTrue(Files.isDirectory(dir.resolve(t3 + ".wants")), "an empty directory it did not empty stays");
        Removed again = UnitLinks.remove(dir, unit, links);
        assertEquals(List.of(), again.links());
        assertEquals(List.of(), again.skipped(), "nothing there is nothing to report");
    }

    @Test
    void namesArePlainUnitNames() {
        for (String bad : List.of("../x.target", "a/b.target", "x.socket", "x", "", "steward-x@.service/..",
                "x.target\n", "a".repeat(250) + ".target")) {
            assertThrows(IllegalArgumentException.class, () -> new InstallLink(bad, "wants"), bad);
            assertThrows(IllegalArgumentException.class, () -> UnitLinks.create(dir, bad, List.of(MULTI_USER)), bad);
            assertThrows(IllegalArgumentException.class, () -> UnitLinks.remove(dir, bad, List.of(MULTI_USER)), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> new InstallLink("multi-user.target", "upholds"));
        assertThrows(IllegalArgumentException.class, () -> new InstallLink("multi-user.target", "alias"));
        assertThrows(IllegalArgumentException.class, () -> UnitLinks.create(Path.of("relative"), "steward-x.service",
                List.of(MULTI_USER)));
    }
}
