/**
 * The {@code systemd_service} kind. The artifact ships exactly one {@code .service} (the primary) and may ship
 * more units, all named {@code steward-<id>[-<suffix>].service|timer}; they are copied into the unit
 * directory with {@code @ADDON_HOME@}, {@code @ADDON_STATE@} and {@code @ADDON_CONFIG@} substituted, and the
 * primary is enabled, started and supervised by its {@code ActiveState}/{@code SubState}/{@code Result}.
 * Assignment fields used: version, artifact, config, resources (a drop-in). {@code adopt} re-attaches to the
 * units in {@code <data>/state/systemd/<id>.json} without restarting them.
 */
package io.steward.supervision.systemd.service.internal;
