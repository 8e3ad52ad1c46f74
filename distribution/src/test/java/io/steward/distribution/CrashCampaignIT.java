package io.steward.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The crash campaign ({@link CrashCampaign}) as part of {@code mvn -B verify}: a short seeded subset (3 trials of
 * seed 15, then 2 of seed 16 through the fleet source) unless {@code -Dsteward.crash.trials} and
 * {@code -Dsteward.crash.seed} say otherwise;
 * {@code reliability/crash-campaign.sh} runs the full one). The table goes to stdout and to
 * {@code target/crash-campaign.md}; the test fails unless every trial converged with no duplicate, orphan or torn file.
 */
class CrashCampaignIT {
    @Test
    void everyTrialConvergesWithoutDuplicatesOrphansOrTornFiles() throws Exception {
        campaign(Integer.getInteger("steward.crash.trials", 3), Long.getLong("steward.crash.seed", 15L), false);
    }

    /** The same through the fleet source: assignments put into a real nats-server, which is killed too. */
    @Test
    void everyTrialThroughTheFleetSourceConvergesToo() throws Exception {
        campaign(Integer.getInteger("steward.crash.trials", 2), Long.getLong("steward.crash.seed", 16L), true);
    }

    private static void campaign(int trials, long seed, boolean fleet) throws Exception {
        List<CrashCampaign.Trial> results;
        String table;
        try (CampaignHost host = new CampaignHost()) {
            System.out.println("crash campaign: " + trials + " trials, seed " + seed + " (-Dsteward.crash.seed="
                    + seed + ")" + (fleet ? ", through the fleet source" : "") + ", host in " + host.root());
            if (fleet) {
                host.useFleet();
            }
            results = new CrashCampaign(host, seed).run(trials);
            table = (fleet ? "through the fleet source (NATS): " : "") + CrashCampaign.table(seed, results);
            System.out.println(table);
            Files.writeString(Path.of(fleet ? "target/crash-campaign-fleet.md" : "target/crash-campaign.md"), table + "\n");
        }
        assertEquals(trials, results.stream().filter(CrashCampaign.Trial::converged).count(), table);
        assertEquals(0, results.stream().mapToInt(CrashCampaign.Trial::duplicates).sum(), table);
        assertEquals(0, results.stream().mapToInt(CrashCampaign.Trial::torn).sum(), table);
    }
}
