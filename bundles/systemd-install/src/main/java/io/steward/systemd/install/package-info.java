/**
 * Unit installation as root ({@link io.steward.systemd.install.SystemdUnitInstaller}): the checked unit files,
 * their {@code .wants}/{@code .requires} links ({@code UnitLinks}), the root-owned copy of an add-on's tree
 * ({@code PrivilegedTree}) and who installed which unit ({@code UnitOwners}). Not exported: embedded privately by
 * {@code io.steward.systemd.dbus} (a root agent) and a plain jar on the root updater's class path.
 */
package io.steward.systemd.install;
