/**
 * Artifact delivery: the contract between the supervision kinds that run code and the bundle that
 * fetches, verifies, stages and activates their signed artifacts (PRODUCT §3, §4). Provided by
 * {@code io.steward.delivery}; consumed by the kind bundles.
 */
@Export
@Version("1.0.0")
package io.steward.delivery;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
