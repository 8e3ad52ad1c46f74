package io.steward.supervision.sidecar.internal;

import com.google.gson.JsonObject;
import io.steward.supervision.AddonId;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The files a sidecar sees in its home: the merged {@code config.json} (the artifact's default config under the
 * assignment's) and the size-rotated {@code log/stdout.log} and {@code log/stderr.log}.
 * <p>
 * Threading: any thread; stateless apart from its settings.
 */
final class AddonFiles {
    // the dispatcher's logger: log categories stay what they were before the dispatcher was split
    private static final Logger LOG = LoggerFactory.getLogger(SidecarDispatcher.class);

    private final HostLayout layout;
    private final long logMaxBytes;
    private final int logKeep;

    AddonFiles(HostLayout layout, long logMaxBytes, int logKeep) {
        this.layout = layout;
        this.logMaxBytes = logMaxBytes;
        this.logKeep = logKeep;
    }

    Path home(AddonId id) {
        return layout.addonHome(id);
    }

    Path configFile(AddonId id) {
        return layout.addonHome(id).resolve("config.json");
    }

    Path logFile(AddonId id, String stream) {
        return layout.addonHome(id).resolve("log").resolve(stream + ".log");
    }

    void rotateLogs(AddonId id) {
        for (String stream : List.of("stdout", "stderr")) {
            try {
                if (Files2.rotate(logFile(id, stream), logMaxBytes, logKeep)) {
                    LOG.debug("Add-on {}: rotated {}.log", id, stream);
                }
            } catch (IOException e) {
                LOG.debug("Add-on {}: rotating {}.log failed", id, stream, e);
            }
        }
    }

    /** A file named by the manifest, which must be a regular file inside the staged directory. */
    static Path inside(AddonId id, Path staged, String name) throws SupervisionException {
        try {
            Path root = staged.toRealPath();
            Path file = staged.resolve(name).normalize();
            if (!file.startsWith(staged) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)
                    || !file.toRealPath().startsWith(root)) {
                throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": config file \"" + name
                        + "\" is not a regular file inside the artifact");
            }
            return file;
        } catch (IOException e) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": config file \"" + name
                    + "\" cannot be read: " + e.getMessage(), e);
        }
    }

    byte[] mergedConfig(AddonId id, Optional<Path> defaultConfig, Assignment a) throws SupervisionException {
        try {
            JsonObject base = defaultConfig.isPresent()
                    ? Files2.object(Files.readString(defaultConfig.get(), StandardCharsets.UTF_8),
                    "the default config " + defaultConfig.get().getFileName())
                    : new JsonObject();
            return Files2.bytes(Files2.mergeConfig(base, Files2.object(a.configJson(), "the assignment's config")));
        } catch (IllegalArgumentException e) {
            throw new SupervisionException(Disposition.PERMANENT, "add-on " + id + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot read its default config: "
                    + e.getMessage(), e);
        }
    }

    String configHash(Optional<Path> defaultConfig, Assignment a) {
        try {
            return Files2.sha256(mergedConfig(a.id(), defaultConfig, a));
        } catch (SupervisionException e) {
            return "";
        }
    }

    void writeConfig(AddonId id, byte[] config) throws SupervisionException {
        try {
            Files2.writeAtomically(configFile(id), config);
        } catch (IOException e) {
            throw new SupervisionException(Disposition.TRANSIENT, "add-on " + id + ": cannot write "
                    + configFile(id) + ": " + e.getMessage(), e);
        }
    }

    /** The config file as it is now, to restore after a failed update; null when there is none. */
    byte[] currentConfig(AddonId id) {
        try {
            return Files.readAllBytes(configFile(id));
        } catch (IOException e) {
            return null;
        }
    }
}
