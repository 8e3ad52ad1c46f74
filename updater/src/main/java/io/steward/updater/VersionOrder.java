package io.steward.updater;

import java.math.BigInteger;

/**
 * The order of add-on versions for anti-rollback (the project has no other): a version is split at {@code .}
 * into segments, compared left to right; two segments of digits only compare as numbers ({@code 10 > 9},
 * {@code 007 = 7}), any other pair as strings (Java's {@link String#compareTo}, so {@code 1-rc1 > 1} and
 * {@code b > a}); when every common segment is equal, the version with more segments is the higher
 * ({@code 1.0.1 > 1.0 } and {@code 1.0.0 > 1.0}). Equal texts are equal versions. Stateless.
 */
final class VersionOrder {
    private VersionOrder() {
    }

    /** Negative when {@code a} is older than {@code b}, zero when they are the same version, positive when newer. */
    static int compare(String a, String b) {
        String[] x = a.split("\\.", -1);
        String[] y = b.split("\\.", -1);
        for (int i = 0; i < Math.min(x.length, y.length); i++) {
            int c = segment(x[i], y[i]);
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(x.length, y.length);
    }

    private static int segment(String a, String b) {
        if (numeric(a) && numeric(b)) {
            return new BigInteger(a).compareTo(new BigInteger(b));
        }
        return a.compareTo(b);
    }

    private static boolean numeric(String s) {
        return !s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9');
    }
}
