package io.steward.systemd.units.testing;

import io.steward.systemd.bus.DbusSystemdManager;
import io.steward.systemd.testing.SystemdSandbox;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What a kind bundle's test needs around its dispatcher: the run's real systemd ({@link SystemdSandbox#shared()}),
 * a D-Bus client of it, and a fresh {@link Fixture} (repository, data and privileged root) per test.
 */
public final class KindTestbed implements AutoCloseable {
    private final SystemdSandbox sandbox;
    private final DbusSystemdManager systemd;

    private KindTestbed(SystemdSandbox sandbox) {
        this.sandbox = sandbox;
        this.systemd = new DbusSystemdManager(sandbox.address(), Duration.ofSeconds(10));
    }

    /** Connects to the run's sandbox, starting it if this JVM is the first to ask. */
    public static KindTestbed open() throws IOException, InterruptedException {
        return new KindTestbed(SystemdSandbox.shared());
    }

    public SystemdSandbox sandbox() {
        return sandbox;
    }

    public DbusSystemdManager systemd() {
        return systemd;
    }

    /** One agent's wiring on new directories, installing into the sandbox's unit directory. */
    public Fixture newFixture() throws IOException {
        return new Fixture(sandbox.newDirectory("repo"), sandbox.newDirectory("data"), sandbox.newDirectory("priv"),
                sandbox.unitDir(), systemd);
    }

    /** An add-on id no other test of the run uses: the sandbox's systemd is shared. */
    public static String newId(String prefix) {
        return prefix + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Every path under the unit directory, relative to it. */
    public Set<String> unitDirEntries() throws IOException {
        Path dir = sandbox.unitDir();
        try (Stream<Path> s = Files.walk(dir)) {
            return s.map(p -> dir.relativize(p).toString()).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    @Override
    public void close() {
        systemd.close();
    }
}
