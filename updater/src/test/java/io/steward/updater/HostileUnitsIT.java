package io.steward.updater;

import com.google.gson.JsonObject;
import io.steward.privileged.UnitInstallRequest;
import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.SupervisionException;
import io.steward.systemd.install.SystemdUnitInstaller;
import io.steward.systemd.testing.SystemdSandbox;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The hostile corpus ({@code src/test/resources/hostile/*.cases}, format in {@link HostileCorpus}) against the real
 * privilege boundary: every case is a signed artifact (or a hand-crafted protocol-1 request) that a compromised
 * agent sends to the root {@code steward-updater}, and every unit case is also handed to the in-process
 * {@link SystemdUnitInstaller} of a root agent. A case passes when it is refused PERMANENTLY with the rule it names
 * ({@code [rule: …]}, and {@code <unit> line <n>:} where the case marks a line) and nothing the boundary protects
 * changed ({@link BoundaryHarness#snapshot}: unit directory, links and {@code .wants/}, /run/systemd/system, the
 * privileged roots and their capabilities, the ledger, the operator's victim units over D-Bus, payload markers).
 * <p>
 * System properties: {@code steward.hostile.only} (a regex of case ids to run), {@code steward.hostile.legacy}
 * (true: judge a refusal by any message as refused, to compare the old policy's messages; never set in CI).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HostileUnitsIT {
    private static final boolean LEGACY = Boolean.getBoolean("steward.hostile.legacy");
    private static final Pattern ONLY = Pattern.compile(System.getProperty("steward.hostile.only", ".*"));
    private static final byte[] RUNS = "#!/bin/sh\nexec sleep 600\n".getBytes(StandardCharsets.UTF_8);
    private static final String UPDATER = "updater";
    private static final String IN_PROCESS = "in-process";

    private static BoundaryHarness h;
    private static List<HostileCorpus.Case> corpus;
    private static SystemdUnitInstaller local;
    private static final List<Result> results = Collections.synchronizedList(new ArrayList<>());
    private static long started;

    enum Outcome { EXPECTED, OTHER, ACCEPTED }

    record Result(String path, HostileCorpus.Case c, Outcome outcome, String message, List<String> changes) {
        boolean passed() {
            return changes.isEmpty() && (outcome == Outcome.EXPECTED || LEGACY && outcome == Outcome.OTHER);
        }

        String describe() {
            String what = switch (outcome) {
                case EXPECTED -> "refused with the expected rule";
                case OTHER -> "refused, but not by " + c.rule().map(r -> "[rule: " + r + "]").orElse("\"" + c.expect().orElse("")
                        + "\"") + ": " + message;
                case ACCEPTED -> "ACCEPTED" + (message.isEmpty() ? "" : ": " + message);
            };
            // what matters most first: payloads that ran, victims systemd changed, the unit directory
            List<String> shown = changes.stream().sorted(java.util.Comparator.comparingInt((String d) -> d.contains("/markers/")
                    ? 0 : d.contains(" systemd ") ? 1 : d.contains(h.sandbox.unitDir().toString()) ? 2 : 3)).toList();
            String changed = changes.isEmpty() ? "" : "; CHANGED " + changes.size() + ": "
                    + String.join(" | ", shown.subList(0, Math.min(6, shown.size())));
            return "[" + path + "] " + c.id() + " (" + c.group() + ", " + c.title() + "): " + what + changed;
        }
    }

    /** What one case makes: the artifact's files and what the request names. */
    private record Built(String id, String version, String kind, Map<String, byte[]> files, List<String> units,
                         String primary, Optional<String> line) {
    }

    @BeforeAll
    static void start() throws Exception {
        started = System.nanoTime();
        corpus = HostileCorpus.load().stream().filter(c -> ONLY.matcher(c.id()).matches()).toList();
        h = BoundaryHarness.start();
        System.out.printf("boundary harness up in %d ms (preload stand-in: %s)%n", (System.nanoTime() - started) / 1_000_000,
                h.realPreload() ? "an ELF library" : "a script, no C compiler");
        HostLayout layout = new HostLayout(h.data, h.root.resolve("etc-local"), h.root.resolve("etc-local/trust"),
                h.sandbox.unitDir(), h.localPriv);
        local = new SystemdUnitInstaller(h.systemd, layout, Duration.ofMillis(300));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            System.out.println(summary());
            System.out.printf("%d cases, %.1f s%n", corpus == null ? 0 : corpus.size(), (System.nanoTime() - started) / 1e9);
        } finally {
            if (h != null) {
                h.close();
            }
        }
    }

    @Test
    @Order(1)
    void theUpdaterRefusesEveryCaseByItsRuleAndNothingChanges() throws Exception {
        List<Result> mine = new ArrayList<>();
        for (HostileCorpus.Case c : corpus) {
            long t0 = System.nanoTime();
            Result r = guarded(UPDATER, c, () -> throughUpdater(c));
            mine.add(r);
            results.add(r);
            System.out.printf("%s %5d ms %s%n", r.passed() ? "ok  " : "FAIL", (System.nanoTime() - t0) / 1_000_000, r.describe());
        }
        assertAllPassed(UPDATER, mine);
    }

    @Test
    @Order(2)
    void theInProcessInstallerRefusesEveryUnitCaseByTheSameRule() throws Exception {
        List<Result> mine = new ArrayList<>();
        for (HostileCorpus.Case c : corpus) {
            if (c.updaterOnly()) {
                continue;
            }
            long t0 = System.nanoTime();
            Result r = guarded(IN_PROCESS, c, () -> throughInProcessInstaller(c));
            mine.add(r);
            results.add(r);
            System.out.printf("%s %5d ms %s%n", r.passed() ? "ok  " : "FAIL", (System.nanoTime() - t0) / 1_000_000, r.describe());
        }
        assertAllPassed(IN_PROCESS, mine);
    }

    @Test
    @Order(3)
    void theCorpusCoversTheReview() {
        // every row of the review's tables has a case (ids as in the review; variants add letters or suffixes)
        List<String> missing = new ArrayList<>();
        List<String> rows = new ArrayList<>();
        for (int i = 1; i <= 28; i++) {
            if (i != 25) {     // the review has no E25
                rows.add(String.format("E%02d", i));
            }
        }
        for (int i = 1; i <= 10; i++) {
            rows.add(String.format("L%02d", i));
        }
        for (int i = 1; i <= 8; i++) {
            rows.add(String.format("D%02d", i));
            rows.add(String.format("T%02d", i));
        }
        rows.addAll(List.of("N05", "R12b", "R12j", "R13", "R14", "R15"));
        List<HostileCorpus.Case> all = HostileCorpus.load();
        for (String row : rows) {
            if (all.stream().noneMatch(c -> c.id().equals(row) || c.id().startsWith(row) && !Character.isDigit(
                    c.id().charAt(row.length())))) {
                missing.add(row);
            }
        }
        if (!missing.isEmpty() || all.size() < 130) {
            throw new AssertionError("the corpus has " + all.size() + " cases (at least 130); review rows without a "
                    + "case: " + missing);
        }
    }

    private interface Run {
        Result run() throws Exception;
    }

    /** One case; a harness failure (the agent did not answer, systemd hung…) fails that case, not the corpus. */
    private static Result guarded(String path, HostileCorpus.Case c, Run run) {
        try {
            return run.run();
        } catch (Exception | AssertionError e) {
            try {
                h.restoreWorld(List.of());
            } catch (Exception again) {
                e.addSuppressed(again);
            }
            return new Result(path, c, Outcome.OTHER, "the harness could not judge the case: " + e, List.of(
                    "unknown (the case did not complete)"));
        }
    }

    private static void assertAllPassed(String path, List<Result> mine) {
        List<String> failed = mine.stream().filter(r -> !r.passed()).map(Result::describe).toList();
        if (!failed.isEmpty()) {
            throw new AssertionError(failed.size() + " of " + mine.size() + " hostile cases got through the " + path
                    + " boundary or were refused by the wrong rule:\n  " + String.join("\n  ", failed));
        }
    }

    // ---- one case through the updater -------------------------------------------------------------------------

    private static Result throughUpdater(HostileCorpus.Case c) throws Exception {
        String id = c.header("id", freshId("u", c));
        Built b = build(c, id);
        h.plantState(id);
        List<String> setupProblems = new ArrayList<>();
        if (c.headers().containsKey("installed-before")) {
            Built older = build(c, id, c.header("installed-before", ""), true);
            BoundaryHarness.Published pre = h.publish(id, older.version(), older.kind(), older.files(), h.key);
            h.keep(pre);
            JsonObject a = h.request(BoundaryHarness.installRequest(pre, older.units(), older.primary()));
            if (!a.get("ok").getAsBoolean()) {
                setupProblems.add("setup: installing " + older.version() + " first failed: " + a);
            }
        }
        boolean preexisting = writePreexisting(c, id, b.version());
        BoundaryHarness.Published p = h.publish(id, b.version(), b.kind(), b.files(),
                "wrong".equals(c.header("signature", "")) ? h.stranger : h.key);
        h.keep(p);
        tamper(c, p);
        boolean caps = c.op().equals("grant");
        Map<String, String> before = h.snapshot(caps, id);
        JsonObject request = switch (c.op()) {
            case "install" -> BoundaryHarness.installRequest(p, b.units(), b.primary());
            case "uninstall" -> BoundaryHarness.uninstallRequest(id, b.units(), false);
            case "grant" -> BoundaryHarness.grantRequest(p, c.header("grant-binary", "run.sh"),
                    HostileCorpus.strings(c.header("grant-caps", "[]"), UnaryOperator.identity()));
            case "materialize" -> BoundaryHarness.artifactRequest("materialize", p);
            default -> throw new IllegalArgumentException(c.source() + ": " + c.id() + ": unknown op " + c.op());
        };
        AtomicLong written = new AtomicLong();
        AtomicBoolean watching = new AtomicBoolean(c.headers().containsKey("bomb"));
        Thread watcher = null;
        if (watching.get()) {     // the bytes root writes under the add-on's privileged root during the request
            Path addonRoot = h.priv.resolve(id);
            long base = BoundaryHarness.bytesUnder(addonRoot);
            watcher = new Thread(() -> {
                while (watching.get()) {
                    written.accumulateAndGet(BoundaryHarness.bytesUnder(addonRoot) - base, Math::max);
                    Thread.onSpinWait();
                }
            }, "hostile-bomb-watch");
            watcher.start();
        }
        JsonObject answer;
        try {
            answer = h.request(request);
        } finally {
            watching.set(false);
            if (watcher != null) {
                watcher.join();
            }
        }
        Map<String, String> after = h.snapshot(caps, id);
        List<String> changes = new ArrayList<>(setupProblems);
        changes.addAll(BoundaryHarness.diff(before, after));
        if (written.get() > 0) {
            changes.add("root wrote " + written.get() + " bytes under " + h.priv.resolve(id) + " before refusing");
        }
        boolean ok = answer.get("ok").getAsBoolean();
        String message = "";
        String disposition = "";
        if (!ok && answer.has("error") && answer.get("error").isJsonObject()) {
            JsonObject e = answer.getAsJsonObject("error");
            message = e.has("message") ? e.get("message").getAsString() : e.toString();
            disposition = e.has("disposition") ? e.get("disposition").getAsString() : "";
        }
        Result r = judge(UPDATER, c, b, ok, message, "permanent".equals(disposition), changes);

        // put the world back for the next case
        boolean dirty = ok || !changes.isEmpty() || preexisting || c.headers().containsKey("installed-before");
        if (ok || c.headers().containsKey("installed-before")) {
            if (c.op().equals("install")) {
                h.request(BoundaryHarness.uninstallRequest(id, validNames(b.units()), true));
            } else if (!c.op().equals("uninstall")) {
                JsonObject release = new JsonObject();
                release.addProperty("protocol", 1);
                release.addProperty("op", "release");
                release.addProperty("id", id);
                h.request(release);
            }
        }
        if (dirty) {
            h.restoreWorld(b.units());
        }
        return r;
    }

    /** {@code tamper}: what the compromised agent (or root, for root-owned) does to the kept artifact before the request. */
    private static void tamper(HostileCorpus.Case c, BoundaryHarness.Published p) throws Exception {
        Path kept = h.kept(p);
        switch (c.header("tamper", "")) {
            case "" -> { }
            case "symlink" -> h.agentOk(BoundaryHarness.cmd("symlink", "link", kept.toString(), "target", p.file().toString()));
            case "append" -> h.agentOk(BoundaryHarness.cmd("append", "path", kept.toString()));
            case "root-owned" -> Files.setAttribute(kept, "unix:uid", 0, LinkOption.NOFOLLOW_LINKS);
            case "fifo" -> {
                Files.delete(kept);
                BoundaryHarness.run("/usr/bin/mkfifo", kept.toString());
                h.chown(kept);
            }
            case "dir-symlink" -> {     // artifacts/ itself becomes a link to a directory holding the same file
                Path elsewhere = h.data.resolve("addons").resolve(p.id()).resolve("elsewhere");
                h.agentOk(BoundaryHarness.cmd("mkdir", "path", elsewhere.toString()));
                h.agentOk(BoundaryHarness.cmd("copy", "from", kept.toString(), "to", elsewhere.resolve(kept.getFileName()).toString()));
                h.agentOk(BoundaryHarness.cmd("symlink", "link", kept.getParent().toString(), "target", elsewhere.toString()));
            }
            default -> throw new IllegalArgumentException(c.id() + ": unknown tamper " + c.header("tamper", ""));
        }
    }

    // ---- one case through the in-process installer of a root agent ------------------------------------------------

    private static Result throughInProcessInstaller(HostileCorpus.Case c) throws Exception {
        String id = c.header("id", freshId("l", c));
        Built b = build(c, id);
        h.plantState(id);
        boolean preexisting = writePreexisting(c, id, b.version());
        Path source = h.extractForRootAgent(id, b.files());
        Map<String, String> before = h.snapshot(false, id);
        boolean ok = false;
        String message = "";
        boolean permanent = false;
        try {
            switch (c.op()) {
                case "install" -> local.install(new UnitInstallRequest(new AddonId(id), source, b.units(), b.primary(),
                        Resources.NONE, false, BoundaryHarness.JOB_TIMEOUT));
                case "uninstall" -> local.uninstall(new AddonId(id), b.units(), false);
                default -> throw new IllegalArgumentException(c.id() + ": op " + c.op() + " is updater-only");
            }
            ok = true;
        } catch (SupervisionException e) {
            message = e.getMessage();
            permanent = e.disposition() == SupervisionException.Disposition.PERMANENT;
        } catch (RuntimeException e) {
            message = e.toString();
        }
        List<String> changes = BoundaryHarness.diff(before, h.snapshot(false, id));
        Result r = judge(IN_PROCESS, c, b, ok, message, permanent, changes);
        if (ok && c.op().equals("install")) {
            try {
                local.uninstall(new AddonId(id), validNames(b.units()), true);
            } catch (SupervisionException | RuntimeException e) {
                // restoreWorld below removes what is left
            }
        }
        if (ok || !changes.isEmpty() || preexisting) {
            h.restoreWorld(b.units());
        }
        Path tree = h.localPriv.resolve(id);
        if (Files.exists(tree, LinkOption.NOFOLLOW_LINKS)) {
            SystemdSandbox.PathsForTests.deleteTree(tree);
        }
        SystemdSandbox.PathsForTests.deleteTree(source);
        return r;
    }

    // ---- judging ------------------------------------------------------------------------------------------------

    private static Result judge(String path, HostileCorpus.Case c, Built b, boolean ok, String message, boolean permanent,
                                List<String> changes) {
        if (ok) {
            return new Result(path, c, Outcome.ACCEPTED, "", changes);
        }
        boolean expected = permanent
                && c.rule().map(rule -> message.contains("[rule: " + rule + "]")).orElse(true)
                && c.expect().map(message::contains).orElse(true)
                && b.line().map(message::contains).orElse(true);
        String shown = message + (permanent ? "" : " (not PERMANENT)")
                + (b.line().isPresent() && !message.contains(b.line().get()) ? " (expected \"" + b.line().get() + "\")" : "");
        return new Result(path, c, expected ? Outcome.EXPECTED : Outcome.OTHER, shown, changes);
    }

    // ---- building a case ------------------------------------------------------------------------------------------

    private static Built build(HostileCorpus.Case c, String id) {
        return build(c, id, c.header("version", "1.0"), false);
    }

    /** The case's artifact; {@code benign}: the same layout with a plain unit (for installed-before). */
    private static Built build(HostileCorpus.Case c, String id, String version, boolean benign) {
        UnaryOperator<String> ph = h.placeholders(id, version);
        Map<String, byte[]> shipped = new LinkedHashMap<>();
        Optional<String> line = Optional.empty();
        for (HostileCorpus.Block block : c.artifactFiles()) {
            String name = ph.apply(block.name());
            HostileCorpus.Decoded d = HostileCorpus.decode(block.lines(), ph);
            shipped.put(name, benign && isUnit(name) ? benignUnit(name) : d.bytes());
            if (d.line().isPresent()) {
                line = Optional.of(name + " line " + d.line().get() + ":");
            }
        }
        shipped.putIfAbsent("run.sh", RUNS);
        if (c.headers().containsKey("bomb")) {
            shipped.put("zeros", new byte[Integer.parseInt(c.header("bomb", "1")) << 20]);
        }
        List<String> units = shipped.keySet().stream().filter(HostileUnitsIT::isUnit).sorted().toList();
        String kind = c.header("kind", units.stream().anyMatch(u -> u.endsWith(".timer")) ? "systemd_timer"
                : "systemd_service");
        byte[] manifest = c.block("manifest").map(m -> HostileCorpus.decode(m.lines(), ph).bytes())
                .orElseGet(() -> BoundaryHarness.manifest(id, version, kind, c.headers().containsKey("manifest-units")
                        ? HostileCorpus.strings(c.header("manifest-units", "[]"), ph) : units,
                        c.headers().containsKey("capabilities") ? HostileCorpus.strings(c.header("capabilities", "[]"), ph)
                        : null).getBytes(StandardCharsets.UTF_8));
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("addon.json", manifest);
        files.putAll(shipped);
        List<String> requested = c.headers().containsKey("request-units") && !benign
                ? HostileCorpus.strings(c.header("request-units", "[]"), ph) : units;
        String primary = c.headers().containsKey("primary") && !benign ? ph.apply(c.header("primary", ""))
                : requested.stream().filter(u -> u.endsWith(".timer")).findFirst()
                .orElse(requested.contains("steward-" + id + ".service") ? "steward-" + id + ".service"
                        : requested.isEmpty() ? "" : requested.get(0));
        return new Built(id, version, kind, files, requested, primary, line);
    }

    private static byte[] benignUnit(String name) {
        String text = name.endsWith(".timer")
                ? "[Timer]\nOnCalendar=*-*-* 03:00:00\n[Install]\nWantedBy=timers.target\n"
                : "[Unit]\nDescription=benign\n[Service]\nExecStart=@ADDON_HOME@/run.sh\n[Install]\nWantedBy=multi-user.target\n";
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static boolean isUnit(String name) {
        return name.endsWith(".service") || name.endsWith(".timer");
    }

    /** The operator's files the case needs in the unit directory or /run/systemd/system before it runs. */
    private static boolean writePreexisting(HostileCorpus.Case c, String id, String version) throws Exception {
        UnaryOperator<String> ph = h.placeholders(id, version);
        boolean any = false;
        for (HostileCorpus.Block block : c.blocks()) {
            Path target;
            if (block.name().startsWith("unitdir:")) {
                target = h.sandbox.unitDir().resolve(ph.apply(block.name().substring("unitdir:".length())));
            } else if (block.name().startsWith("rundir:")) {
                target = h.sandboxRoot.resolve("run/systemd/system").resolve(ph.apply(block.name().substring("rundir:".length())));
            } else {
                continue;
            }
            Files.createDirectories(target.getParent());
            Files.write(target, HostileCorpus.decode(block.lines(), ph).bytes());
            any = true;
        }
        if (any) {
            h.systemd.reload();
        }
        return any;
    }

    private static List<String> validNames(List<String> units) {
        return units.stream().filter(u -> u.matches("steward-[a-z0-9_-]+(-[A-Za-z0-9_.:-]+)?\\.(service|timer)")
                && !u.contains("..")).toList();
    }

    private static String freshId(String prefix, HostileCorpus.Case c) {
        String base = c.id().toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9]", "");
        return prefix + base + UUID.randomUUID().toString().substring(0, 4);
    }

    // ---- the figures ------------------------------------------------------------------------------------------------

    /** Per group and path: tried, refused with the expected rule, refused otherwise, accepted, changed something. */
    static String summary() {
        Map<String, int[]> rows = new TreeMap<>();
        List<Result> all;
        synchronized (results) {
            all = new ArrayList<>(results);
        }
        for (Result r : all) {
            for (String key : List.of(r.path() + " | " + r.c().group(), r.path() + " | total")) {
                int[] n = rows.computeIfAbsent(key, k -> new int[7]);
                n[0]++;
                n[1] += r.outcome() == Outcome.EXPECTED ? 1 : 0;
                n[2] += r.outcome() == Outcome.OTHER ? 1 : 0;
                n[3] += r.outcome() == Outcome.ACCEPTED ? 1 : 0;
                n[4] += r.changes().isEmpty() ? 0 : 1;
                n[5] += r.passed() ? 1 : 0;
                n[6] += r.outcome() != Outcome.ACCEPTED && r.changes().isEmpty() ? 1 : 0;
            }
        }
        StringBuilder b = new StringBuilder("\nHostile corpus" + (LEGACY ? " (LEGACY judging: any refusal counts)" : "")
                + "\n| path | group | tried | refused, expected rule | refused otherwise | accepted | changed something "
                + "| passed | refused by any message, nothing changed |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        rows.forEach((k, n) -> b.append("| ").append(k).append(" | ").append(n[0]).append(" | ").append(n[1])
                .append(" | ").append(n[2]).append(" | ").append(n[3]).append(" | ").append(n[4]).append(" | ")
                .append(n[5]).append(" | ").append(n[6]).append(" |\n"));
        return b.toString();
    }
}
