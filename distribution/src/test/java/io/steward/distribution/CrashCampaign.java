package io.steward.distribution;

import com.google.gson.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Issue 15 §1, the crash campaign: a mixed fleet on one host (4 sidecars, 3 systemd services, a timer, a helper,
 * 2 toggles) run by {@code bin/steward run} as the user {@code steward} through the real root {@code steward-updater}
 * against a real systemd ({@link CampaignHost}). Each trial changes the assignment set and, at a random instant of
 * the passes that follow, kills the agent, the updater or both with SIGKILL, has systemd re-execute itself under
 * them ({@code daemon-reexec}), or cuts the power (everything killed at once, sidecars and units' processes too,
 * then a boot starts what is enabled); changes the set again while they are down
 * (adds, removals, upgrades, downgrades the updater's operator allows), restarts them — sometimes killing the agent
 * again in its first pass — and checks convergence within a deadline: every desired sidecar runs exactly once (at
 * its desired version), every desired unit is active at its desired version, nothing undesired is left (process,
 * unit file, {@code .wants} link, privileged tree, ledger entry, sidecar record), and every state file parses
 * (no torn write). Seeded: the same seed draws the same trials.
 */
final class CrashCampaign {
    static final Duration DEADLINE = Duration.ofSeconds(90);
    // names no other test uses: the CI's systemd sandbox is shared
    static final List<String> SIDECARS = List.of("crash-s1", "crash-s2", "crash-s3", "crash-s4");
    static final List<String> SERVICES = List.of("crash-v1", "crash-v2", "crash-v3");
    static final String TIMER = "crash-t1";
    static final String HELPER = "crash-h1";
    static final List<String> TOGGLES = List.of("crash-g1", "crash-g2");
    static final List<String> VERSIONS = List.of("1.0.0", "2.0.0");
    /** What happens at the random instant; "agent" twice: the agent's own crash is the likeliest. */
    static final List<String> FAULTS = List.of("agent", "agent", "updater", "both", "daemon-reexec", "power cut");
    /** In fleet mode the broker is killed too (and started again: no document can be put while it is down). */
    static final List<String> FLEET_FAULTS = List.of("agent", "agent", "updater", "both", "daemon-reexec", "power cut",
            "broker", "broker");

    /** One trial's outcome. */
    record Trial(int n, String fault, boolean changedWhileDown, boolean killedAgainOnBoot, boolean converged,
                 long convergeMillis, int duplicates, int orphans, int torn, List<String> problems) {
    }

    private final CampaignHost host;
    private final Random random;
    private final Map<String, JsonObject> artifacts;

    CrashCampaign(CampaignHost host, long seed) throws Exception {
        this.host = host;
        this.random = new Random(seed);
        this.artifacts = host.packFleet();
    }

    /** Runs {@code trials} trials; every outcome, in order. */
    List<Trial> run(int trials) throws Exception {
        List<Trial> results = new ArrayList<>();
        Map<String, String> desired = draw();
        host.assign(document(desired, 0));
        host.startUpdater();
        host.startAgent();
        awaitConvergence(desired, new int[1]);
        for (int n = 1; n <= trials; n++) {
            results.add(trial(n));
        }
        return results;
    }

    private Trial trial(int n) throws Exception {
        Map<String, String> during = draw();
        host.assign(document(during, n * 10 + 1));        // a pass begins on this change
        Thread.sleep(random.nextInt(3000));                // a random instant of it (or of the next ones)
        List<String> faults = host.fleet() ? FLEET_FAULTS : FAULTS;
        String fault = faults.get(random.nextInt(faults.size()));
        switch (fault) {
            case "agent" -> host.killAgent();
            case "updater" -> host.killUpdater();
            case "both" -> {
                host.killAgent();
                host.killUpdater();
            }
            case "daemon-reexec" -> host.reexecSystemd();       // nothing killed: systemd re-executes under them
            case "broker" -> {
                host.killBroker();
                host.startBroker();
            }
            default -> host.powerCut();
        }
        Map<String, String> desired = during;
        boolean changed = random.nextInt(10) < 7;
        if (changed) {
            desired = draw();
            host.assign(document(desired, n * 10 + 2));
        }
        if (fault.equals("power cut")) {
            host.boot();
        }
        if (!host.updaterRunning()) {
            host.startUpdater();
        }
        boolean again = false;
        if (!host.agentRunning()) {
            host.startAgent();
            if (random.nextInt(10) < 3) {                  // killed again during its first pass
                again = true;
                Thread.sleep(random.nextInt(2500));
                host.killAgent();
                host.startAgent();
            }
        }
        int[] duplicates = new int[1];
        long t0 = System.nanoTime();
        List<String> problems = awaitConvergence(desired, duplicates);
        long took = (System.nanoTime() - t0) / 1_000_000;
        int torn = (int) problems.stream().filter(p -> p.startsWith("torn")).count();
        int orphans = (int) problems.stream().filter(p -> p.startsWith("left")).count();
        return new Trial(n, fault, changed, again, problems.isEmpty(), took, duplicates[0], orphans, torn, problems);
    }

    /** Waits until the host matches {@code desired}; what still differs at the deadline (empty: converged). */
    private List<String> awaitConvergence(Map<String, String> desired, int[] duplicates) throws Exception {
        long end = System.nanoTime() + DEADLINE.toNanos();
        while (true) {
            List<String> problems = differences(desired);
            duplicates[0] = Math.max(duplicates[0], (int) problems.stream().filter(p -> p.startsWith("duplicate")).count());
            if (problems.isEmpty() || System.nanoTime() - end > 0) {
                return problems;
            }
            Thread.sleep(250);     // polling the host's state with a deadline
        }
    }

    /** Everything in which the host differs from {@code desired}, one sentence each. */
    List<String> differences(Map<String, String> desired) throws Exception {
        List<String> problems = new ArrayList<>();
        for (String id : allIds()) {
            String version = desired.get(id);
            JsonObject ledger = host.ledgerEntry(id);
            List<long[]> processes = SIDECARS.contains(id) ? host.sidecarProcesses(id) : List.of();
            if (processes.size() > 1) {
                problems.add("duplicate: " + id + " runs " + processes.size() + " times");
            }
            if (version == null) {
                if (ledger != null) {
                    problems.add("left: " + id + " has a ledger entry");
                }
                if (!processes.isEmpty()) {
                    problems.add("left: " + id + " still runs");
                }
                problems.addAll(host.leftovers(id));
                continue;
            }
            if (ledger == null || !"ready".equals(string(ledger, "state"))
                    || !version.equals(string(ledger, "active_version"))) {
                problems.add("not converged: " + id + " is " + (ledger == null ? "unknown"
                        : string(ledger, "state") + " at " + string(ledger, "active_version")) + ", wanted " + version);
            }
            if (SIDECARS.contains(id) && (processes.size() != 1 || processes.get(0)[1] != VERSIONS.indexOf(version))) {
                problems.add("not converged: " + id + " runs " + processes.size() + " process(es), wanted one of " + version);
            }
            for (String unit : units(id)) {
                String active = host.activeState(unit);
                if (!"active".equals(active)) {
                    problems.add("not converged: " + unit + " is " + active);
                }
            }
        }
        problems.addAll(host.tornFiles());
        return problems;
    }

    static List<String> units(String id) {
        if (SERVICES.contains(id)) {
            return List.of("steward-" + id + ".service");
        }
        return id.equals(TIMER) ? List.of("steward-" + id + ".timer") : List.of();
    }

    static List<String> allIds() {
        List<String> ids = new ArrayList<>(SIDECARS);
        ids.addAll(SERVICES);
        ids.add(TIMER);
        ids.add(HELPER);
        ids.addAll(TOGGLES);
        return ids;
    }

    /** A random desired set: each add-on assigned with probability 3/4, at a random version. */
    private Map<String, String> draw() {
        Map<String, String> set = new TreeMap<>();
        for (String id : allIds()) {
            if (random.nextInt(4) < 3) {
                set.put(id, VERSIONS.get(random.nextInt(VERSIONS.size())));
            }
        }
        return set;
    }

    private String document(Map<String, String> desired, int revision) {
        List<String> addons = new ArrayList<>();
        desired.forEach((id, version) -> {
            if (TOGGLES.contains(id)) {
                addons.add("{\"id\":\"" + id + "\",\"version\":\"" + version + "\",\"supervision\":\"config_toggle\","
                        + "\"delivery\":\"compiled_in\",\"capabilities\":[\"cap-" + id + "\"]}");
            } else {
                addons.add("{\"id\":\"" + id + "\",\"version\":\"" + version + "\",\"supervision\":\"" + kind(id)
                        + "\",\"artifact\":" + artifacts.get(id + "@" + version) + "}");
            }
        });
        return "{\"revision\":\"crash-" + revision + "\",\"addons\":[" + String.join(",", addons) + "]}\n";
    }

    static String kind(String id) {
        if (SIDECARS.contains(id)) {
            return "sidecar";
        }
        if (SERVICES.contains(id)) {
            return "systemd_service";
        }
        if (id.equals(TIMER)) {
            return "systemd_timer";
        }
        return id.equals(HELPER) ? "ephemeral_helper" : "config_toggle";
    }

    /** The figures as a markdown table. */
    static String table(long seed, List<Trial> trials) {
        StringBuilder b = new StringBuilder();
        long converged = trials.stream().filter(Trial::converged).count();
        int dups = trials.stream().mapToInt(Trial::duplicates).sum();
        int orphans = trials.stream().mapToInt(Trial::orphans).sum();
        int torn = trials.stream().mapToInt(Trial::torn).sum();
        List<Long> times = trials.stream().filter(Trial::converged).map(Trial::convergeMillis).sorted().toList();
        b.append("crash campaign, seed ").append(seed).append('\n').append('\n');
        b.append("| fault | trials | converged | duplicates | orphans | torn files |\n|---|---:|---:|---:|---:|---:|\n");
        for (String k : FLEET_FAULTS.stream().distinct().toList()) {
            List<Trial> of = trials.stream().filter(t -> t.fault().equals(k)).toList();
            if (of.isEmpty() && !FAULTS.contains(k)) {
                continue;       // the broker: fleet mode only
            }
            b.append("| ").append(k).append(" | ").append(of.size()).append(" | ")
                    .append(of.stream().filter(Trial::converged).count()).append(" | ")
                    .append(of.stream().mapToInt(Trial::duplicates).sum()).append(" | ")
                    .append(of.stream().mapToInt(Trial::orphans).sum()).append(" | ")
                    .append(of.stream().mapToInt(Trial::torn).sum()).append(" |\n");
        }
        b.append("| **all** | ").append(trials.size()).append(" | ").append(converged).append(" | ").append(dups)
                .append(" | ").append(orphans).append(" | ").append(torn).append(" |\n\n");
        b.append(converged).append('/').append(trials.size()).append(" trials converged, ").append(dups)
                .append(" duplicates, ").append(orphans).append(" orphans, ").append(torn).append(" torn files");
        if (!times.isEmpty()) {
            b.append("; convergence after restart p50 ").append(times.get(times.size() / 2)).append(" ms, max ")
                    .append(times.get(times.size() - 1)).append(" ms");
        }
        b.append(" (").append(trials.stream().filter(Trial::changedWhileDown).count())
                .append(" with the set changed while down, ")
                .append(trials.stream().filter(Trial::killedAgainOnBoot).count())
                .append(" with the agent killed again in its first pass)\n");
        for (Trial t : trials) {
            if (!t.converged() || t.duplicates() > 0) {
                b.append("\ntrial ").append(t.n()).append(" (").append(t.fault()).append("): ")
                        .append(String.join("; ", t.problems()));
            }
        }
        return b.toString();
    }

    private static String string(JsonObject o, String key) {
        return o.has(key) && !o.get(key).isJsonNull() ? o.get(key).getAsString() : "";
    }
}
