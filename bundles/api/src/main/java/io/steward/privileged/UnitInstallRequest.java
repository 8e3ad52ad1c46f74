package io.steward.privileged;

import io.steward.supervision.AddonId;
import io.steward.supervision.Resources;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What a systemd kind asks {@link UnitInstaller} to put in place for one add-on.
 *
 * @param id         the add-on
 * @param source     the staged, verified version directory the unit files (and the program) come from
 * @param units      unit file names at the root of {@code source} to install, e.g.
 *                   {@code steward-x.service}; each must follow the naming convention (docs/privilege-separation.md "Unit rules")
 * @param primary    the unit to enable, start and confirm; one of {@code units}
 * @param resources  limits written as the drop-in {@code 50-steward-resources.conf} of the primary's service
 *                   (for a timer, of the service it triggers); none removes that drop-in
 * @param restart    restart the primary when it is already active (a new version or config is behind it)
 * @param jobTimeout how long to wait for each systemd job
 */
public record UnitInstallRequest(AddonId id, Path source, List<String> units, String primary, Resources resources,
                                 boolean restart, Duration jobTimeout) {
    public UnitInstallRequest {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(source, "source");
        units = List.copyOf(units);
        Objects.requireNonNull(primary, "primary");
        if (!units.contains(primary)) {
            throw new IllegalArgumentException("primary unit " + primary + " is not among " + units);
        }
        Objects.requireNonNull(resources, "resources");
        Objects.requireNonNull(jobTimeout, "jobTimeout");
        if (jobTimeout.isNegative() || jobTimeout.isZero()) {
            throw new IllegalArgumentException("jobTimeout must be positive: " + jobTimeout);
        }
    }
}
