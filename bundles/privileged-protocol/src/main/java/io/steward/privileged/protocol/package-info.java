/**
 * Protocol 1 of the root {@code steward-updater} ({@link io.steward.privileged.protocol.Protocol}): the one
 * definition of the wire format, shared by the agent's client ({@code io.steward.privileged.client}) and the
 * updater. Not exported: embedded privately by the client bundle, a plain jar on the updater's class path.
 */
package io.steward.privileged.protocol;
