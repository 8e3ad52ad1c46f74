package io.steward.itests;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** Builds assignment documents (PRODUCT §2) for {@code config_toggle} add-ons. */
final class Assignments {
    private static final AtomicInteger REVISIONS = new AtomicInteger();

    private Assignments() {
    }

    /** A revision no other document of this JVM uses. */
    static String nextRevision(String prefix) {
        return prefix + "-" + REVISIONS.incrementAndGet();
    }

    /** One compiled-in {@code config_toggle} add-on, version 1.0.0. */
    static String configToggle(String id, boolean enabled, String... capabilities) {
        List<String> caps = new ArrayList<>();
        for (String c : capabilities) {
            caps.add('"' + c + '"');
        }
        return "{\"id\":\"" + id + "\",\"version\":\"1.0.0\",\"enabled\":" + enabled
                + ",\"supervision\":\"config_toggle\",\"delivery\":\"compiled_in\",\"capabilities\":"
                + caps + ",\"config\":{\"interval_seconds\":30}}";
    }

    /** A document holding the given add-on objects. */
    static String document(String revision, String... addons) {
        return "{\"revision\":\"" + revision + "\",\"addons\":[" + String.join(",", addons) + "]}";
    }
}
