package io.steward.systemd.units;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The durable record of one add-on's units ({@code <data>/state/systemd/<id>.json}), rewritten atomically at
 * every step so that an agent restarted at any instant (even after kill -9) knows what is on the host.
 *
 * @param kind        the kind that installed them
 * @param version     the version whose units are installed
 * @param sha256      digest of the staged artifact they came from
 * @param fingerprint what the assignment looked like (version, artifact, config, resources)
 * @param primary     the unit that is enabled and supervised
 * @param units       units installed and owned
 * @param pending     units of an install that started and has not finished; non-empty after a crash
 * @param stale       units that an update dropped and that still wait to be removed
 * @param files       unit file name → SHA-256 of the bytes Steward wrote, to notice hand edits
 */
record UnitRecord(String kind, String version, String sha256, String fingerprint, String primary,
                  List<String> units, List<String> pending, List<String> stale, Map<String, String> files) {
    UnitRecord {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(sha256, "sha256");
        Objects.requireNonNull(fingerprint, "fingerprint");
        Objects.requireNonNull(primary, "primary");
        units = units == null ? List.of() : List.copyOf(units);
        pending = pending == null ? List.of() : List.copyOf(pending);
        stale = stale == null ? List.of() : List.copyOf(stale);
        files = files == null ? Map.of() : Map.copyOf(files);
    }

    /** Every unit the host may hold for this add-on. */
    List<String> all() {
        java.util.LinkedHashSet<String> all = new java.util.LinkedHashSet<>(units);
        all.addAll(pending);
        all.addAll(stale);
        return List.copyOf(all);
    }
}
