package io.steward.supervision;

import java.util.regex.Pattern;

/** Add-on identifier; also a path segment on the host, hence the strict pattern (PRODUCT §2). */
public record AddonId(String value) implements Comparable<AddonId> {
    private static final Pattern VALID = Pattern.compile("^[a-z0-9][a-z0-9_-]{0,62}$");

    public AddonId {
        if (value == null || !VALID.matcher(value).matches()) {
            throw new IllegalArgumentException("\"" + value + "\" is not a valid add-on id");
        }
    }

    /** True when {@code value} may be used as an add-on id. */
    public static boolean isValid(String value) {
        return value != null && VALID.matcher(value).matches();
    }

    @Override
    public int compareTo(AddonId other) {
        return value.compareTo(other.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
