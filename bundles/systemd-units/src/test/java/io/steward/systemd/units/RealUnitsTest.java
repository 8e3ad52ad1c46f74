package io.steward.systemd.units;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.supervision.spi.SupervisionException;
import io.steward.supervision.spi.SupervisionException.Disposition;
import io.steward.systemd.bus.DbusSystemdManager;
import io.steward.systemd.testing.SystemdSandbox;
import io.steward.systemd.units.RealUnits.Case;
import io.steward.systemd.units.RealUnits.UnitFile;
import io.steward.systemd.units.testing.Fixture;
import io.steward.systemd.units.testing.RepoStager;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The compatibility corpus: every {@code .service} and {@code .timer} file of about fifty Debian 12 packages
 * ({@code src/test/resources/debian-units/}, see its SOURCES.md and fetch.sh), installed as an add-on by the
 * real {@link UnitSupervisor} and {@code SystemdUnitInstaller} (the in-process installer of a root agent, the
 * policy the updater runs too) into the sandbox's real systemd, then removed.
 * <p>
 * Each unit is renamed to the convention ({@code steward-<id>.service|timer}, the id from the file name),
 * references among its package's units follow the new names, and the program of every {@code Exec*=} command
 * becomes a stand-in shipped in the artifact that satisfies the unit's {@code Type=}; arguments and every other
 * line stay as Debian ships them. The outcome of each: installed and running, refused (the refusal sentence and
 * its {@code [rule: …]}), failed (systemd could not run it), or not run (Type=dbus). At least 90 % must be
 * installed and running or refused with a tag of the unit rules' vocabulary ({@link #RULES}); see
 * {@code src/test/resources/debian-units/README.md}.
 */
class RealUnitsTest {
    /** The rule vocabulary of the unit policy: a refusal tagged with one of these is deliberate. */
    static final Set<String> RULES = Set.of("plain text", "plain continuations", "no escapes", "whole-word quotes",
            "no includes", "specifier allowlist", "known variables", "section allowlist", "directive allowlist",
            "own dependencies", "install targets", "absolute programs", "root-owned paths", "environment",
            "own timer", "not the agent's user", "naming convention", "signed manifest", "what systemd loaded",
            "no rollback");
    private static final Pattern RULE_TAG = Pattern.compile("\\[rule: ([^\\]]+)\\]");
    private static final int THREADS = 6;

    private static SystemdSandbox sandbox;
    private static DbusSystemdManager systemd;
    private static Path hostRoot;
    private static Fixture f;

    enum Outcome {
        RUNNING("installed and running"), REFUSED("refused by a deliberate rule"),
        REFUSED_UNTAGGED("refused (untagged)"), REFUSED_UNKNOWN("refused (unknown rule)"), FAILED("failed"),
        NOT_RUN("not run");

        final String text;

        Outcome(String text) {
            this.text = text;
        }
    }

    record Result(Case c, Outcome outcome, String reason, String detail, Duration took) {
    }

    @BeforeAll
    static void connect() throws Exception {
        sandbox = SystemdSandbox.shared();
        systemd = new DbusSystemdManager(sandbox.address(), Duration.ofSeconds(10));
        // the privileged root must be root-owned and closed, and outside /tmp: the sandbox's /tmp is private
        // and PrivateTmp=yes (common in Debian units) would hide a copy kept there
        hostRoot = Path.of("/var/lib/steward-realunits-" + UUID.randomUUID().toString().substring(0, 8));
        Files.createDirectories(hostRoot);
        Files.setPosixFilePermissions(hostRoot, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path privileged = Files.createDirectory(hostRoot.resolve("priv"));
        f = new Fixture(sandbox.newDirectory("repo"), sandbox.newDirectory("data"), privileged, sandbox.unitDir(),
                systemd);
    }

    @AfterAll
    static void close() throws IOException {
        if (systemd != null) {
            systemd.close();
        }
        if (hostRoot != null) {
            SystemdSandbox.PathsForTests.deleteTree(hostRoot);
        }
    }

    static Path corpusRoot() throws URISyntaxException {
        return Path.of(RealUnitsTest.class.getResource("/debian-units/SOURCES.md").toURI()).getParent();
    }

    @Test
    void debianUnitsInstallRunAndRemove() throws Exception {
        Map<String, List<UnitFile>> corpus = RealUnits.corpus(corpusRoot());
        List<Case> cases = new ArrayList<>();
        String only = System.getProperty("realunits.only", "");     // a comma-separated list of packages, to debug
        corpus.forEach((pkg, files) -> {
            if (only.isBlank() || List.of(only.split(",")).contains(pkg)) {
                cases.addAll(RealUnits.cases(pkg, files));
            }
        });
        assertTrue(cases.size() >= 60 || !only.isBlank(), "the corpus has " + cases.size() + " cases");
        long units = cases.stream().mapToLong(c -> c.files().size()).sum();

        printIdioms(corpus);

        Set<String> unitDirBefore = listing(sandbox.unitDir());
        Set<String> hostBefore = hostTopLevel();
        Instant start = Instant.now();
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        List<Result> results = new ArrayList<>();
        try {
            // a package's add-ons one after the other (each removed before the next), packages concurrently: a
            // unit that needs a sibling of its package never finds it installed by chance
            // and packages that name each other's units (chrony's Conflicts=ntp.service reaches ntpsec's
            // Alias=ntp.service: starting chrony stops a running ntpsec) as one sequence too
            Map<String, String> group = RealUnits.interacting(corpus);
            Map<String, List<Case>> byPackage = new TreeMap<>();
            cases.forEach(c -> byPackage.computeIfAbsent(group.getOrDefault(c.pkg(), c.pkg()), k -> new ArrayList<>())
                    .add(c));
            Map<String, Set<String>> groups = new TreeMap<>();
            group.forEach((pkg, g) -> groups.computeIfAbsent(g, k -> new TreeSet<>()).add(pkg));
            groups.values().removeIf(g -> g.size() < 2);
            System.out.println("packages run as one sequence because their units name each other's: " + groups.values());
            List<Future<List<Result>>> futures = new ArrayList<>();
            List<List<Case>> longestFirst = new ArrayList<>(byPackage.values());
            longestFirst.sort((a, b) -> b.size() - a.size());
            for (List<Case> pkg : longestFirst) {
                futures.add(pool.submit(() -> pkg.stream().map(this::run).toList()));
            }
            for (Future<List<Result>> fu : futures) {
                results.addAll(fu.get(5, TimeUnit.MINUTES));
            }
            results.sort(java.util.Comparator.comparing((Result r) -> r.c().pkg()).thenComparing(r -> r.c().label()));
        } finally {
            pool.shutdownNow();
        }
        Duration took = Duration.between(start, Instant.now());

        print(results, units, took);
        Set<String> appeared = new TreeSet<>(hostTopLevel());
        appeared.removeAll(hostBefore);
        // not asserted: other programs on the host may create entries meanwhile; the test deletes what it knows
        System.out.println("host entries in /etc /var/lib /var/cache /var/log that appeared during the corpus: "
                + appeared);
        assertEquals(unitDirBefore, listing(sandbox.unitDir()), "the unit directory is as before the corpus");
        List<String> leftovers = results.stream().filter(r -> r.reason().startsWith("LEFT BEHIND"))
                .map(r -> r.c().label() + ": " + r.reason()).toList();
        assertEquals(List.of(), leftovers, "removal leaves nothing behind");
        long ok = results.stream().filter(r -> r.outcome() == Outcome.RUNNING || r.outcome() == Outcome.REFUSED)
                .count();
        double share = 100.0 * ok / results.size();
        assertTrue(share >= 90.0, String.format("%.1f %% of the corpus is installed and running or refused by a "
                + "deliberate rule; at least 90 %% must be (see the table above)", share));
    }

    // ---- one case ---------------------------------------------------------------------------------------------

    private Result run(Case c) {
        Instant t0 = Instant.now();
        String id = c.id();
        UnitFile svc = c.service().orElse(null);
        String type = svc == null ? "-" : svc.serviceType();
        String installedService = "steward-" + id + ".service";
        Optional<String> standin = RealUnits.standin(type,
                svc == null ? Optional.empty() : RealUnits.pidFile(svc, installedService));
        if (standin.isEmpty()) {
            return new Result(c, Outcome.NOT_RUN, "Type=" + type + ": the stand-in cannot own BusName="
                    + (svc == null ? "" : svc.last("Service", "BusName").orElse("?"))
                    + " (and this host's bus policy lets no one own it)", "", Duration.ZERO);
        }
        Map<String, String> files = new LinkedHashMap<>();
        for (UnitFile u : c.files()) {
            files.put(c.rename().get(u.name()), RealUnits.convert(u, c.rename()));
        }
        String dump = System.getProperty("realunits.dump");
        if (dump != null) {
            try {
                Path dir = Files.createDirectories(Path.of(dump, c.pkg(), id));
                for (Map.Entry<String, String> e : files.entrySet()) {
                    Files.writeString(dir.resolve(e.getKey()), e.getValue());
                }
                Files.writeString(dir.resolve("standin"), standin.get());
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        files.put("standin", standin.get());
        files.put("standin-step", RealUnits.STEP_SCRIPT);
        List<Path> hostDirs = hostDirectories(c);
        List<Path> createdByTest = hostDirs.stream().filter(p -> !Files.exists(p, LinkOption.NOFOLLOW_LINKS))
                .toList();
        Outcome outcome;
        String reason;
        String detail = "";
        UnitSupervisor kind = f.supervisor(c.kind());
        try {
            RepoStager.publish(f.repo, id, "1", files);
            for (String exe : List.of("standin", "standin-step")) {
                Files.setPosixFilePermissions(f.repo.resolve(id).resolve("1").resolve(exe),
                        PosixFilePermissions.fromString("rwxr-xr-x"));
            }
            SupervisionStatus s = kind.apply(f.record(id, c.kind(), "1"));
            s = awaitSettled(kind, id, s);
            if (s.state() == SupervisionState.READY) {
                outcome = Outcome.RUNNING;
                reason = s.detail();
                List<String> foreign = foreignNames(c);
                if (!foreign.isEmpty()) {
                    detail = "enabling it created names outside the convention: " + String.join(", ", foreign);
                }
            } else {
                outcome = Outcome.FAILED;
                reason = (s.detail().contains(" is static") ? "static unit (no [Install] section): Steward enables "
                        + "only units with one and reports this one " : "") + s.state() + ": " + s.detail();
                detail = "add-on " + id + ": " + s.state() + ": " + s.detail();
            }
        } catch (SupervisionException e) {
            String m = e.getMessage();
            outcome = classify(e);
            if (outcome != Outcome.FAILED) {
                reason = rule(m).orElse("untagged");
                detail = m;
            } else {
                outcome = Outcome.FAILED;
                reason = failureReason(c, svc, m);
                detail = m;
            }
        } catch (IOException | RuntimeException e) {
            outcome = Outcome.FAILED;
            reason = "test: " + e;
        }
        // removal: nothing of the add-on is left in the unit directory
        try {
            kind.remove(new AddonId(id));
            List<String> left = leftovers(c);
            if (!left.isEmpty()) {
                reason = "LEFT BEHIND " + left + "; " + reason;
            }
        } catch (SupervisionException | IOException | RuntimeException e) {
            reason = "LEFT BEHIND (remove failed: " + e.getMessage() + "); " + reason;
        }
        cleanHost(id, createdByTest);
        return new Result(c, outcome, reason, detail, Duration.between(t0, Instant.now()));
    }

    /**
     * A refusal is a PERMANENT "unit install refused" sentence: with a tag of {@link #RULES} it is deliberate,
     * with another tag unknown, without one untagged (the policy before the rules). Anything else failed.
     */
    static Outcome classify(SupervisionException e) {
        String m = e.getMessage() == null ? "" : e.getMessage();
        if (e.disposition() != Disposition.PERMANENT || !m.contains("unit install refused")) {
            return Outcome.FAILED;
        }
        return rule(m).map(r -> RULES.contains(r) ? Outcome.REFUSED : Outcome.REFUSED_UNKNOWN)
                .orElse(Outcome.REFUSED_UNTAGGED);
    }

    /** The last {@code [rule: …]} tag of a refusal sentence. */
    static Optional<String> rule(String message) {
        Matcher tag = RULE_TAG.matcher(message);
        String found = null;
        while (tag.find()) {
            found = tag.group(1).strip();
        }
        return Optional.ofNullable(found);
    }

    /** Waits (polling with a deadline) until the add-on is READY or has settled on not being ready. */
    private static SupervisionStatus awaitSettled(UnitSupervisor kind, String id, SupervisionStatus first)
            throws SupervisionException {
        if (settled(first)) {
            return first;
        }
        SupervisionStatus[] last = {first};
        try {
            return Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
                    .pollInSameThread().until(() -> last[0] = kind.status(new AddonId(id)), RealUnitsTest::settled);
        } catch (ConditionTimeoutException e) {
            return last[0];     // not settled within the deadline: the caller asserts on what it last saw
        }
    }

    private static boolean settled(SupervisionStatus s) {
        return s.state() == SupervisionState.READY || s.state() == SupervisionState.FAILED
                || s.state() == SupervisionState.PENDING;
    }

    /** Names in the unit directory that are the add-on's: its units, their drop-ins, links to them. */
    private static List<String> leftovers(Case c) throws IOException {
        Set<String> names = new TreeSet<>();
        for (UnitFile u : c.files()) {
            names.add(c.rename().get(u.name()));
        }
        List<String> left = new ArrayList<>();
        for (Path p : walkTolerant(sandbox.unitDir())) {
            {
                String n = p.getFileName().toString();
                boolean own = names.contains(n) || names.contains(n.replaceAll("\\.d$", ""));
                if (!own && Files.isSymbolicLink(p)) {
                    try {
                        own = names.contains(Path.of(Files.readSymbolicLink(p).toString()).getFileName().toString());
                    } catch (java.nio.file.NoSuchFileException gone) {
                        continue;     // another add-on's link, removed meanwhile
                    }
                }
                if (own) {
                    left.add(sandbox.unitDir().relativize(p).toString());
                }
            }
        }
        return left;
    }

    /**
     * The unit directory's entries while other add-ons are installed and removed at the same time: systemd
     * deletes an emptied {@code *.wants} directory under a walk, so a walk that meets a vanished entry starts over.
     */
    private static List<Path> walkTolerant(Path dir) throws IOException {
        for (int attempt = 0; ; attempt++) {
            try (Stream<Path> s = Files.walk(dir)) {
                return s.toList();
            } catch (java.nio.file.NoSuchFileException | java.io.UncheckedIOException e) {
                if (attempt >= 20) {
                    throw e instanceof IOException io ? io : new IOException(e);
                }
            }
        }
    }

    /** Links in the unit directory, named outside the convention, that point at the add-on's units (Alias=). */
    private static List<String> foreignNames(Case c) throws IOException {
        Set<String> names = new TreeSet<>();
        c.files().forEach(u -> names.add(c.rename().get(u.name())));
        List<String> out = new ArrayList<>();
        for (Path p : walkTolerant(sandbox.unitDir())) {
            String n = p.getFileName().toString();
            if (Files.isSymbolicLink(p) && !n.startsWith("steward-")) {
                try {
                    if (names.contains(Path.of(Files.readSymbolicLink(p).toString()).getFileName().toString())) {
                        out.add(sandbox.unitDir().relativize(p).toString());
                    }
                } catch (java.nio.file.NoSuchFileException gone) {
                    // another add-on's, removed meanwhile
                }
            }
        }
        return out;
    }

    private static Set<String> hostTopLevel() throws IOException {
        Set<String> out = new TreeSet<>();
        for (String d : List.of("/etc", "/var/lib", "/var/cache", "/var/log", "/var/lib/private")) {
            if (Files.isDirectory(Path.of(d))) {
                try (Stream<Path> s = Files.list(Path.of(d))) {
                    s.forEach(p -> out.add(p.toString()));
                }
            }
        }
        out.removeIf(p -> p.startsWith(hostRoot.toString()));
        return out;
    }

    private static Set<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.map(p -> dir.relativize(p).toString()).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    // ---- host directories a unit makes systemd create --------------------------------------------------------

    /**
     * The directories systemd creates on the host (not in the sandbox's private /run) for StateDirectory=,
     * CacheDirectory=, LogsDirectory=, ConfigurationDirectory=, the mount points of BindPaths= and the like, and a
     * Persistent= timer's stamp: the test deletes those it created.
     */
    private static List<Path> hostDirectories(Case c) {
        Map<String, String> bases = Map.of("StateDirectory", "/var/lib", "CacheDirectory", "/var/cache",
                "LogsDirectory", "/var/log", "ConfigurationDirectory", "/etc");
        List<Path> out = new ArrayList<>();
        for (UnitFile u : c.files()) {
            for (RealUnits.Line l : u.lines()) {
                String base = bases.get(l.key());
                if (base != null && l.section().equals("Service")) {
                    for (String w : l.value().split("\\s+")) {
                        for (String part : w.split(":")) {
                            if (!part.isEmpty() && !part.contains("..") && !part.startsWith("/")) {
                                String top = part.split("/")[0];
                                out.add(Path.of(base, top));
                                out.add(Path.of(base, "private", top));
                            }
                        }
                    }
                }
            }
        }
        // bind mounts: systemd creates a missing mount point on the host (haproxy: /var/lib/haproxy/dev/log)
        for (UnitFile u : c.files()) {
            for (RealUnits.Line l : u.lines()) {
                if (Set.of("BindPaths", "BindReadOnlyPaths", "TemporaryFileSystem").contains(l.key())) {
                    for (String w : l.value().split("\\s+")) {
                        String[] parts = w.replaceFirst("^[-+]", "").split(":");
                        String dest = l.key().startsWith("Bind") && parts.length > 1 ? parts[1] : parts[0];
                        if (dest.startsWith("/") && !dest.contains("..")) {
                            Path p = Path.of(dest);
                            for (int i = 1; i <= p.getNameCount(); i++) {
                                Path prefix = p.getRoot().resolve(p.subpath(0, i));
                                if (!Files.exists(prefix, LinkOption.NOFOLLOW_LINKS)) {
                                    out.add(prefix);
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
        out.add(Path.of("/var/lib/systemd/timers/stamp-steward-" + c.id() + ".timer"));
        return out;
    }

    private static void cleanHost(String id, List<Path> createdByTest) {
        for (Path p : createdByTest) {
            try {
                if (Files.isSymbolicLink(p)) {
                    Files.delete(p);
                } else {
                    SystemdSandbox.PathsForTests.deleteTree(p);
                }
            } catch (IOException e) {
                System.err.println("RealUnitsTest: cannot delete " + p + " (created for add-on " + id + "): " + e);
            }
        }
    }

    // ---- failure reasons --------------------------------------------------------------------------------------

    private static final Map<Integer, String> EXIT_STATUS = Map.ofEntries(Map.entry(200, "CHDIR"),
            Map.entry(203, "EXEC"), Map.entry(209, "STDOUT"), Map.entry(214, "SETSCHEDULER"),
            Map.entry(216, "GROUP"), Map.entry(217, "USER"), Map.entry(218, "CAPABILITIES"),
            Map.entry(226, "NAMESPACE"), Map.entry(228, "SECCOMP"), Map.entry(233, "RUNTIME_DIRECTORY"),
            Map.entry(238, "STATE_DIRECTORY"), Map.entry(239, "CACHE_DIRECTORY"), Map.entry(240, "LOGS_DIRECTORY"),
            Map.entry(241, "CONFIGURATION_DIRECTORY"), Map.entry(243, "CREDENTIALS"), Map.entry(231, "APPARMOR"));
    private static final Pattern STATUS = Pattern.compile("status (\\d+)");
    private static final Pattern NO_SUCH_UNIT = Pattern.compile("NoSuchUnit: Unit (\\S+) not found");

    /** Why systemd could not run it, as far as the host tells: missing accounts, exit statuses, conditions. */
    private static String failureReason(Case c, UnitFile svc, String message) {
        List<String> why = new ArrayList<>();
        Matcher m = STATUS.matcher(message);
        if (m.find()) {
            int code = Integer.parseInt(m.group(1));
            why.add("exit " + code + (EXIT_STATUS.containsKey(code) ? "/" + EXIT_STATUS.get(code) : ""));
        }
        if (svc != null) {
            List<String> missing = missingAccounts(svc);
            if (!missing.isEmpty()) {
                why.add("no such account here: " + String.join(", ", missing));
            }
        }
        Matcher dep = NO_SUCH_UNIT.matcher(message);
        if (dep.find()) {
            String needed = dep.group(1);
            boolean sibling = needed.startsWith("steward-");
            why.add("needs " + needed + (sibling ? ", a unit of the same package that is another add-on here"
                    : ", which this host does not have (Debian's package ships it, or it is the init system's)"));
        }
        if (message.contains("inactive/dead")) {
            Set<String> conditions = new java.util.LinkedHashSet<>();
            for (UnitFile u : c.files()) {
                u.lines().stream().filter(l -> l.section().equals("Unit")
                        && (l.key().startsWith("Condition") || l.key().startsWith("Assert")))
                        .forEach(l -> conditions.add(l.key() + "=" + l.value()));
            }
            if (!conditions.isEmpty()) {
                why.add("skipped by its own condition (" + String.join(" ", conditions) + ")");
            }
        }
        String journal = journal(c.rename().get(c.primary().name()));
        if (!journal.isEmpty()) {
            why.add("journal: " + journal);
        }
        if (why.isEmpty()) {
            why.add(message.replaceFirst("^add-on [^:]+: ", ""));
        }
        return String.join("; ", why);
    }

    /** User=, Group=, SupplementaryGroups= names that do not exist on this host (DynamicUser= excepted). */
    static List<String> missingAccounts(UnitFile svc) {
        if (svc.last("Service", "DynamicUser").map(v -> v.matches("(?i)yes|true|1|on")).orElse(false)) {
            return List.of();
        }
        Set<String> users = names(Path.of("/etc/passwd"));
        Set<String> groups = names(Path.of("/etc/group"));
        List<String> missing = new ArrayList<>();
        svc.last("Service", "User").filter(u -> !u.matches("\\d+") && !users.contains(u))
                .ifPresent(u -> missing.add("User=" + u));
        svc.last("Service", "Group").filter(g -> !g.matches("\\d+") && !groups.contains(g))
                .ifPresent(g -> missing.add("Group=" + g));
        for (String v : svc.all("Service", "SupplementaryGroups")) {
            for (String g : v.split("\\s+")) {
                if (!g.isEmpty() && !g.matches("\\d+") && !groups.contains(g)) {
                    missing.add("SupplementaryGroups=" + g);
                }
            }
        }
        return missing;
    }

    private static Set<String> names(Path file) {
        try {
            return Files.readAllLines(file).stream().map(l -> l.split(":", 2)[0]).collect(Collectors.toSet());
        } catch (IOException e) {
            return Set.of();
        }
    }

    /** The last lines the sandbox's journal has for a unit (empty when there is no journal). */
    private static String journal(String unit) {
        try {
            Process p = new ProcessBuilder("nsenter", "-t", Long.toString(sandbox.pid()), "-m", "-p", "-u", "-i", "-C",
                    "journalctl", "--no-pager", "-q", "-o", "cat", "-n", "4", "-u", unit).redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(20, TimeUnit.SECONDS) || p.exitValue() != 0) {
                return "";
            }
            return out.lines().map(String::strip).filter(l -> !l.isEmpty()).collect(Collectors.joining(" | "));
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    // ---- the figures ----------------------------------------------------------------------------------------------

    private static void print(List<Result> results, long units, Duration took) {
        StringBuilder b = new StringBuilder("\n==== Debian 12 unit corpus (RealUnitsTest) ====\n");
        b.append(String.format("%-58s %-16s %-30s %5s  %s%n", "unit", "type", "outcome", "s", "rule or reason"));
        for (Result r : results) {
            b.append(String.format("%-58s %-16s %-30s %5.1f  %s%n", r.c().pkg() + "/" + r.c().label(), r.c().type(),
                    r.outcome().text, r.took().toMillis() / 1000.0, r.reason()));
        }
        Map<Outcome, Long> counts = new TreeMap<>();
        results.forEach(r -> counts.merge(r.outcome(), 1L, Long::sum));
        long running = counts.getOrDefault(Outcome.RUNNING, 0L);
        long refused = counts.getOrDefault(Outcome.REFUSED, 0L);
        long failed = counts.getOrDefault(Outcome.FAILED, 0L);
        b.append(String.format("%n%d units: %d installed and running, %d refused by a deliberate rule, %d failed",
                results.size(), running, refused, failed));
        for (Outcome o : List.of(Outcome.REFUSED_UNTAGGED, Outcome.REFUSED_UNKNOWN, Outcome.NOT_RUN)) {
            if (counts.getOrDefault(o, 0L) > 0) {
                b.append(", ").append(counts.get(o)).append(' ').append(o.text);
            }
        }
        b.append(String.format(" (%d add-ons, %d unit files, %d s)%n", results.size(), units, took.toSeconds()));
        // forecast: what the idioms of each add-on point at under the strict rules (rules.md)
        Map<String, List<UnitFile>> pkgs = new TreeMap<>();
        results.forEach(r -> pkgs.putIfAbsent(r.c().pkg(), r.c().packageFiles()));
        long refusedLater = 0;
        long runningLater = 0;
        long failingLater = 0;
        Map<String, Long> forecastRules = new TreeMap<>();
        StringBuilder still = new StringBuilder();
        for (Result r : results) {
            Set<String> rules = RealUnitsIdioms.forecast(r.c().files(), r.c().packageFiles());
            rules.forEach(x -> forecastRules.merge(x, 1L, Long::sum));
            if (!rules.isEmpty()) {
                refusedLater++;
            } else if (r.outcome() == Outcome.RUNNING) {
                runningLater++;
            } else {
                failingLater++;
                still.append("  ").append(r.c().label()).append(": ").append(r.reason()).append('\n');
            }
        }
        b.append(String.format("forecast under the strict rules (from the idioms, before systemd): %d would be refused, "
                + "%d still installed and running, %d still failing or not run -> %.1f %%%n", refusedLater,
                runningLater, failingLater, 100.0 * (refusedLater + runningLater) / results.size()));
        b.append("add-ons each rule would refuse (an add-on can trip several): ").append(forecastRules).append('\n');
        b.append("still failing with no rule to refuse them first:\n").append(still);
        Map<String, Long> causes = new TreeMap<>();
        results.stream().filter(r -> r.outcome() == Outcome.FAILED || r.outcome() == Outcome.NOT_RUN)
                .forEach(r -> causes.merge(cause(r.reason()), 1L, Long::sum));
        b.append("failed or not run, by cause: ").append(causes).append('\n');
        Map<String, Long> rules = new TreeMap<>();
        results.stream().filter(r -> r.outcome() == Outcome.REFUSED).forEach(r -> rules.merge(r.reason(), 1L,
                Long::sum));
        if (!rules.isEmpty()) {
            b.append("refusals by rule: ").append(rules).append('\n');
        }
        b.append("names outside the convention that enabling created (Alias=):\n");
        results.stream().filter(r -> r.outcome() == Outcome.RUNNING && !r.detail().isEmpty())
                .forEach(r -> b.append("  ").append(r.c().label()).append(": ").append(r.detail()).append('\n'));
        b.append("refusal sentences:\n");
        results.stream().filter(r -> !r.detail().isEmpty() && r.outcome() != Outcome.FAILED
                        && r.outcome() != Outcome.RUNNING)
                .forEach(r -> b.append("  ").append(r.detail()).append('\n'));
        b.append("failure messages:\n");
        results.stream().filter(r -> r.outcome() == Outcome.FAILED)
                .forEach(r -> b.append("  ").append(r.detail().isEmpty() ? r.reason() : r.detail()).append('\n'));
        System.out.println(b);
    }

    /** A short class for a failure reason, for the tally. */
    static String cause(String reason) {
        if (reason.startsWith("Type=dbus")) {
            return "Type=dbus (not run)";
        }
        if (reason.contains(", a unit of the same package")) {
            return "needs a unit of its package installed as another add-on";
        }
        if (reason.contains("needs ")) {
            return "needs a unit this host does not have (socket, mount, target)";
        }
        if (reason.contains("no such account here")) {
            return "User=/Group= account missing on this host";
        }
        if (reason.startsWith("skipped by its own condition")) {
            return "its Condition*= does not hold here (no config, container)";
        }
        if (reason.startsWith("static unit")) {
            return "static unit (no [Install])";
        }
        return "other";
    }

    // ---- idioms: what Debian units do that a strict policy has to decide on ---------------------------------------

    private static void printIdioms(Map<String, List<UnitFile>> corpus) {
        Map<String, Set<String>> idioms = RealUnitsIdioms.scan(corpus);
        StringBuilder b = new StringBuilder("\n==== Debian idioms in the corpus (units that use each, as shipped) ====\n");
        idioms.forEach((idiom, names) -> b.append(String.format("%4d  %-100s %s%n", RealUnitsIdioms.units(names),
                idiom, names.size() <= 8 ? String.join(" ", names) : String.join(" ", List.copyOf(names).subList(0, 8))
                        + " …")));
        System.out.println(b);
    }
}
