/**
 * Ed25519 keys and the trust store ({@code <trust>/<key id>.pem}), shared by every bundle that checks a
 * signature against the agent's trust store: the artifact stager of this bundle and the signed
 * assignment sources ({@code io.steward.source.signed}). JDK types only.
 */
@Export
@Version("1.0.0")
package io.steward.delivery.trust;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
