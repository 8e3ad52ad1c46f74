/**
 * What makes an artifact trusted, shared by the stager of {@code io.steward.delivery} and the root updater: the
 * signature policy, the archive reader and its limits, {@code addon.json} ({@code Manifests}), and
 * {@link io.steward.delivery.artifacts.ArtifactVerifier}, which re-verifies an artifact the agent kept. Every
 * failure is a {@code SupervisionException} of {@code Failures}. Not exported: embedded privately by
 * {@code io.steward.delivery}, a plain jar on the updater's class path.
 */
package io.steward.delivery.artifacts;
