/**
 * In-process {@link io.steward.privileged.PrivilegedOperations} for an agent whose effective uid is 0.
 * {@link io.steward.privileged.local.internal.LocalPrivilegedRegistrar} registers the service only then;
 * a non-root agent gets none from this bundle (the updater's client provides it there). The operations
 * themselves are {@code bundles/privileged-capabilities}, embedded privately.
 */
package io.steward.privileged.local.internal;
