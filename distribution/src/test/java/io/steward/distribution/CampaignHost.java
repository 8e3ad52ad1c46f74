package io.steward.distribution;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The production topology as the crash campaign drives it: a real systemd (the CI's sandbox, or one of its own from
 * tools/systemd-sandbox.sh), the root {@code steward-updater} started through {@code bin/steward-updater} (rollback
 * allowed for the systemd add-ons, as an operator would), {@code bin/steward run} as the user {@code steward}
 * ({@code setpriv}) against it; and what the campaign reads back: the agent's ledger, the sidecar processes (group
 * leaders whose environment names the add-on's state directory here), the units over D-Bus ({@code busctl}), the
 * files left behind. Needs root and the {@code steward} user, as CI has.
 */
final class CampaignHost implements AutoCloseable {
    private static final Path DIST = Path.of(System.getProperty("steward.home", "target/steward")).toAbsolutePath();
    private static final String AGENT = "steward";
    static final String FLEET_HOST = "crash-host";

    private final String address;
    private final Path scratch;
    private final Path unitDir;
    private final boolean ownSandbox;
    private final Path root;
    private final Path home;
    private final Path etc;
    private final Path updaterTrust;
    private final Path priv;
    private final Path data;
    private final Path updaterState;
    private final Path socket;
    private Process agent;
    private Process broker;          // the fleet's nats-server, in fleet mode
    private int brokerPort;
    private int puts;
    private Process updater;
    private int starts;

    CampaignHost() throws Exception {
        if (!"root".equals(System.getProperty("user.name"))) {
            throw new IllegalStateException("the crash campaign starts the root steward-updater and runs the agent as "
                    + AGENT + ": run it as root (CI does)");
        }
        UserPrincipal user;
        try {
            user = Path.of("/").getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(AGENT);
        } catch (IOException e) {
            throw new IllegalStateException("create the user " + AGENT + " as .ci/run does: " + e.getMessage(), e);
        }
        String a = System.getenv("DBUS_SYSTEM_BUS_ADDRESS");
        String s = System.getenv("STEWARD_TEST_SYSTEMD_SCRATCH");
        String u = System.getenv("STEWARD_TEST_SYSTEMD_UNIT_DIR");
        if (a != null && s != null && u != null) {
            address = a;
            scratch = Path.of(s);
            unitDir = Path.of(u);
            ownSandbox = false;
        } else {
            scratch = Files.createDirectories(Path.of("/tmp/sdcc-" + UUID.randomUUID().toString().substring(0, 6)));
            address = "unix:path=" + scratch.resolve("dbus/system_bus_socket");
            unitDir = scratch.resolve("units");
            ownSandbox = true;
            sandbox("start");
        }
        try (Stream<Path> units = Files.list(unitDir)) {
            List<Path> stale = units.filter(p -> p.getFileName().toString().startsWith("steward-crash-")).toList();
            if (!stale.isEmpty()) {
                throw new IllegalStateException("the unit directory " + unitDir + " holds units of an earlier campaign "
                        + "that did not finish: " + stale + "; remove them (and stop their units) first");
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // a fresh sandbox
        }
        // under the sandbox's scratch: the sandboxed systemd runs the services from the privileged root
        root = Files.createTempDirectory(scratch, "crash-");
        for (Path p = root; p != null && !p.equals(Path.of("/tmp")) && !p.equals(Path.of("/")); p = p.getParent()) {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
            perms.add(PosixFilePermission.OTHERS_EXECUTE);
            perms.add(PosixFilePermission.GROUP_EXECUTE);
            Files.setPosixFilePermissions(p, perms);
        }
        home = copyDistribution(root.resolve("home"));
        etc = dir("etc", "rwxr-xr-x");
        updaterTrust = dir("updater-trust", "rwxr-xr-x");
        priv = dir("priv", "rwxr-xr-x");
        data = dir("data", "rwxr-x---");
        Files.setOwner(data, user);
        updaterState = dir("updater-state", "rwx------");
        socket = dir("run", "rwxr-xr-x").resolve("updater.sock");
        check(steward(false, "keygen", "--out", root.resolve("it").toString()), "keygen");
        Files.createDirectories(etc.resolve("trust"));
        Files.copy(root.resolve("it.pub.pem"), etc.resolve("trust/it.pem"));
        Files.copy(root.resolve("it.pub.pem"), updaterTrust.resolve("it.pem"));
    }

    // ---------------------------------------------------------------- the fleet's artifacts

    /** Packs every add-on at every version; "id@version" → the assignment's artifact object. */
    Map<String, JsonObject> packFleet() throws Exception {
        Map<String, JsonObject> artifacts = new TreeMap<>();
        for (String id : CrashCampaign.allIds()) {
            if (CrashCampaign.TOGGLES.contains(id)) {
                continue;
            }
            for (String version : CrashCampaign.VERSIONS) {
                artifacts.put(id + "@" + version, pack(id, version, sources(id, version)));
            }
        }
        return artifacts;
    }

    /** Packs and signs one add-on from its files ({@code run.sh} made executable); the assignment's artifact object. */
    JsonObject pack(String id, String version, Map<String, String> files) throws Exception {
        Path dir = Files.createDirectories(root.resolve("src").resolve(id + "-" + version));
        for (Map.Entry<String, String> f : files.entrySet()) {
            Files.writeString(dir.resolve(f.getKey()), f.getValue());
        }
        Files.setPosixFilePermissions(dir.resolve("run.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Path out = Files.createDirectories(root.resolve("repo")).resolve(id + "-" + version + ".tar.gz");
        String packed = check(steward(false, "pack", dir.toString(), "--key", root.resolve("it.key.pem").toString(),
                "--out", out.toString(), "--json"), "pack " + id);
        JsonObject p = JsonParser.parseString(packed).getAsJsonObject();
        JsonObject artifact = new JsonObject();
        artifact.addProperty("url", out.toUri().toString());
        artifact.addProperty("sha256", p.get("sha256").getAsString());
        artifact.addProperty("signature", p.get("signature").getAsString());
        artifact.addProperty("key", p.get("key").getAsString());
        return artifact;
    }

    /** An add-on's files: the first two sidecars notify after up to 2 s, the others count as ready after the grace. */
    private static Map<String, String> sources(String id, String version) {
        String kind = CrashCampaign.kind(id);
        Map<String, String> files = new TreeMap<>();
        StringBuilder manifest = new StringBuilder("{\"id\":\"" + id + "\",\"version\":\"" + version
                + "\",\"supervision\":\"" + kind + "\",\"binary\":\"run.sh\"");
        switch (kind) {
            case "sidecar" -> {
                boolean notify = CrashCampaign.SIDECARS.indexOf(id) < 2;
                files.put("run.sh", "#!/bin/bash\n# " + id + " " + version + "\necho $$ >> \"$STEWARD_ADDON_STATE/pids\"\n"
                        + "trap 'exit 0' TERM\n"
                        + (notify ? "sleep \"$(( RANDOM % 2 )).$(( RANDOM % 10 ))\"\n"
                        + "/usr/bin/systemd-notify --no-block --ready\n" : "")
                        + "while true; do sleep 0.5 & wait $!; done\n");
                if (notify) {
                    manifest.append(",\"notify\":true");
                }
            }
            case "systemd_service" -> {
                String unit = "steward-" + id + ".service";
                files.put("run.sh", "#!/bin/sh\n# " + id + " " + version + "\nexec sleep infinity\n");
                files.put(unit, "[Unit]\nDescription=crash campaign " + id + " " + version + "\n[Service]\n"
                        + "ExecStart=@ADDON_HOME@/run.sh\n[Install]\nWantedBy=multi-user.target\n");
                manifest.append(",\"units\":[\"").append(unit).append("\"]");
            }
            case "systemd_timer" -> {
                files.put("run.sh", "#!/bin/sh\n# " + id + " " + version + "\nexit 0\n");
                files.put("steward-" + id + ".timer", "[Unit]\nDescription=crash campaign timer " + version
                        + "\n[Timer]\nOnActiveSec=1h\n[Install]\nWantedBy=timers.target\n");
                files.put("steward-" + id + ".service", "[Service]\nType=oneshot\nExecStart=@ADDON_HOME@/run.sh\n");
                manifest.append(",\"units\":[\"steward-").append(id).append(".timer\",\"steward-").append(id)
                        .append(".service\"]");
            }
            default -> files.put("run.sh", "#!/bin/sh\necho " + id + " " + version + "\n");
        }
        files.put("addon.json", manifest.append("}\n").toString());
        return files;
    }

    // ---------------------------------------------------------------- the agent and the updater

    /**
     * Fleet mode: the agent takes its assignments from a real nats-server on loopback ({@code run --nats}), each
     * {@link #assign} is a signed {@code steward fleet put}, and the broker can be killed too.
     */
    void useFleet() throws Exception {
        try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            brokerPort = free.getLocalPort();
        }
        startBroker();
        check(steward(false, "keygen", "--out", root.resolve("fleet").toString()), "keygen");
        Files.copy(root.resolve("fleet.pub.pem"), etc.resolve("trust/fleet.pem"));
    }

    boolean fleet() {
        return brokerPort != 0;
    }

    String natsUrl() {
        return "nats://127.0.0.1:" + brokerPort;
    }

    /** The broker, on its port and store of the first start (JetStream keeps the buckets across a kill). */
    void startBroker() throws Exception {
        Path dir = Files.createDirectories(root.resolve("nats"));
        broker = new ProcessBuilder("nats-server", "-js", "-a", "127.0.0.1", "-p", Integer.toString(brokerPort),
                "-sd", dir.resolve("store").toString()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("log").toFile())).start();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try (java.net.Socket probe = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), brokerPort)) {
                return;
            } catch (IOException notYet) {
                if (!broker.isAlive() || System.nanoTime() > end) {
                    throw new IllegalStateException("nats-server did not come up; its log:\n"
                            + Files.readString(dir.resolve("log")), notYet);
                }
                Thread.sleep(50);     // polling a condition with a deadline
            }
        }
    }

    void killBroker() throws InterruptedException {
        kill(broker);
    }

    boolean brokerRunning() {
        return broker != null && broker.isAlive();
    }

    void assign(String document) throws Exception {
        if (fleet()) {
            Path file = Files.writeString(root.resolve("put-" + (++puts) + ".json"), document);
            List<String> put = new ArrayList<>(List.of("fleet", "put", "--nats", natsUrl(), "--host", FLEET_HOST,
                    "--key", root.resolve("fleet.key.pem").toString(), file.toString()));
            if (puts == 1) {
                put.add("--create-buckets");
            }
            check(steward(false, put.toArray(String[]::new)), "fleet put");
            return;
        }
        Path tmp = etc.resolve(".assignments.json.tmp");
        Files.writeString(tmp, document);
        Files.move(tmp, etc.resolve("assignments.json"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    void startUpdater() throws Exception {
        Path log = root.resolve("updater-" + (++starts) + ".log");
        List<String> command = new ArrayList<>(List.of(home.resolve("bin/steward-updater").toString(), "--socket",
                socket.toString(), "--agent-user", AGENT, "--data", data.toString(), "--privileged-root", priv.toString(),
                "--unit-dir", unitDir.toString(), "--trust", updaterTrust.toString(), "--state", updaterState.toString(),
                "--systemd-bus", address));
        for (String id : CrashCampaign.allIds()) {
            if (CrashCampaign.SERVICES.contains(id) || id.equals(CrashCampaign.TIMER)) {
                command.addAll(List.of("--allow-rollback", id));       // the operator allows the downgrades
            }
        }
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().clear();
        pb.environment().put("PATH", "/usr/bin:/bin");
        updater = pb.start();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!(Files.exists(socket) && Files.readString(log).contains("serving"))) {
            if (!updater.isAlive() || System.nanoTime() > end) {
                throw new IllegalStateException("the updater did not come up; its log:\n" + Files.readString(log));
            }
            Thread.sleep(50);     // polling a condition with a deadline
        }
    }

    void startAgent() throws IOException {
        int n = ++starts;
        List<String> command = new ArrayList<>(List.of("setpriv", "--reuid", AGENT, "--regid", AGENT, "--clear-groups",
                "--", home.resolve("bin/steward").toString(), "run", "--verbose"));
        if (fleet()) {
            command.addAll(List.of("--nats", natsUrl(), "--host-id", FLEET_HOST));
        }
        command.addAll(roots());
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(root.resolve("agent-" + n + ".out").toFile())
                .redirectError(root.resolve("agent-" + n + ".err").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        env(pb, true);
        agent = pb.start();
    }

    boolean agentRunning() {
        return agent != null && agent.isAlive();
    }

    boolean updaterRunning() {
        return updater != null && updater.isAlive();
    }

    void killAgent() throws InterruptedException {
        kill(agent);
    }

    void killUpdater() throws InterruptedException {
        kill(updater);
    }

    /**
     * {@code systemctl daemon-reexec}: systemd re-executes itself (dropping its bus connections, keeping its units)
     * while the agent and the updater run on; returns once it answers on the bus again.
     */
    void reexecSystemd() throws Exception {
        manager("Reexecute").waitFor(30, TimeUnit.SECONDS);     // no reply comes: systemd leaves the bus to re-execute
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!answers(manager("GetUnit", "s", "multi-user.target"))) {
            if (System.nanoTime() > end) {
                throw new IllegalStateException("systemd did not come back on the bus within 60 s of daemon-reexec");
            }
            Thread.sleep(50);     // polling a condition with a deadline
        }
    }

    /**
     * A power cut: the agent, the updater, every sidecar and every process of the fleet's units die at once
     * (SIGKILL), and the units are left as a boot finds them, inactive. {@link #boot()} starts what is enabled.
     * (The boot id stays: pids and start times are what tells the agent its processes are gone.)
     */
    void powerCut() throws Exception {
        killAgent();
        killUpdater();
        for (String id : CrashCampaign.SIDECARS) {
            for (long[] p : sidecarProcesses(id)) {
                ProcessHandle.of(p[0]).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
        for (String id : CrashCampaign.allIds()) {
            for (String unit : CrashCampaign.units(id)) {
                manager("KillUnit", "ssi", unit, "all", "9").waitFor(30, TimeUnit.SECONDS);
                manager("StopUnit", "ss", unit, "replace").waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    /** What a boot starts: the targets the updater enables the units for, and through them every unit they want. */
    void boot() throws Exception {
        for (String target : List.of("multi-user.target", "timers.target")) {
            Process start = manager("StartUnit", "ss", target, "replace");
            if (!answers(start)) {
                throw new IllegalStateException("systemd did not start " + target + " at boot");
            }
        }
    }

    private Process manager(String method, String... args) throws IOException {
        List<String> call = new ArrayList<>(List.of("call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager", method));
        call.addAll(List.of(args));
        return busctl(call.toArray(String[]::new));
    }

    private static boolean answers(Process p) throws InterruptedException {
        return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    private static void kill(Process p) throws InterruptedException {
        if (p != null && p.isAlive()) {
            p.destroyForcibly();            // SIGKILL: no shutdown hook, no deactivation
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("pid " + p.pid() + " survived SIGKILL");
            }
        }
    }

    // ---------------------------------------------------------------- what the host looks like

    /** The agent's ledger entry of an add-on, or null. */
    JsonObject ledgerEntry(String id) {
        try {
            return JsonParser.parseString(Files.readString(data.resolve("state/ledger/" + id + ".json"))).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private boolean ledgerIsEmpty() {
        try (Stream<Path> entries = Files.list(data.resolve("state/ledger"))) {
            return entries.noneMatch(p -> p.getFileName().toString().endsWith(".json"));
        } catch (IOException e) {
            return true;        // no ledger yet
        }
    }

    /** The agent's data directory (what an add-on's units run under needs to traverse it: docs/fleet.md "Results out"). */
    Path data() {
        return data;
    }

    /** Every copy of a sidecar on the host (a group leader with its state directory and a launch id): {pid, version index}. */
    List<long[]> sidecarProcesses(String id) {
        byte[] state = ("STEWARD_ADDON_STATE=" + data.resolve("addons").resolve(id).resolve("state"))
                .getBytes(StandardCharsets.UTF_8);
        List<long[]> found = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString()
                .matches("[0-9]+"))) {
            for (Path p : dir) {
                long pid = Long.parseLong(p.getFileName().toString());
                try {
                    String stat = Files.readString(p.resolve("stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    if (Long.parseLong(f[2]) != pid || f[0].equals("Z")) {
                        continue;
                    }
                    List<String> env = entries(Files.readAllBytes(p.resolve("environ")));
                    // the keeper a sidecar runs under has its environment but not its launch id
                    if (env.contains(new String(state, StandardCharsets.UTF_8))
                            && env.stream().anyMatch(e -> e.startsWith("STEWARD_LAUNCH_ID="))) {
                        String v = env.stream().filter(e -> e.startsWith("STEWARD_ADDON_VERSION=")).findFirst()
                                .map(e -> e.substring("STEWARD_ADDON_VERSION=".length())).orElse("");
                        found.add(new long[] {pid, CrashCampaign.VERSIONS.indexOf(v)});
                    }
                } catch (IOException | RuntimeException e) {
                    // gone meanwhile
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return found;
    }

    private static List<String> entries(byte[] environ) {
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i <= environ.length; i++) {
            if (i == environ.length || environ[i] == 0) {
                if (i > start) {
                    out.add(new String(Arrays.copyOfRange(environ, start, i), StandardCharsets.UTF_8));
                }
                start = i + 1;
            }
        }
        return out;
    }

    /** A unit's ActiveState over D-Bus, or "not loaded". */
    String activeState(String unit) throws Exception {
        Process get = busctl("call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager", "GetUnit", "s", unit);
        String path = new String(get.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!get.waitFor(30, TimeUnit.SECONDS) || get.exitValue() != 0 || !path.startsWith("o ")) {
            return "not loaded";
        }
        Process prop = busctl("get-property", "org.freedesktop.systemd1", path.substring(3, path.length() - 1),
                "org.freedesktop.systemd1.Unit", "ActiveState");
        String out = new String(prop.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        prop.waitFor(30, TimeUnit.SECONDS);
        return out.startsWith("s ") ? out.substring(3, out.length() - 1) : out;
    }

    private Process busctl(String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("/usr/bin/busctl", "--address=" + address));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().clear();
        return pb.start();
    }

    /** What an undesired add-on may have left: units, links, privileged tree, kind records, a running unit. */
    List<String> leftovers(String id) throws Exception {
        List<String> left = new ArrayList<>();
        try (Stream<Path> all = Files.walk(unitDir)) {
            for (Path p : all.toList()) {
                String name = p.getFileName().toString();
                if (name.startsWith("steward-" + id + ".") || name.startsWith("steward-" + id + "-")) {
                    left.add("left: " + id + ": " + (Files.isSymbolicLink(p) ? "link " : "unit file ")
                            + unitDir.relativize(p));
                }
            }
        }
        for (Path p : List.of(priv.resolve(id), data.resolve("state/sidecar/" + id + ".json"),
                data.resolve("state/systemd/" + id + ".json"))) {
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                left.add("left: " + id + ": " + p);
            }
        }
        for (String unit : CrashCampaign.units(id)) {
            String state = activeState(unit);
            if (state.equals("active") || state.equals("activating") || state.equals("reloading")) {
                left.add("left: " + id + ": " + unit + " is " + state);
            }
        }
        String updaterLedger = Files.exists(updaterState.resolve("units.json"))
                ? Files.readString(updaterState.resolve("units.json")) : "";
        if (updaterLedger.contains("steward-" + id + ".")) {
            left.add("left: " + id + ": the updater's ledger still lists its units");
        }
        return left;
    }

    /** Every state file that does not parse: a torn write. The audit log's last line may be being written. */
    List<String> tornFiles() throws IOException {
        List<String> torn = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        for (Path dir : List.of(data.resolve("state/ledger"), data.resolve("state/sidecar"),
                data.resolve("state/systemd"), updaterState)) {
            if (Files.isDirectory(dir)) {
                try (Stream<Path> list = Files.list(dir)) {
                    list.filter(p -> p.getFileName().toString().endsWith(".json")).forEach(files::add);
                }
            }
        }
        for (Path f : files) {
            try {
                JsonElement e = JsonParser.parseString(Files.readString(f));
                if (!e.isJsonObject()) {
                    torn.add("torn: " + f + " is not a JSON object");
                }
            } catch (java.nio.file.NoSuchFileException e) {
                // replaced or removed meanwhile
            } catch (IOException | RuntimeException e) {
                torn.add("torn: " + f + ": " + e.getMessage());
            }
        }
        Path audit = data.resolve("state/audit.jsonl");
        if (Files.exists(audit)) {
            String text = Files.readString(audit);
            List<String> lines = text.lines().toList();
            for (int i = 0; i < lines.size(); i++) {
                boolean last = i == lines.size() - 1 && !text.endsWith("\n");
                try {
                    JsonParser.parseString(lines.get(i)).getAsJsonObject();
                } catch (RuntimeException e) {
                    if (!last) {
                        torn.add("torn: " + audit + " line " + (i + 1));
                    }
                }
            }
        }
        try (DirectoryStream<Path> units = Files.newDirectoryStream(unitDir, "steward-*")) {
            for (Path u : units) {
                if (Files.isRegularFile(u, LinkOption.NOFOLLOW_LINKS)) {
                    String text = Files.readString(u);
                    if (text.isEmpty() || !text.endsWith("\n") || !text.contains("[")) {
                        torn.add("torn: unit file " + u);
                    }
                }
            }
        }
        return torn;
    }

    // ---------------------------------------------------------------- plumbing

    @Override
    public void close() throws Exception {
        try {
            if (fleet() && !brokerRunning()) {
                startBroker();
            }
            if (agentRunning() && updaterRunning()) {
                assign("{\"revision\":\"crash-end\",\"addons\":[]}\n");     // the agent removes everything
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
                while (System.nanoTime() < end && !ledgerIsEmpty()) {
                    Thread.sleep(200);
                }
            }
        } finally {
            if (agent != null && agent.isAlive()) {
                agent.destroy();
                if (!agent.waitFor(30, TimeUnit.SECONDS)) {
                    kill(agent);
                }
            }
            if (updater != null && updater.isAlive()) {
                updater.destroy();
                if (!updater.waitFor(30, TimeUnit.SECONDS)) {
                    kill(updater);
                }
            }
            for (String id : CrashCampaign.SIDECARS) {
                for (long[] p : sidecarProcesses(id)) {
                    new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + p[0]).start().waitFor(10, TimeUnit.SECONDS);
                }
            }
            if (brokerRunning()) {
                kill(broker);
            }
            try (Stream<Path> all = Files.walk(root)) {
                for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
            if (ownSandbox) {
                sandbox("stop");
                try (Stream<Path> all = Files.walk(scratch)) {
                    for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        }
    }

    private List<String> roots() {
        return List.of("--data", data.toString(), "--etc", etc.toString(), "--trust", etc.resolve("trust").toString(),
                "--unit-dir", unitDir.toString(), "--privileged-root", priv.toString(), "--systemd-bus", address);
    }

    private void env(ProcessBuilder pb, boolean asAgent) {
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", "/usr/bin:/bin");
        env.put("LANG", "C.UTF-8");
        env.put("HOME", asAgent ? "/nonexistent" : root.toString());
        env.put("STEWARD_JAVA_OPTS", "-Dsteward.updater.socket=" + socket);
    }

    /** A one-shot bin/steward (as root: the artifact tools); its stdout, or an exception naming what failed. */
    private Process steward(boolean asAgent, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(home.resolve("bin/steward").toString()));
        command.addAll(List.of(args));
        command.addAll(roots());
        int n = ++starts;
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(root.resolve("run-" + n + ".out").toFile())
                .redirectError(root.resolve("run-" + n + ".err").toFile());
        env(pb, asAgent);
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
        return p;
    }

    private String check(Process p, String what) throws IOException {
        long n = starts;
        String err = Files.readString(root.resolve("run-" + n + ".err"));
        if (p.isAlive() || p.exitValue() != 0) {
            throw new IllegalStateException(what + " failed: " + err);
        }
        return Files.readString(root.resolve("run-" + n + ".out"));
    }

    private void sandbox(String verb) throws Exception {
        Path tool = DIST;
        while (tool != null && !Files.isRegularFile(tool.resolve("tools/systemd-sandbox.sh"))) {
            tool = tool.getParent();
        }
        if (tool == null) {
            throw new IllegalStateException("tools/systemd-sandbox.sh not found above " + DIST);
        }
        ProcessBuilder pb = new ProcessBuilder(tool.resolve("tools/systemd-sandbox.sh").toString(), verb)
                .redirectErrorStream(true);
        pb.environment().put("SCRATCH", scratch.toString());
        pb.environment().put("UNIT_DIR", unitDir.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("systemd-sandbox.sh " + verb + " failed: " + out);
        }
    }

    /** The distribution laid out as an installation: root-owned, nothing writable by others. */
    private static Path copyDistribution(Path target) throws IOException {
        for (String top : List.of("bin", "bundle", "deploy", "lib", "etc/deploy-trust")) {
            Path source = DIST.resolve(top);
            try (Stream<Path> files = Files.walk(source)) {
                for (Path p : files.toList()) {
                    Path t = target.resolve(top).resolve(source.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(t);
                    } else {
                        Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
                    }
                    Files.setPosixFilePermissions(t, PosixFilePermissions.fromString(
                            Files.isDirectory(t) || Files.isExecutable(p) ? "rwxr-xr-x" : "rw-r--r--"));
                }
            }
        }
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
        return target;
    }

    private Path dir(String name, String mode) throws IOException {
        Path d = Files.createDirectories(root.resolve(name));
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString(mode));
        return d;
    }

    Path root() {
        return root;
    }
}
