package io.steward.delivery;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The {@code addon.json} manifest at the root of an artifact (PRODUCT §3).
 *
 * @param id           add-on id; must equal the assignment's
 * @param version      version; must equal the assignment's
 * @param supervision  supervision kind; must equal the assignment's
 * @param binary       path of the program inside the artifact; must equal the assignment's when it names one
 * @param units        systemd unit file names shipped in the artifact (empty for other kinds)
 * @param capabilities file capabilities the add-on needs
 * @param config       name of the default config file inside the artifact, if any
 * @param parameters   other manifest fields (e.g. {@code watchdog_seconds}, {@code reload_signal},
 *                     {@code permanent_exit_codes}) as JSON texts, for the kinds to interpret
 */
public record AddonManifest(String id, String version, String supervision, String binary, List<String> units,
                            List<String> capabilities, Optional<String> config, Map<String, String> parameters) {
    public AddonManifest {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(supervision, "supervision");
        Objects.requireNonNull(binary, "binary");
        units = List.copyOf(units);
        capabilities = List.copyOf(capabilities);
        Objects.requireNonNull(config, "config");
        parameters = Map.copyOf(parameters);
    }
}
