package io.steward.bench;

import io.steward.delivery.internal.DeliveryStager;
import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.AddonRecord;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.osgi.framework.BundleContext;

/**
 * Times Steward's verify-and-stage of one artifact (one pass: SHA-256 while inflating and extracting,
 * then the Ed25519 check, then the rename into versions/), in this JVM, after one warm-up run. The data
 * directory is emptied between runs (not timed), so that every run downloads and extracts in full.
 * <p>
 * Arguments: ARTIFACT TRUST_DIR WORK_DIR ID VERSION SHA256 SIGNATURE RUNS SYNC_FILES. Prints the median
 * wall time in seconds.
 */
public final class StageBench {
    private StageBench() {
    }

    public static void main(String[] args) throws Exception {
        Path artifact = Path.of(args[0]).toAbsolutePath();
        Path work = Path.of(args[2]).toAbsolutePath();
        Path data = work.resolve("data");
        int runs = Integer.parseInt(args[7]);
        boolean sync = Boolean.parseBoolean(args[8]);
        Map<String, String> properties = Map.of("steward.data", data.toString(), "steward.trust", args[1],
                "steward.etc", work.resolve("etc").toString());
        BundleContext context = proxy(BundleContext.class, (m, a) -> m.getName().equals("getProperty")
                ? properties.get((String) a[0]) : null);
        DeliveryStager.Config config = proxy(DeliveryStager.Config.class,
                (m, a) -> m.getName().equals("sync_files") ? sync : m.getDefaultValue());
        DeliveryStager stager = new DeliveryStager(context, config);
        AddonId id = new AddonId(args[3]);
        Assignment assignment = new Assignment(id, args[4], true, "sidecar", "pushed_artifact",
                Optional.of(new ArtifactRef(artifact.toUri().toString(), args[5], args[6], Optional.empty())),
                Optional.empty(), List.of(), Map.of(), "{}", List.of(), Resources.NONE);
        AddonRecord record = new AddonRecord(assignment, data.resolve("addons").resolve(id.value()), 1);
        List<Double> times = new ArrayList<>();
        for (int i = 0; i <= runs; i++) {
            Trees.delete(data);
            long t0 = System.nanoTime();
            stager.stage(record);
            double seconds = (System.nanoTime() - t0) / 1e9;
            if (i > 0) {        // run 0 warms the JIT up
                times.add(seconds);
            }
        }
        Trees.delete(data);
        Collections.sort(times);
        System.out.printf("%.3f%n", times.get(times.size() / 2));
    }

    @SuppressWarnings("unchecked")
    private static <T> T proxy(Class<T> type, java.util.function.BiFunction<java.lang.reflect.Method, Object[], Object> h) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, a) -> switch (m.getName()) {
            case "hashCode" -> System.identityHashCode(p);
            case "equals" -> p == a[0];
            case "toString" -> type.getSimpleName();
            default -> h.apply(m, a);
        });
    }
}
