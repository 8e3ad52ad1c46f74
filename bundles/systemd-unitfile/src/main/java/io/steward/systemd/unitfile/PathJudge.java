package io.steward.systemd.unitfile;

import java.util.Optional;

/** Decides whether root may execute, load, read or search a path: empty when it may, else the reason. */
@FunctionalInterface
public interface PathJudge {
    Optional<String> whyNot(String absolutePath);
}
