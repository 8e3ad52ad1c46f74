package io.steward.systemd.units.testing;

import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.AddonRecord;
import io.steward.systemd.SystemdManager;
import io.steward.systemd.install.SystemdUnitInstaller;
import io.steward.systemd.units.UnitSupervisor;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One agent's worth of wiring, outside OSGi: layout, stager, installer and a supervisor per kind. Shared with the
 * kind bundles' tests through this module's test-jar.
 */
public final class Fixture {
    public final Path repo;
    public final HostLayout layout;
    public final SystemdManager systemd;
    public final SystemdUnitInstaller installer;
    public final RepoStager stager;

    public Fixture(Path repo, Path data, Path privileged, Path unitDir, SystemdManager systemd) {
        this.repo = repo;
        this.layout = new HostLayout(data, data.resolve("etc"), data.resolve("etc/trust"), unitDir, privileged);
        this.systemd = systemd;
        this.installer = new SystemdUnitInstaller(systemd, layout, Duration.ofMillis(300));
        this.stager = new RepoStager(repo, layout);
    }

    public UnitSupervisor supervisor(String kind) {
        return new UnitSupervisor(kind, systemd, installer, stager, layout, Duration.ofSeconds(30));
    }

    public AddonRecord record(String id, String kind, String version) {
        return record(id, kind, version, Resources.NONE);
    }

    public AddonRecord record(String id, String kind, String version, Resources resources) {
        Assignment a = new Assignment(new AddonId(id), version, true, kind, "pushed_artifact",
                Optional.of(new ArtifactRef("file:///repo/" + id + "-" + version + ".tar.gz", "0".repeat(64), "",
                        Optional.empty())), Optional.of("run.sh"), List.of(), Map.of(), "{}", List.of(), resources);
        return new AddonRecord(a, layout.addonHome(a.id()), 1);
    }

    /** A service unit that runs the artifact's run.sh from the root-owned copy. */
    public static String service(String description) {
        return "[Unit]\nDescription=" + description + "\n[Service]\nExecStart=@ADDON_HOME@/run.sh\n"
                + "[Install]\nWantedBy=multi-user.target\n";
    }

    public static final String RUNS = "#!/bin/sh\nexec sleep 600\n";
    public static final String EXITS_1 = "#!/bin/sh\nexit 1\n";
}
