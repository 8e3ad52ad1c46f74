/**
 * systemd over D-Bus: {@code SystemdDbusManager} (the {@code SystemdManager} service; every dbus-java type
 * stays in {@code Bus}) and {@code LocalUnitInstaller} (the in-process {@code UnitInstaller} for a root
 * agent). Nothing here is exported.
 */
package io.steward.systemd.dbus.internal;
