/**
 * systemd, typed: the {@link io.steward.systemd.SystemdManager} service that {@code io.steward.systemd.dbus}
 * provides over D-Bus, the unit state it reports, and its failure type. JDK and own types only, so the
 * D-Bus library behind it can change without touching this contract. Reads need no privilege;
 * the kinds make host changes through {@link io.steward.privileged.UnitInstaller}, whose
 * implementation is the only caller of the mutating methods here.
 */
@Export
@Version("2.1.0")
package io.steward.systemd;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
