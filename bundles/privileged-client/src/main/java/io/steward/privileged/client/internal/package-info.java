/**
 * The client of the root-owned {@code steward-updater} (PRODUCT §7.7): for a non-root agent,
 * {@link io.steward.privileged.client.internal.UpdaterClientRegistrar} registers
 * {@link io.steward.privileged.client.internal.UpdaterClient} as {@code PrivilegedOperations} and
 * {@code UnitInstaller}; every call is one request of {@link io.steward.privileged.protocol.Protocol}
 * over the updater's unix socket. A root agent gets neither from this bundle (the in-process providers of
 * {@code io.steward.privileged.local} and {@code io.steward.systemd.dbus} serve it). Nothing here is exported;
 * the wire format is {@code bundles/privileged-protocol}, embedded privately. {@code UpdaterClient} is public for
 * the updater's tests and the benchmark, which use this jar on a plain class path.
 */
package io.steward.privileged.client.internal;
