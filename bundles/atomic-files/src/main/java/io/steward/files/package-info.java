/**
 * Replacing a file atomically: {@link io.steward.files.AtomicFiles} writes a temporary sibling and renames it over
 * the target, so a reader sees the old bytes or the new ones, never a torn file.
 * Not exported: embedded privately by each bundle that writes state files and by the root updater.
 */
package io.steward.files;
