/**
 * The DS side of the client of the root-owned {@code steward-updater} (PRODUCT §7.7): for a non-root agent,
 * {@link io.steward.privileged.client.internal.UpdaterClientRegistrar} registers
 * {@link io.steward.privileged.client.UpdaterClient} as {@code PrivilegedOperations} and
 * {@code UnitInstaller}. A root agent gets neither from this bundle (the in-process providers of
 * {@code io.steward.privileged.local} and {@code io.steward.systemd.dbus} serve it). Nothing here is exported.
 */
package io.steward.privileged.client.internal;
