package io.steward.updater;

import io.steward.delivery.AddonManifest;
import io.steward.supervision.AddonId;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Binds {@code install_units} to the signed manifest of the verified copy: only the kinds that install units,
 * only units the manifest lists. (The capability side is {@code CapabilityGrant.bound}, shared with the
 * in-process path of a root agent.) Stateless.
 */
final class ManifestBinding {
    /** The supervision kinds whose artifacts carry systemd units. */
    static final Set<String> UNIT_KINDS = Set.of("systemd_service", "systemd_timer");

    private ManifestBinding() {
    }

    /** PERMANENT unless the manifest's kind installs units and lists every one of {@code units}. */
    static void units(AddonId id, AddonManifest manifest, List<String> units) throws SupervisionException {
        if (!UNIT_KINDS.contains(manifest.supervision())) {
            throw refuse(id, "the manifest's supervision " + Updater.printable(manifest.supervision()) + " installs "
                    + "no units (only " + new TreeSet<>(UNIT_KINDS) + " do)");
        }
        for (String u : units) {
            if (!manifest.units().contains(u)) {
                throw refuse(id, Updater.printable(u) + " is not among the manifest's units "
                        + new TreeSet<>(manifest.units()));
            }
        }
    }

    private static SupervisionException refuse(AddonId id, String why) {
        return new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": install_units refused: " + why
                + " [rule: signed manifest]");
    }
}
