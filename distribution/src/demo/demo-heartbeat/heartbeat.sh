#!/bin/sh
# Demo sidecar of the Steward distribution: prints a line every few seconds. It reports readiness
# over sd_notify when systemd-notify is installed (Steward counts it ready after a grace period
# otherwise) and re-reads its config on SIGHUP, which Steward sends when only the config changes.
read_config() {
  interval=$(sed -n 's/.*"interval_seconds": *\([0-9][0-9]*\).*/\1/p' "$STEWARD_ADDON_CONFIG" 2>/dev/null)
  message=$(sed -n 's/.*"message": *"\([^"]*\)".*/\1/p' "$STEWARD_ADDON_CONFIG" 2>/dev/null)
  : "${interval:=5}" "${message:=heartbeat}"
}
read_config
trap 'read_config; echo "config reloaded: every ${interval}s"' HUP
if command -v systemd-notify >/dev/null 2>&1; then
  systemd-notify --ready --status="beating every ${interval}s" || true
fi
while :; do
  echo "$message from $STEWARD_ADDON_ID at $(date -u +%H:%M:%S)"
  sleep "$interval" &
  wait $!
done
