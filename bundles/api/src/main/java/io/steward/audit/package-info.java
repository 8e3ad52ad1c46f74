/** The audit log for bundles other than {@code core}: {@link io.steward.audit.AuditSink}. */
@Export
@Version("1.0.0")
package io.steward.audit;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
