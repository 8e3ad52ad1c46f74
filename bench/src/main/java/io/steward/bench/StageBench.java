package io.steward.bench;

import io.steward.delivery.staging.Stager;
import io.steward.delivery.staging.StagingSettings;
import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.AddonRecord;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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
        Stager stager = new Stager(HostLayout.from(properties::get), StagingSettings.defaults().withSyncFiles(sync), false,
                List.of());
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
}
