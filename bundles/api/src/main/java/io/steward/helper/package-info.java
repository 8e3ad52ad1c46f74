/**
 * On-demand helpers: the programs of {@code ephemeral_helper} add-ons, staged by Steward and run only
 * when something asks (PRODUCT §1). The {@code io.steward.supervision.ephemeral.helper} bundle
 * registers one {@link io.steward.helper.AddonHelper} service per assigned helper, with the service
 * property {@link io.steward.helper.AddonHelper#ADDON_ID}; consumers (an appliance's components, the
 * {@code steward:invoke} shell command) look it up by that property and call
 * {@link io.steward.helper.AddonHelper#run}. The service is there while the helper is assigned and its
 * kind bundle is active, and goes away with either.
 */
@Export
@Version("1.1.0")
package io.steward.helper;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
