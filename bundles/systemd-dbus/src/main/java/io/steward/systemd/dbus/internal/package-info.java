/**
 * systemd over D-Bus as services: {@code SystemdDbusManager} (the {@code SystemdManager} service, the D-Bus code
 * of bundles/systemd-bus) and {@code LocalUnitInstaller} (the in-process {@code UnitInstaller} for a root agent,
 * the installer of bundles/systemd-install). Both libraries and the unit policy are embedded privately; nothing
 * here is exported.
 */
package io.steward.systemd.dbus.internal;
