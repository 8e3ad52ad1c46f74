package io.steward.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.bundle;

import com.google.gson.JsonParser;
import io.steward.helper.AddonHelper;
import io.steward.helper.HelperRequest;
import io.steward.helper.HelperResult;
import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;

/**
 * The {@code ephemeral_helper} kind in a real Felix with core, the file source and the shell: a
 * helper assigned through the watched file becomes {@code ready}, its {@link AddonHelper} service
 * runs a real process through {@code steward:invoke}, and it goes and comes back with its bundle.
 * <p>
 * The helper is a real signed artifact (made by the driver with the JDK's Ed25519, the key in the trust
 * store) staged by the real delivery bundle.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class EphemeralHelperIT extends PlatformTestSupport {
    static final String HELPER_BUNDLE = "io.steward.supervision.ephemeral.helper";
    private static final String HELPER = "echo-helper";
    /** Where the driver leaves the signed artifact's assignment field for the probe. */
    private static final String ARTIFACT = "helper-artifact.json";

    /** The kind and the delivery bundle next to the common platform. */
    @Configuration
    @Override
    public Option[] config() throws IOException {
        List<Option> options = new ArrayList<>(List.of(super.config()));
        options.addAll(deliveryBundles());
        for (File jar : List.of(reactorBundle("bundle.ephemeral.helper", "ephemeral-helper", HELPER_BUNDLE))) {
            options.add(bundle(jar.toURI().toString()));
        }
        return options.toArray(new Option[0]);
    }

    /** Driver: signs the helper's artifact, trusts the key, and leaves the artifact object in etc. */
    @Override
    protected void beforeBoot(Path data, Path etc) throws IOException {
        SignedArtifacts signer = new SignedArtifacts("helper-it");
        signer.trust(etc.resolve("trust"));
        String manifest = "{\"id\":\"" + HELPER + "\",\"version\":\"1.0.0\",\"supervision\":\"ephemeral_helper\","
                + "\"binary\":\"helper.sh\"}";
        String program = String.join("\n", "#!/bin/bash",
                "if [ \"$1\" = fail ]; then echo 'failing on purpose' >&2; exit 4; fi",
                "echo \"helper $STEWARD_ADDON_ID 1.0.0 says: $*\"", "");
        Files.writeString(etc.resolve(ARTIFACT), signer.pack(HELPER, "1.0.0", Map.of("addon.json", manifest,
                "helper.sh", program), data.getParent().resolve("artifacts").resolve(HELPER + "-1.0.0.tar.gz")),
                StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- fixtures

    @Before
    public void setUp() throws Exception {
        // a test that failed halfway may have left the kind bundle stopped
        Bundle kind = installedBundle(HELPER_BUNDLE);
        if (kind.getState() != Bundle.ACTIVE) {
            kind.start();
        }
        writeAssignments(document(true));
        awaitState(HELPER, SupervisionState.READY);
        awaitHelperService();
        await("the steward:invoke command is registered", () -> {
            try {
                Shell.run(context, "steward:kinds");
                return true;
            } catch (AssertionError e) {
                return false;
            }
        });
    }

    private String artifact() throws IOException {
        return Files.readString(assignmentFile().resolveSibling(ARTIFACT), StandardCharsets.UTF_8);
    }

    private String document(boolean enabled) throws IOException {
        return "{\"revision\":\"" + Assignments.nextRevision("helper") + "\",\"addons\":[{\"id\":\"" + HELPER
                + "\",\"version\":\"1.0.0\",\"enabled\":" + enabled + ",\"supervision\":\"ephemeral_helper\","
                + "\"delivery\":\"pushed_artifact\",\"artifact\":" + artifact() + ",\"binary\":\"helper.sh\"}]}";
    }

    private List<ServiceReference<AddonHelper>> helperServices() throws Exception {
        return new ArrayList<>(context.getServiceReferences(AddonHelper.class,
                "(" + AddonHelper.ADDON_ID + "=" + HELPER + ")"));
    }

    private ServiceReference<AddonHelper> awaitHelperService() {
        List<ServiceReference<AddonHelper>> found = new ArrayList<>();
        await("one AddonHelper service with addon.id=" + HELPER + " is registered", () -> {
            found.clear();
            found.addAll(helperServices());
            return found.size() == 1;
        });
        return found.get(0);
    }

    private void awaitNoHelperService() {
        await("no AddonHelper service with addon.id=" + HELPER + " is registered", () -> helperServices().isEmpty());
    }

    // ---------------------------------------------------------------- tests

    @Test
    public void assignedHelperIsReadyAndRunsThroughTheShell() throws Exception {
        SupervisionStatus status = supervision().status(new AddonId(HELPER)).orElseThrow();
        assertEquals("ephemeral_helper", status.kind());
        assertEquals(Optional.of("1.0.0"), status.activeVersion());

        ServiceReference<AddonHelper> ref = awaitHelperService();
        assertEquals("1.0.0", ref.getProperty(AddonHelper.ADDON_VERSION));
        assertEquals(HELPER_BUNDLE, ref.getBundle().getSymbolicName());

        String output = Shell.run(context, "steward:invoke " + HELPER + " hello world");
        assertTrue("steward:invoke shows the helper's stdout: " + output,
                output.contains("helper " + HELPER + " 1.0.0 says: hello world\n"));
        assertTrue("steward:invoke shows the exit code: " + output, output.contains("exit 0"));

        try {
            Shell.run(context, "steward:invoke " + HELPER + " fail");
            fail("a helper exiting with 4 makes steward:invoke fail");
        } catch (AssertionError e) {
            assertTrue(e.getMessage(), e.getMessage().contains("helper " + HELPER + " exited with code 4"));
            assertTrue(e.getMessage(), e.getMessage().contains("failing on purpose"));
        }
        try {
            Shell.run(context, "steward:invoke no-such-helper");
            fail("steward:invoke of an unknown helper fails");
        } catch (AssertionError e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no helper no-such-helper is on call"));
        }

        // the service itself, as an appliance component would call it
        AddonHelper helper = context.getService(ref);
        try {
            HelperResult r = helper.run(HelperRequest.of("direct"));
            assertEquals(0, r.exitCode());
            assertEquals("helper " + HELPER + " 1.0.0 says: direct\n", r.stdoutText());
        } finally {
            context.ungetService(ref);
        }
    }

    @Test
    public void stoppingTheKindBundleTakesTheServiceAwayAndStartingItBringsItBack() throws Exception {
        reconcileNow();   // settled: no pass still to come from the set-up
        Object firstService = awaitHelperService().getProperty(Constants.SERVICE_ID);
        Bundle kind = installedBundle(HELPER_BUNDLE);
        // the artifact is unreachable while the kind is away and comes back: adoption must not fetch
        Path artifact = Path.of(java.net.URI.create(JsonParser.parseString(artifact()).getAsJsonObject().get("url")
                .getAsString()));
        Path away = artifact.resolveSibling(artifact.getFileName() + ".away");
        Files.move(artifact, away);

        kind.stop();
        try {
            awaitNoHelperService();
            awaitState(HELPER, SupervisionState.DETACHED);
            assertTrue("kind ephemeral_helper is gone from kinds(): " + supervision().kinds(),
                    supervision().kinds().stream().noneMatch(k -> k.kind().equals("ephemeral_helper")));
            assertTrue("the staged helper stays on disk while its kind is away",
                    Files.isExecutable(dataDir().resolve("addons").resolve(HELPER).resolve("current/helper.sh")));
        } finally {
            kind.start();
        }
        try {
            ServiceReference<AddonHelper> back = awaitHelperService();
            assertFalse("a new registration", firstService.equals(back.getProperty(Constants.SERVICE_ID)));
            awaitState(HELPER, SupervisionState.READY);
            reconcileNow();
            awaitState(HELPER, SupervisionState.READY);      // adopted from current: no fetch of the missing file
            String output = Shell.run(context, "steward:invoke " + HELPER + " again");
            assertTrue(output, output.contains("says: again"));
        } finally {
            Files.move(away, artifact);
        }
    }

    @Test
    public void disablingTheHelperUnregistersItAndRemovesItsFiles() throws Exception {
        writeAssignments(document(false));
        awaitRemovedOrGone(HELPER);
        awaitNoHelperService();

        assertFalse(Files.exists(dataDir().resolve("addons").resolve(HELPER)));
        try {
            Shell.run(context, "steward:invoke " + HELPER);
            fail("steward:invoke of a removed helper fails");
        } catch (AssertionError e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no helper " + HELPER + " is on call"));
        }
    }
}
