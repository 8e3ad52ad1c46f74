/**
 * File capabilities for an add-on's program: which ones a grant may carry and how it is bound to the signed
 * manifest ({@link io.steward.privileged.capabilities.CapabilityGrant}), and the grant itself with
 * {@code /usr/sbin/setcap} ({@link io.steward.privileged.capabilities.LocalPrivilegedOperations}). Not exported:
 * embedded privately by {@code io.steward.privileged.local} (a root agent), a plain jar on the root updater's
 * class path.
 */
package io.steward.privileged.capabilities;
