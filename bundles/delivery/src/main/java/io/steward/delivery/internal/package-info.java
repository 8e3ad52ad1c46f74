/**
 * Signed artifact delivery (PRODUCT §3, §4): {@link io.steward.delivery.internal.DeliveryStager} provides
 * {@link io.steward.delivery.ArtifactStager} (the staging itself is {@code io.steward.delivery.staging.Stager},
 * embedded from {@code bundles/delivery-artifacts}); {@link io.steward.delivery.internal.DeliveryCommands} runs the
 * one-shot {@code keygen}, {@code pack} and {@code verify} commands ({@code KeygenCommand}, {@code PackCommand},
 * {@code VerifyCommand}, their arguments parsed by {@code CommandArgs} with picocli, embedded). Nothing here is
 * exported.
 * <p>
 * When the agent is not root ({@code keep_artifacts=auto}), the stager keeps the verified artifact bytes at the
 * fixed path {@code <data>/addons/<id>/artifacts/<sha256>.tar.gz}, where the root updater re-reads and
 * re-verifies them with {@link io.steward.delivery.artifacts.ArtifactVerifier}. What makes an artifact trusted (trust
 * store, signature policy, archive reader, {@code addon.json}) is {@code bundles/delivery-artifacts}, embedded.
 * <p>
 * Every failure is a {@code SupervisionException} whose message reads {@code add-on <id>: <step>: <cause>},
 * with an explicit disposition (upstream gap 22):
 * <ul>
 * <li><b>permanent</b> — digest mismatch; a signature that is empty (unless allowed for the add-on),
 * malformed, of the wrong length, names an unknown or removed key, or matches no trusted key; an empty
 * trust store; an unsafe or corrupt archive (rules of PRODUCT §3, limits, gzip bomb, truncation, trailing
 * data through the digest); a missing or invalid {@code addon.json}, or one that disagrees with the
 * assignment; a missing binary, unit or config file; HTTP 4xx and 3xx; a {@code file:} URL that is
 * missing, a directory, a FIFO or a device; an unsupported URL scheme; an artifact above the size cap;
 * a rollback whose target directory vanished (retrying cannot bring it back).</li>
 * <li><b>transient</b> — I/O errors while reading a file or downloading; HTTP 5xx; connect, response and
 * idle timeouts; TLS and connection errors; a full or read-only disk while extracting, moving or
 * swapping {@code current}; a kept artifact copy that cannot be written; interruption; a version directory
 * removed between stage and activate.</li>
 * </ul>
 * Precondition violations (a delivery other than {@code pushed_artifact}, a foreign version directory,
 * commit after rollback) are {@code IllegalArgumentException} / {@code IllegalStateException}.
 */
package io.steward.delivery.internal;

import io.steward.delivery.artifacts.ArtifactVerifier;
