/**
 * The {@code config_toggle} kind. Parameters used: {@code capabilities}, {@code version},
 * {@code config}. {@code adopt} re-registers the capability service of an add-on installed
 * before the bundle was updated or restarted; there is no workload to find.
 */
package io.steward.supervision.config.toggle.internal;
