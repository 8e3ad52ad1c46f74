/**
 * The {@code systemd_timer} kind. The artifact ships exactly one {@code .timer} (the primary) and the service
 * it starts ({@code Unit=}, default the timer's basename); the timer is enabled, started and judged by its
 * schedule (waiting with a next elapse) and by its service's last result, so a failed run makes the add-on
 * {@code failed} even while the timer waits. Resources go to the service's drop-in. {@code adopt}
 * re-attaches to the units in {@code <data>/state/systemd/<id>.json} without restarting them.
 */
package io.steward.supervision.systemd.timer.internal;
