/**
 * The {@code sidecar} kind: an add-on's program run as a supervised child process.
 * <p>
 * Assignment fields used: {@code version}, {@code delivery} ({@code pushed_artifact}, staged through
 * {@code ArtifactStager}; or {@code os_package} with an absolute {@code binary}), {@code binary},
 * {@code args}, {@code env}, {@code config} (deep-merged over the artifact's default config file into
 * {@code <data>/addons/<id>/config.json}), {@code capabilities} (granted through
 * {@code PrivilegedOperations}) and {@code resources} (cgroup v2, best effort). Manifest parameters:
 * {@code notify}, {@code start_timeout_seconds}, {@code stop_grace_seconds}, {@code watchdog_seconds},
 * {@code reload_signal}, {@code permanent_exit_codes}.
 * <p>
 * The process gets {@code STEWARD_ADDON_ID}, {@code STEWARD_ADDON_VERSION}, {@code STEWARD_ADDON_CONFIG},
 * {@code STEWARD_ADDON_STATE}, {@code NOTIFY_SOCKET} (and {@code WATCHDOG_USEC}) on top of the
 * assignment's {@code env} and a fixed {@code PATH}; its working directory is
 * {@code <data>/addons/<id>/state}; its output is appended to {@code <data>/addons/<id>/log/}.
 * <p>
 * What {@code adopt} re-attaches to: the process recorded in {@code <data>/state/sidecar/<id>.json} when
 * the boot id matches and a live, non-zombie process has the recorded pid and start time; it keeps that
 * process (same pid), binds the notify socket again at the address the process already knows, and
 * supervises it from then on. A recorded process that is gone is started again; a recorded rejection of
 * the same assignment stays rejected.
 */
package io.steward.supervision.sidecar.internal;
