package io.steward.delivery.internal;

import io.steward.delivery.Activation;
import io.steward.delivery.StagedArtifact;
import io.steward.supervision.AddonId;
import io.steward.supervision.ArtifactRef;
import io.steward.supervision.Assignment;
import io.steward.supervision.HostLayout;
import io.steward.supervision.Resources;
import io.steward.supervision.spi.AddonRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Run by {@link CrashTest} in a child JVM: stages, activates and commits one artifact, and at the named
 * point prints {@code PAUSED <point>} and blocks on stdin, so that the parent can kill -9 it exactly there.
 * Points: {@code extracted} (verified, not yet moved into versions/), {@code staged} (moved, stage not
 * returned), {@code activate} (stage returned, current not touched), {@code activated} (current swapped,
 * not committed).
 * <p>
 * Arguments: data trust id version url sha256 signature point.
 */
public final class CrashChild {
    private CrashChild() {
    }

    public static void main(String[] args) throws Exception {
        String pause = args[7];
        HostLayout layout = HostLayout.from(Map.of(HostLayout.DATA, args[0], HostLayout.TRUST, args[1])::get);
        DeliveryStager stager = new DeliveryStager(layout, Fixtures.config(Map.of()), false);
        stager.checkpoint(point -> pauseAt(point, pause));
        AddonId id = new AddonId(args[2]);
        Assignment a = new Assignment(id, args[3], true, "sidecar", "pushed_artifact",
                Optional.of(new ArtifactRef(args[4], args[5], args[6], Optional.empty())), Optional.of(args[2]),
                List.of(), Map.of(), "{}", List.of(), Resources.NONE);
        AddonRecord record = new AddonRecord(a, layout.addonHome(id), 1);
        StagedArtifact staged = stager.stage(record);
        pauseAt("activate", pause);
        Activation activation = stager.activate(record, staged);
        pauseAt("activated", pause);
        activation.commit();
        System.out.println("DONE");
        stager.deactivate();
    }

    private static void pauseAt(String point, String pause) {
        if (!point.equals(pause)) {
            return;
        }
        System.out.println("PAUSED " + point);
        System.out.flush();
        try {
            System.in.read();       // blocks until the parent kills us
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
