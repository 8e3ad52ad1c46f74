package io.steward.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.steward.supervision.AddonId;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** An observer's bug must not change what Steward does. */
class StewardObserverTest {
    @Test
    void eachCallsEveryObserverAndSkipsOneThatThrows() {
        List<String> seen = new ArrayList<>();
        StewardObserver counting = new StewardObserver() {
            @Override
            public void restarted(AddonId addon) {
                seen.add("restarted " + addon);
            }
        };
        StewardObserver broken = new StewardObserver() {
            @Override
            public void restarted(AddonId addon) {
                throw new IllegalStateException("observer bug");
            }
        };
        StewardObserver silent = new StewardObserver() {
        };
        StewardObserver.each(List.of(broken, counting, silent, counting), o -> o.restarted(new AddonId("x")));
        assertEquals(List.of("restarted x", "restarted x"), seen);
    }
}
