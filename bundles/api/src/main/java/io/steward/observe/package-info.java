/**
 * Observation of the agent's work: {@link io.steward.observe.StewardObserver}, a whiteboard service that core,
 * delivery, the sidecar kind and the updater client call (metrics, health). Nothing here changes what Steward does.
 */
@Export
@Version("1.0.0")
package io.steward.observe;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
