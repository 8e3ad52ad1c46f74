/**
 * What guards the agent's {@code deploy/} folder of kind bundles: {@link io.steward.deploy.DeployFolder}
 * (provided by {@code io.steward.deploy}, read by the shell's {@code status} and {@code kinds}).
 */
@Export
@Version("1.0.0")
package io.steward.deploy;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
