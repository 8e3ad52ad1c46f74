package io.steward.itests.karaf;

import static org.junit.Assert.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.Test;

/**
 * The Karaf features repository is written by hand; this keeps it in step with the single source of
 * truth, features/supervision/pom.xml: every Steward bundle listed there is in some Karaf feature, and
 * the Karaf features list no Steward bundle that is not there. (Run by Surefire, outside Karaf.)
 */
public class KarafFeaturesFollowTheBundleListsTest {
    private static final Path ROOT = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().getParent();

    @Test
    public void everySupervisionBundleIsInAKarafFeatureAndNothingElse() throws IOException {
        Set<String> listed = matches(ROOT.resolve("features/supervision/pom.xml"),
                "<artifactId>(io\\.steward\\.[a-z.-]+)</artifactId>");
        Set<String> inKaraf = matches(ROOT.resolve("features/karaf/src/main/feature/steward-features.xml"),
                "mvn:io\\.steward/(io\\.steward\\.[a-z.-]+)/");
        // not bundles: the pom's own coordinates, the repository's URL in the XML's comment
        listed.removeIf(a -> a.startsWith("io.steward.features."));
        inKaraf.removeIf(a -> a.startsWith("io.steward.features."));
        assertEquals("Steward bundles of features/supervision/pom.xml vs the Karaf features", listed, inKaraf);
    }

    private static Set<String> matches(Path file, String regex) throws IOException {
        Set<String> found = new TreeSet<>();
        Matcher m = Pattern.compile(regex).matcher(Files.readString(file, StandardCharsets.UTF_8));
        while (m.find()) {
            found.add(m.group(1));
        }
        if (found.isEmpty()) {
            throw new AssertionError("no Steward bundle found in " + file);
        }
        return found;
    }
}
