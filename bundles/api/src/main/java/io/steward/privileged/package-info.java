/**
 * Host changes the non-root agent may not make itself (PRODUCT §7.7): file capabilities now, unit
 * files later. Provided in-process when the agent runs as root, and by the root-owned updater's
 * client otherwise; the validation is the same code in both.
 */
@Export
@Version("2.0.0")
package io.steward.privileged;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
