/**
 * Code shared by the systemd kinds. Not a bundle of its own at run time: each kind bundle embeds a private
 * copy of this package ({@code -conditionalpackage}), so nothing is exported and each kind can be updated
 * on its own. {@code adopt} re-attaches to the units named in the durable record
 * ({@code <data>/state/systemd/<id>.json}) without touching them.
 */
package io.steward.systemd.units;
