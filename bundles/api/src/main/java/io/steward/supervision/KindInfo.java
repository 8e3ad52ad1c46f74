package io.steward.supervision;

import java.util.Objects;

/**
 * A supervision kind that has a dispatcher, and the bundle that serves it.
 *
 * @param kind          the kind's wire spelling
 * @param bundle        symbolic name of the bundle that registered the dispatcher
 * @param bundleVersion that bundle's version
 */
public record KindInfo(String kind, String bundle, String bundleVersion) {
    public KindInfo {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(bundle, "bundle");
        Objects.requireNonNull(bundleVersion, "bundleVersion");
    }
}
