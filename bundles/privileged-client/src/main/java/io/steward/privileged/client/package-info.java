/**
 * The client of the root-owned {@code steward-updater} (PRODUCT §7.7): every call of
 * {@link io.steward.privileged.client.UpdaterClient} is one request of
 * {@link io.steward.privileged.protocol.Protocol} over the updater's unix socket. Not exported: in OSGi only
 * this bundle's registrar ({@code .internal}) uses it; the wire format is {@code bundles/privileged-protocol},
 * embedded privately. It is a package of its own, not {@code .internal}, because the updater's tests and the
 * benchmark use this jar as a library on a plain class path.
 */
package io.steward.privileged.client;
