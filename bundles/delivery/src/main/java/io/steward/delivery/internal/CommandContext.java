package io.steward.delivery.internal;

import io.steward.delivery.artifacts.Progress;
import java.nio.file.Path;
import org.osgi.framework.BundleContext;

/**
 * What a delivery command reads from its invocation besides its arguments: the framework properties
 * ({@code steward.cwd}, {@code steward.tty}, the host layout) and the delivery configuration. Immutable.
 */
record CommandContext(BundleContext context, DeliveryStager.Config config) {
    Progress progress(String label, long total) {
        return Boolean.parseBoolean(context.getProperty("steward.tty"))
                ? Progress.percent(System.err, label, total) : Progress.NONE;
    }

    Path resolve(String arg) {
        String cwd = context.getProperty("steward.cwd");
        Path base = Path.of(cwd == null || cwd.isBlank() ? System.getProperty("user.dir") : cwd);
        return base.resolve(arg).toAbsolutePath().normalize();
    }
}
