package io.steward.launcher.guard;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Hashtable;
import java.util.function.Function;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;

/**
 * A stand-in for io.steward.deploy in the launcher's tests (packed into a bundle by BootTest): its check service
 * "verifies" every jar but one named refused.jar by copying it, as the real one hands back a private copy.
 */
public final class AcceptingGuard implements BundleActivator {
    @Override
    public void start(BundleContext context) {
        Hashtable<String, Object> p = new Hashtable<>();
        p.put("steward.deploy.check", Boolean.TRUE);
        context.registerService(Function.class, (Function<Path, Path>) jar -> {
            if (jar.getFileName().toString().equals("refused.jar")) {
                throw new IllegalArgumentException("entry x is not signed (deploy trust: test)");
            }
            try {
                Path copy = Files.createTempFile("guard-", ".jar");
                Files.copy(jar, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                return copy;
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException(e.getMessage());
            }
        }, p);
    }

    @Override
    public void stop(BundleContext context) {
    }
}
