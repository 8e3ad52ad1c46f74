package io.steward.core.internal;

import io.steward.supervision.KindInfo;
import io.steward.supervision.spi.SupervisionDispatcher;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.ComponentServiceObjects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whiteboard of kinds: the dispatchers bound to the reconciler, and which one serves each kind
 * (highest ranking, then oldest). Copy-on-write: binding and unbinding (SCR's threads) replace the list,
 * a pass and its workers read it without a lock.
 */
final class DispatcherRegistry {
    // the reconciler's logger: these lines are the reconciler's in the log
    private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

    /** A registered dispatcher and where it comes from. */
    record Bound(String kind, Long serviceId, int ranking, String bundle, String bundleVersion,
                 boolean concurrent, LazyDispatcher service) {
        /** The service object, got at the first call; one that cannot be got counts as gone. */
        SupervisionDispatcher dispatcher() {
            SupervisionDispatcher d = service.get();
            if (d == null) {
                throw new DispatcherGone();
            }
            return d;
        }
    }

    /** The kind's dispatcher unregistered between the decision and the call (a bundle update). */
    static final class DispatcherGone extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DispatcherGone() {
            super(null, null, false, false);
        }
    }

    private final Object lock = new Object();
    private volatile List<Bound> bound = List.of();

    /** Adds a dispatcher; false (and a warning) for one without a kind. */
    boolean add(ComponentServiceObjects<SupervisionDispatcher> objects, ServiceReference<SupervisionDispatcher> ref) {
        Object kind = ref.getProperty(SupervisionDispatcher.KIND_PROPERTY);
        if (!(kind instanceof String k) || k.isBlank()) {
            LOG.warn("Ignoring a dispatcher of bundle {} without a {} property", ref.getBundle().getSymbolicName(),
                    SupervisionDispatcher.KIND_PROPERTY);
            return false;
        }
        Object ranking = ref.getProperty(Constants.SERVICE_RANKING);
        Object concurrent = ref.getProperty(SupervisionDispatcher.CONCURRENT_PROPERTY);
        Bound b = new Bound(GsonAssignmentCodec.canonicalKind(k), (Long) ref.getProperty(Constants.SERVICE_ID),
                ranking instanceof Integer r ? r : 0, ref.getBundle().getSymbolicName(),
                ref.getBundle().getVersion().toString(),
                Boolean.TRUE.equals(concurrent) || "true".equals(concurrent), new LazyDispatcher(objects));
        synchronized (lock) {
            List<Bound> next = new ArrayList<>(bound);
            next.add(b);
            bound = List.copyOf(next);
        }
        LOG.info("Kind {} is served by {} {}", b.kind(), b.bundle(), b.bundleVersion());
        return true;
    }

    /** Removes a dispatcher and gives back the service object it got, if any. */
    void remove(ServiceReference<SupervisionDispatcher> ref) {
        Long id = (Long) ref.getProperty(Constants.SERVICE_ID);
        List<Bound> gone;
        synchronized (lock) {
            gone = bound.stream().filter(b -> b.serviceId().equals(id)).toList();
            bound = bound.stream().filter(b -> !b.serviceId().equals(id)).toList();
        }
        gone.forEach(b -> b.service().release());
    }

    Optional<Bound> dispatcherFor(String kind) {
        return bound.stream()
                .filter(b -> b.kind().equals(kind))
                .max(Comparator.comparingInt(Bound::ranking).thenComparing(Bound::serviceId, Comparator.reverseOrder()));
    }

    Bound dispatcherNow(String kind) {
        return dispatcherFor(kind).orElseThrow(DispatcherGone::new);
    }

    boolean stillBound(Bound b) {
        return bound.stream().anyMatch(x -> x.serviceId().equals(b.serviceId()));
    }

    List<KindInfo> kinds() {
        Map<String, KindInfo> byKind = new TreeMap<>();
        for (Bound b : bound) {
            dispatcherFor(b.kind()).ifPresent(d -> byKind.put(d.kind(), new KindInfo(d.kind(), d.bundle(),
                    d.bundleVersion())));
        }
        return List.copyOf(byKind.values());
    }
}
