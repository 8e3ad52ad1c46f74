package io.steward.distribution;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throwaway root with its own systemd: {@code tools/systemd-sandbox.sh} with {@code PRIVATE_ROOT=1}, so
 * {@code /etc}, {@code /usr} and {@code /var} inside are overlays over the host's (changes land under the
 * scratch directory) and the rest of {@code /} is read-only. Commands run inside through {@code nsenter} into
 * its mount and pid namespaces; files are read and written through {@code /proc/<systemd>/root}. Before either,
 * the mount namespace is checked to be still the sandbox's (never the host's: a dead sandbox's pid reused by a
 * host process would otherwise point them at the host).
 */
final class PackageSandbox implements AutoCloseable {
    private static final Path HOST_MNT_NS = Path.of("/proc/self/ns/mnt");

    private final Path tool;
    private final Path scratch;
    private final long pid;
    private final String mountNamespace;

    private PackageSandbox(Path tool, Path scratch, long pid, String mountNamespace) {
        this.tool = tool;
        this.scratch = scratch;
        this.pid = pid;
        this.mountNamespace = mountNamespace;
    }

    /** Starts a sandbox in a fresh short scratch directory (unix socket paths stay short). */
    static PackageSandbox start(Path from) throws Exception {
        Path dir = from.toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve("tools/systemd-sandbox.sh"))) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IllegalStateException("tools/systemd-sandbox.sh not found above " + from);
        }
        Path tool = dir.resolve("tools/systemd-sandbox.sh");
        Path scratch = Files.createTempDirectory(Path.of("/tmp"), "sdpkg-");
        // the agent's user reads artifacts under it, at the same path inside
        Files.setPosixFilePermissions(scratch, PosixFilePermissions.fromString("rwxr-xr-x"));
        script(tool, scratch, "start");
        long pid = Long.parseLong(Files.readString(scratch.resolve("systemd.pid")).strip());
        String ns = Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "ns", "mnt")).toString();
        if (ns.equals(Files.readSymbolicLink(HOST_MNT_NS).toString())) {
            script(tool, scratch, "stop");
            throw new IllegalStateException("the sandbox's systemd shares the host's mount namespace");
        }
        PackageSandbox s = new PackageSandbox(tool, scratch, pid, ns);
        String fs = s.run("findmnt", "-n", "-o", "FSTYPE", "--mountpoint", "/etc").out().strip();
        if (!fs.equals("overlay")) {
            s.close();
            throw new IllegalStateException("/etc in the sandbox is " + fs + ", not an overlay");
        }
        return s;
    }

    private static String script(Path tool, Path scratch, String verb) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(tool.toString(), verb).redirectErrorStream(true);
        pb.environment().put("SCRATCH", scratch.toString());
        pb.environment().put("PRIVATE_ROOT", "1");
        pb.environment().remove("UNIT_DIR");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(90, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("systemd-sandbox.sh " + verb + " failed: " + out);
        }
        return out;
    }

    Path scratch() {
        return scratch;
    }

    /** Where the host's layers of the overlay {@code /etc}, {@code /usr} or {@code /var} took the changes. */
    Path upper(String top) {
        return scratch.resolve("root").resolve(top + ".upper");
    }

    private void checkNamespace() throws IOException {
        String now = Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "ns", "mnt")).toString();
        if (!now.equals(mountNamespace)) {
            throw new IllegalStateException("the sandbox's systemd (pid " + pid + ") is gone");
        }
    }

    /** {@code path} (absolute, as seen inside) from the host, after the namespace check. */
    Path inside(String path) throws IOException {
        checkNamespace();
        return Path.of("/proc", Long.toString(pid), "root", path.substring(1));
    }

    record Result(List<String> command, int exit, String out) {
        @Override
        public String toString() {
            return String.join(" ", command) + "\nexit " + exit + "\n" + out;
        }
    }

    /** Runs {@code command} inside (mount, pid, uts, ipc namespaces) as root with a clean environment. */
    Result run(String... command) throws Exception {
        checkNamespace();
        List<String> argv = new ArrayList<>(List.of("nsenter", "-t", Long.toString(pid), "-m", "-p", "-u", "-i",
                "--wd=/", "--", "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
                "DEBIAN_FRONTEND=noninteractive"));
        argv.addAll(List.of(command));
        Path out = Files.createTempFile(scratch, "run-", ".out");
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError(String.join(" ", command) + " did not finish within 180 s:\n" + Files.readString(out));
        }
        String text = Files.readString(out);
        Files.delete(out);
        return new Result(List.of(command), p.exitValue(), text);
    }

    /** Like {@link #run} and exit 0, else an assertion error with the output. */
    String ok(String... command) throws Exception {
        Result r = run(command);
        if (r.exit() != 0) {
            throw new AssertionError(r.toString());
        }
        return r.out();
    }

    /** {@code systemctl show -p NAME --value UNIT}. */
    String property(String unit, String name) throws Exception {
        return ok("systemctl", "show", "-p", name, "--value", unit).strip();
    }

    @Override
    public void close() throws Exception {
        try {
            script(tool, scratch, "stop");
        } finally {
            try (Stream<Path> all = Files.walk(scratch)) {
                for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
