/**
 * Service-provider interfaces: {@link io.steward.supervision.spi.SupervisionDispatcher}, which each
 * supervision kind bundle implements, and {@link io.steward.supervision.spi.AssignmentSource}, which
 * each source of desired state implements, and {@link io.steward.supervision.spi.StatusSink}, which each
 * transport of the agent's status implements, and {@link io.steward.supervision.spi.ResultSink}, which each
 * transport of add-ons' spooled results implements. {@code core} consumes all four on the whiteboard.
 */
@Export
@Version("1.3.0")
package io.steward.supervision.spi;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
