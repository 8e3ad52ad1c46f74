package io.steward.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.zip.ZipException;
import org.junit.jupiter.api.Test;
import org.osgi.framework.BundleException;

class BootTest {

    @Test
    void resolverMessageKeepsTheMissingRequirement() {
        BundleException e = new BundleException("Unable to resolve io.steward.core [2](R 2.0): missing requirement"
                + " [io.steward.core [2](R 2.0)] osgi.wiring.package; (&(osgi.wiring.package=com.google.gson)"
                + "(version>=2.15.0)(!(version>=3.0.0))) Unresolved requirements: [[io.steward.core [2](R 2.0)]"
                + " osgi.wiring.package; (&(osgi.wiring.package=com.google.gson)(version>=2.15.0)(!(version>=3.0.0)))]");
        assertEquals("missing requirement osgi.wiring.package; (&(osgi.wiring.package=com.google.gson)"
                + "(version>=2.15.0)(!(version>=3.0.0)))", Boot.reason(e));
    }

    @Test
    void activatorFailureNamesTheCause() {
        BundleException e = new BundleException("Activator start error in bundle x [3].",
                new IllegalStateException("no config"));
        assertEquals("its activator failed: no config", Boot.reason(e));
    }

    @Test
    void installFailureAddsTheRootCause() {
        BundleException e = new BundleException("Unable to cache bundle: reference:file:/b/x.jar",
                new IOException("wrapped", new ZipException("zip END header not found")));
        assertEquals("Unable to cache bundle: reference:file:/b/x.jar: zip END header not found", Boot.reason(e));
    }
}
