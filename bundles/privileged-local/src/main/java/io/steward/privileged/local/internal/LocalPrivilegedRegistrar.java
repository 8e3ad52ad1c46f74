package io.steward.privileged.local.internal;

import io.steward.privileged.PrivilegedOperations;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Hashtable;
import java.util.OptionalLong;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers the in-process {@link PrivilegedOperations} when, and only when, the agent's effective uid
 * is 0 (read from {@code /proc/self/status}, not from {@code user.name}, which any {@code -D} can set).
 * A component without a service, so that a non-root agent simply has no such service from this bundle
 * and nothing shows up as unsatisfied. The registration is undone in {@link #deactivate()}.
 */
@Component(immediate = true)
public final class LocalPrivilegedRegistrar {
    private static final Logger LOG = LoggerFactory.getLogger(LocalPrivilegedRegistrar.class);

    private final ServiceRegistration<PrivilegedOperations> registration;

    @Activate
    public LocalPrivilegedRegistrar(BundleContext context) {
        OptionalLong uid = effectiveUid(Path.of("/proc/self/status"));
        if (uid.isPresent() && uid.getAsLong() == 0) {
            Hashtable<String, Object> properties = new Hashtable<>();
            properties.put("privileged.mode", "in-process");
            registration = context.registerService(PrivilegedOperations.class, new LocalPrivilegedOperations(), properties);
            LOG.info("In-process privileged operations registered (the agent runs as root)");
        } else {
            registration = null;
            LOG.info("In-process privileged operations not registered: the agent runs as uid {}",
                    uid.isPresent() ? uid.getAsLong() : "unknown");
        }
    }

    @Deactivate
    void deactivate() {
        if (registration != null) {
            try {
                registration.unregister();
            } catch (IllegalStateException e) {
                // already gone with the bundle
            }
        }
    }

    /** The effective uid from a {@code /proc/<pid>/status} file ({@code Uid: real effective saved fs}). */
    static OptionalLong effectiveUid(Path procStatus) {
        try {
            for (String line : Files.readAllLines(procStatus, StandardCharsets.US_ASCII)) {
                if (line.startsWith("Uid:")) {
                    String[] f = line.substring(4).trim().split("\\s+");
                    return f.length > 1 ? OptionalLong.of(Long.parseLong(f[1])) : OptionalLong.empty();
                }
            }
        } catch (IOException | RuntimeException e) {
            // no /proc: not Linux, and then not a host Steward can grant capabilities on
        }
        return OptionalLong.empty();
    }
}
