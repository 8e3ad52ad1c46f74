package io.steward.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** When a one-shot command reuses the installation's bundle cache, and when it makes it again. */
class OneShotCacheTest {
    @TempDir
    Path home;

    private Settings settings;

    @BeforeEach
    void installation() throws Exception {
        Files.createDirectories(home.resolve("bin"));
        Files.createDirectories(home.resolve("deploy"));
        Files.writeString(Files.createDirectories(home.resolve("bundle")).resolve("a.jar"), "a");
        settings = Settings.resolve(Options.parse(List.of("status")), home, Map.of());
    }

    @Test
    void theFirstCommandMakesItTheNextReusesItAndAChangedJarMakesItAgain() throws Exception {
        OneShotCache first = OneShotCache.open(settings);
        assertFalse(first.temporary());
        assertEquals(home.resolve("cache/oneshot"), first.dir());
        assertTrue(first.clean(), "a cache never made is made");
        Files.createDirectories(first.dir());   // what Felix does
        first.close(true);

        OneShotCache second = OneShotCache.open(settings);
        assertFalse(second.clean(), "nothing changed: reused");
        second.close(true);

        Path jar = home.resolve("bundle/a.jar");
        Files.setLastModifiedTime(jar, FileTime.fromMillis(Files.getLastModifiedTime(jar).toMillis() + 1000));
        OneShotCache changed = OneShotCache.open(settings);
        assertTrue(changed.clean(), "a jar rewritten in bundle/ makes it again");
        changed.close(true);

        Files.writeString(home.resolve("deploy/kind.jar"), "k");
        OneShotCache dropped = OneShotCache.open(settings);
        assertTrue(dropped.clean(), "a jar dropped in deploy/ makes it again");
        dropped.close(true);
        assertFalse(OneShotCache.open(settings).clean());
    }

    /** CI runs as root and has the steward user: a cache another user owns is never reused. */
    @Test
    void aCacheOwnedByAnotherUserIsNotReused() throws Exception {
        OneShotCache first = OneShotCache.open(settings);
        Files.createDirectories(first.dir());
        first.close(true);
        java.nio.file.attribute.UserPrincipal other = home.getFileSystem().getUserPrincipalLookupService()
                .lookupPrincipalByName("steward");
        assertFalse(other.getName().equals(System.getProperty("user.name")), "run as another user than steward");
        Files.setOwner(home.resolve("cache"), other);

        OneShotCache next = OneShotCache.open(settings);
        assertTrue(next.temporary(), "a temporary cache instead");
        assertFalse(next.dir().startsWith(home), next.dir().toString());
        next.close(true);
        assertTrue(Files.isDirectory(home.resolve("cache/oneshot")), "the other user's cache is left alone");
    }

    @Test
    void aCommandThatDidNotRunToItsEndLeavesItToBeMadeAgain() throws Exception {
        OneShotCache made = OneShotCache.open(settings);
        Files.createDirectories(made.dir());
        made.close(true);
        OneShotCache failed = OneShotCache.open(settings);
        assertFalse(failed.clean());
        failed.close(false);
        OneShotCache next = OneShotCache.open(settings);
        assertTrue(next.clean());
        next.close(true);
    }

    @Test
    void aSecondCommandAtTheSameTimeGetsATemporaryCacheDeletedAtItsEnd() throws Exception {
        OneShotCache first = OneShotCache.open(settings);
        OneShotCache second = OneShotCache.open(settings);
        assertTrue(second.temporary(), "the kept cache is in use");
        assertFalse(second.dir().startsWith(home));
        assertTrue(Files.isDirectory(second.dir()));
        second.close(true);
        assertFalse(Files.exists(second.dir()));
        first.close(true);
        OneShotCache third = OneShotCache.open(settings);
        assertFalse(third.temporary(), "released by the first");
        third.close(true);
    }

    @Test
    void theBundlesDataAreasAreEmptiedBeforeTheCacheIsReused() throws Exception {
        OneShotCache made = OneShotCache.open(settings);
        Path config = Files.createDirectories(made.dir().resolve("bundle7/data/config"));
        Files.writeString(config.resolve("a.config"), "left by the last command");
        Files.writeString(made.dir().resolve("bundle7/bundle.info"), "kept");
        made.close(true);

        OneShotCache reused = OneShotCache.open(settings);
        assertFalse(reused.clean());
        assertFalse(Files.exists(made.dir().resolve("bundle7/data")), "no state outlives a command");
        assertTrue(Files.exists(made.dir().resolve("bundle7/bundle.info")));
        reused.close(true);
    }
}
