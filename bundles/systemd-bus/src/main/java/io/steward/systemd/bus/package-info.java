/**
 * {@link io.steward.systemd.SystemdManager} over D-Bus ({@link io.steward.systemd.bus.DbusSystemdManager}; every
 * dbus-java type stays in {@code Bus}). Not exported: embedded privately by {@code io.steward.systemd.dbus},
 * whose DS component configures it, and a plain jar on the root updater's class path.
 */
package io.steward.systemd.bus;
