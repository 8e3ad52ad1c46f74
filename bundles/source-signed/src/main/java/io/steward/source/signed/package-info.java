/**
 * Signed remote assignment documents: {@link io.steward.source.signed.SignedAssignment} is the value a
 * remote source carries ({@code steward-assignment-v1}: the document's text, the host it is for, a serial
 * and an Ed25519 signature over {@code steward-assignment-v1\n<host>\n<serial>\n<sha256 of the
 * document>\n}); {@link io.steward.source.signed.SignedDocumentGate} decides whether a value may take
 * effect on this host (trusted key, this host, a newer serial, a valid document) and keeps the last
 * valid one cached for offline boots.
 */
@Export
@Version("1.1.0")
package io.steward.source.signed;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
