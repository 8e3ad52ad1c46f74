package io.steward.supervision;

import java.util.Objects;
import java.util.OptionalDouble;
import java.util.OptionalLong;

/** Resource limits an assignment asks for; absent means unbounded. */
public record Resources(OptionalDouble cpuMaxPercent, OptionalLong memoryMaxBytes, OptionalLong tasksMax) {
    /** No limits. */
    public static final Resources NONE = new Resources(OptionalDouble.empty(), OptionalLong.empty(), OptionalLong.empty());

    public Resources {
        Objects.requireNonNull(cpuMaxPercent, "cpuMaxPercent");
        Objects.requireNonNull(memoryMaxBytes, "memoryMaxBytes");
        Objects.requireNonNull(tasksMax, "tasksMax");
    }

    /** True when no limit is set. */
    public boolean isEmpty() {
        return cpuMaxPercent.isEmpty() && memoryMaxBytes.isEmpty() && tasksMax.isEmpty();
    }
}
