package io.steward.supervision;

import java.util.regex.Pattern;

/** The add-on version rule of PRODUCT §2; a version becomes a directory name on the host. */
public final class Versions {
    private static final Pattern VALID = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$");

    private Versions() {
    }

    /** True when {@code version} may be used as an add-on version (and so as a path segment). */
    public static boolean isValid(String version) {
        return version != null && VALID.matcher(version).matches();
    }
}
