package io.steward.systemd.units;

import io.steward.supervision.AddonId;
import io.steward.supervision.SupervisionState;
import io.steward.supervision.SupervisionStatus;
import io.steward.systemd.ActiveState;
import io.steward.systemd.UnitState;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

/**
 * What systemd reports of a kind's primary unit (and of a timer's service), read as the add-on's
 * {@link SupervisionStatus} with a detail sentence. Pure and thread-safe.
 */
final class UnitStatuses {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'")
            .withZone(ZoneOffset.UTC);

    private final String kind;

    UnitStatuses(String kind) {
        this.kind = kind;
    }

    SupervisionStatus service(AddonId id, Optional<String> version, UnitState s) {
        String since = s.activeEnterTimestamp().map(t -> " since " + TIME.format(t)).orElse("");
        String pid = s.mainPid().isPresent() ? ", pid " + s.mainPid().getAsLong() : "";
        return switch (s.activeState()) {
            case ACTIVE, RELOADING -> of(id, SupervisionState.READY, version, s.name() + " " + s.activeState().wireName()
                    + "/" + s.subState() + since + pid);
            case ACTIVATING -> "auto-restart".equals(s.subState())
                    ? of(id, SupervisionState.BACKOFF, version, s.name() + " is restarting after a failure ("
                    + s.describe() + ")")
                    : of(id, SupervisionState.STARTING, version, s.name() + " is starting (" + s.describe() + ")");
            case DEACTIVATING -> of(id, SupervisionState.DEGRADED, version, s.name() + " is stopping ("
                    + s.describe() + ")");
            case FAILED -> of(id, SupervisionState.FAILED, version, s.name() + " failed (" + s.describe() + ")");
            case INACTIVE -> "oneshot".equals(s.serviceType()) && "success".equals(s.result())
                    ? of(id, SupervisionState.READY, version, s.name() + " completed successfully")
                    : of(id, SupervisionState.FAILED, version, s.name() + " is stopped (" + s.describe() + ")");
            default -> of(id, SupervisionState.DEGRADED, version, s.name() + " is " + s.describe());
        };
    }

    SupervisionStatus timer(AddonId id, Optional<String> version, UnitState t, UnitState svc) {
        String next = t.nextElapse().map(n -> "next run at " + TIME.format(n.truncatedTo(ChronoUnit.SECONDS)))
                .orElse("no next run scheduled");
        String last = t.lastTrigger().map(l -> "; last run at " + TIME.format(l.truncatedTo(ChronoUnit.SECONDS)))
                .orElse("");
        if (t.activeState() == ActiveState.FAILED || t.activeState() == ActiveState.INACTIVE) {
            return of(id, SupervisionState.FAILED, version, t.name() + " is not scheduling (" + t.describe() + ")");
        }
        boolean serviceFailed = svc.activeState() == ActiveState.FAILED
                || !svc.result().isEmpty() && !"success".equals(svc.result());
        if (serviceFailed) {
            return of(id, SupervisionState.FAILED, version, "the last run of " + svc.name() + " failed ("
                    + svc.describe() + "); " + next);
        }
        if ("running".equals(t.subState()) || svc.activeState() == ActiveState.ACTIVATING
                || svc.activeState() == ActiveState.ACTIVE && "running".equals(svc.subState())) {
            return of(id, SupervisionState.READY, version, svc.name() + " is running" + last + "; " + next);
        }
        if ("waiting".equals(t.subState()) && t.nextElapse().isPresent()) {
            return of(id, SupervisionState.READY, version, t.name() + " is scheduled, " + next + last);
        }
        return of(id, SupervisionState.DEGRADED, version, t.name() + " is " + t.describe() + ", " + next);
    }

    SupervisionStatus of(AddonId id, SupervisionState state, Optional<String> version, String detail) {
        return SupervisionStatus.of(id, kind, state, version, detail);
    }
}
