package io.steward.health.internal;

import io.steward.observe.StewardObserver;
import io.steward.supervision.KindInfo;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionService;
import io.steward.supervision.SupervisionStatus;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.felix.hc.api.HealthCheck;
import org.apache.felix.hc.api.Result;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

/**
 * One Felix Health Check per supervision kind that has a dispatcher or add-ons ({@code hc.name} "Steward kind
 * KIND", tags {@code steward}, {@code steward.kind}, {@code steward.kind.KIND}), judged by {@link Judge#kind} at
 * each execution; the set of kinds is brought up to date after every pass.
 */
@Component(service = StewardObserver.class, immediate = true)
public final class KindChecks implements StewardObserver {
    private final BundleContext context;
    private final SupervisionService supervision;
    private final Map<String, ServiceRegistration<HealthCheck>> checks = new HashMap<>();

    @Activate
    public KindChecks(BundleContext context, @Reference SupervisionService supervision) {
        this.context = context;
        this.supervision = supervision;
        refresh();
    }

    @Override
    public void passCompleted(ReconcileReport report) {
        refresh();
    }

    /** The kinds to check: those served now and those of known add-ons. */
    static Set<String> kinds(SupervisionService s) {
        Set<String> kinds = new TreeSet<>();
        s.kinds().stream().map(KindInfo::kind).forEach(kinds::add);
        s.statuses().stream().filter(st -> st.desiredVersion().isPresent()).map(SupervisionStatus::kind).forEach(kinds::add);
        return kinds;
    }

    static Result judge(SupervisionService s, String kind) {
        boolean served = s.kinds().stream().anyMatch(k -> k.kind().equals(kind));
        return new Result(Judge.kind(kind, s.statuses(), served));
    }

    private synchronized void refresh() {
        Set<String> wanted = kinds(supervision);
        checks.entrySet().removeIf(e -> {
            if (wanted.contains(e.getKey())) {
                return false;
            }
            unregister(e.getValue());
            return true;
        });
        for (String kind : wanted) {
            checks.computeIfAbsent(kind, k -> {
                Hashtable<String, Object> p = new Hashtable<>();
                p.put(HealthCheck.NAME, "Steward kind " + k);
                p.put(HealthCheck.TAGS, new String[] {"steward", "steward.kind", "steward.kind." + k});
                return context.registerService(HealthCheck.class, () -> judge(supervision, k), p);
            });
        }
    }

    @Deactivate
    synchronized void deactivate() {
        checks.values().forEach(KindChecks::unregister);
        checks.clear();
    }

    private static void unregister(ServiceRegistration<?> r) {
        try {
            r.unregister();
        } catch (IllegalStateException e) {
            // gone with the bundle
        }
    }
}
