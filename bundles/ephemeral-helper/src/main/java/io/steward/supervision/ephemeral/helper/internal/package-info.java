/**
 * The {@code ephemeral_helper} kind: a helper program is staged and registered as an
 * {@link io.steward.helper.AddonHelper} service, and runs only when a consumer calls it.
 * <p>
 * Assignment fields used: {@code delivery} ({@code pushed_artifact}: staged through the
 * {@code ArtifactStager} and run as {@code current/<binary>}; {@code os_package}: {@code binary} is the
 * absolute path of the installed program; {@code compiled_in} is refused), {@code binary} (else the
 * manifest's), {@code args} (put before a request's), {@code env}, {@code capabilities} (granted
 * through {@code PrivilegedOperations}, pushed artifacts only), {@code version}.
 * <p>
 * Nothing runs between calls, so {@code adopt} re-attaches to the staged {@code current} only: it
 * registers the service again (staging anew when {@code current} is not the installed version).
 */
package io.steward.supervision.ephemeral.helper.internal;
