/** Component property types for supervision services. */
@Export
@Version("1.1.0")
package io.steward.supervision.annotations;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
