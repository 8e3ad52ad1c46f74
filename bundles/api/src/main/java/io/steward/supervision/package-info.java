/**
 * Supervision model: add-on assignments, observed status, plans and reports, and the read-side
 * {@link io.steward.supervision.SupervisionService} that {@code core} provides. Kind bundles
 * implement the SPI in the {@code spi} subpackage.
 */
@Export
@Version("1.2.0")
package io.steward.supervision;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
