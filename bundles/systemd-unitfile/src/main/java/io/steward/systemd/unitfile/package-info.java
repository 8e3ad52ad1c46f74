/**
 * What Steward lets systemd load: a strict unit-file parser ({@link io.steward.systemd.unitfile.UnitFile}) that
 * refuses every byte and construct systemd might read differently, its canonical re-serialisation (what is
 * installed, never the shipped bytes), and the unit policy ({@link io.steward.systemd.unitfile.UnitPolicy}):
 * names, allowlisted directives, dependencies, install targets, root-owned paths and environment, applied to
 * the parsed text and again to what systemd loaded ({@link io.steward.systemd.unitfile.LoadedUnitCheck}).
 * Not exported: embedded privately by {@code io.steward.systemd.dbus}, the systemd kinds and the updater.
 */
package io.steward.systemd.unitfile;
