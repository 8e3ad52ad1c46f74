package io.steward.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The crash campaign ({@link CrashCampaign}) as part of {@code mvn -B verify}: a short seeded subset (3 trials,
 * seed 15 unless {@code -Dsteward.crash.trials} and {@code -Dsteward.crash.seed} say otherwise;
 * {@code reliability/crash-campaign.sh} runs the full one). The table goes to stdout and to
 * {@code target/crash-campaign.md}; the test fails unless every trial converged with no duplicate, orphan or torn file.
 */
class CrashCampaignIT {
    @Test
    void everyTrialConvergesWithoutDuplicatesOrphansOrTornFiles() throws Exception {
        int trials = Integer.getInteger("steward.crash.trials", 3);
        long seed = Long.getLong("steward.crash.seed", 15L);
        List<CrashCampaign.Trial> results;
        String table;
        try (CampaignHost host = new CampaignHost()) {
            System.out.println("crash campaign: " + trials + " trials, seed " + seed + " (-Dsteward.crash.seed="
                    + seed + "), host in " + host.root());
            results = new CrashCampaign(host, seed).run(trials);
            table = CrashCampaign.table(seed, results);
            System.out.println(table);
            Files.writeString(Path.of("target/crash-campaign.md"), table + "\n");
        }
        assertEquals(trials, results.stream().filter(CrashCampaign.Trial::converged).count(), table);
        assertEquals(0, results.stream().mapToInt(CrashCampaign.Trial::duplicates).sum(), table);
        assertEquals(0, results.stream().mapToInt(CrashCampaign.Trial::torn).sum(), table);
    }
}
