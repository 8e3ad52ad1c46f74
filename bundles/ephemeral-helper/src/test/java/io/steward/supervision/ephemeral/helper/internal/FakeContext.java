package io.steward.supervision.ephemeral.helper.internal;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

/** A {@link BundleContext} that only registers services, into a list the test can read. */
final class FakeContext {
    /** One registered service. */
    record Registration(Class<?> type, Object service, Map<String, Object> properties) {
    }

    final List<Registration> registered = Collections.synchronizedList(new ArrayList<>());
    final BundleContext context = (BundleContext) Proxy.newProxyInstance(FakeContext.class.getClassLoader(),
            new Class<?>[] {BundleContext.class}, (proxy, method, args) -> {
                if (method.getName().equals("registerService") && args[0] instanceof Class<?> type) {
                    return register(type, args[1], (Dictionary<?, ?>) args[2]);
                }
                throw new UnsupportedOperationException(method.getName());
            });

    private ServiceRegistration<?> register(Class<?> type, Object service, Dictionary<?, ?> dictionary) {
        Map<String, Object> properties = new HashMap<>();
        for (var keys = dictionary.keys(); keys.hasMoreElements(); ) {
            Object key = keys.nextElement();
            properties.put((String) key, dictionary.get(key));
        }
        Registration r = new Registration(type, service, Map.copyOf(properties));
        registered.add(r);
        return (ServiceRegistration<?>) Proxy.newProxyInstance(FakeContext.class.getClassLoader(),
                new Class<?>[] {ServiceRegistration.class}, (proxy, method, args) -> {
                    if (method.getName().equals("unregister")) {
                        if (!registered.remove(r)) {
                            throw new IllegalStateException("already unregistered");
                        }
                        return null;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }

    /** Services of {@code type} registered now. */
    <S> List<Registration> services(Class<S> type) {
        synchronized (registered) {
            return registered.stream().filter(r -> r.type() == type).toList();
        }
    }
}
