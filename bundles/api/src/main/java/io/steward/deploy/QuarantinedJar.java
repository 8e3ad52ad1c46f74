package io.steward.deploy;

import java.time.Instant;
import java.util.Objects;

/**
 * A jar of {@code deploy/} that was not installed.
 *
 * @param jar     its file name in {@code deploy/}
 * @param movedTo where it is now, relative to {@code deploy/} ({@code .quarantine/<jar>.<UTC time>})
 * @param reason  why, one clause
 * @param at      when

 */
public record QuarantinedJar(String jar, String movedTo, String reason, Instant at) {
    public QuarantinedJar {
        Objects.requireNonNull(jar, "jar");
        Objects.requireNonNull(movedTo, "movedTo");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(at, "at");
    }
}
