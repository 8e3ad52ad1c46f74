package io.steward.shell.internal;

import io.steward.deploy.DeployFolder;
import io.steward.deploy.QuarantinedJar;
import io.steward.supervision.AddonId;
import io.steward.supervision.PlanStep;
import io.steward.supervision.ReconcileReport;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Fixed statuses, steps and reports the command tests render. */
final class Values {
    static final Instant T = Instant.parse("2026-12-01T10:00:00Z");

    private Values() {
    }

    static SupervisionStatus status(String id, String kind, SupervisionState state, String desired, String active,
                                    String detail) {
        return new SupervisionStatus(new AddonId(id), kind, state, Optional.ofNullable(desired),
                Optional.ofNullable(active), detail, T);
    }

    static SupervisionStatus ready(String id, String kind) {
        return status(id, kind, SupervisionState.READY, "1.0.0", "1.0.0", "running");
    }

    static PlanStep step(String id, String kind, PlanStep.Action action, String reason) {
        return new PlanStep(new AddonId(id), kind, action, reason);
    }

    static ReconcileReport report(String revision, List<PlanStep> steps, List<SupervisionStatus> statuses,
                                  List<String> warnings) {
        return new ReconcileReport(revision, steps, statuses, warnings, T, Duration.ofMillis(12));
    }

    /** What guards deploy/: verifying or not, and the jars it quarantined. */
    static DeployFolder deploy(boolean verifies, List<QuarantinedJar> quarantined) {
        return new DeployFolder() {
            @Override
            public boolean verifies() {
                return verifies;
            }

            @Override
            public List<Path> trust() {
                return List.of(Path.of("/opt/steward/etc/deploy-trust"), Path.of("/etc/steward/deploy-trust"));
            }

            @Override
            public List<QuarantinedJar> quarantined() {
                return quarantined;
            }
        };
    }

    static QuarantinedJar quarantined(int n) {
        return new QuarantinedJar("kind" + n + ".jar", ".quarantine/kind" + n + ".jar.20261207T01150" + n + "Z",
                "not signed", T.plusSeconds(n));
    }
}
