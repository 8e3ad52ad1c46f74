#!/bin/bash
# systemd-sandbox.sh start|stop|env|status -- a private systemd (PID 1 of new pid/mount/uts/ipc/cgroup
# namespaces) on the host's filesystem, shielded so it cannot change the host. Root, no stdin needed.
# Used by the systemd tests, the systemd benchmark and .ci/run.
#   SCRATCH  (required) a short absolute dir (unix socket paths must stay < 108 bytes), e.g. /tmp/sdsb-XXXX.
#            Inside the sandbox /tmp is private; SCRATCH is bind-mounted to the same path, so unit files,
#            add-on trees and data dirs the tests use must live under SCRATCH (or outside /tmp).
#   UNIT_DIR (optional) a host dir bind-mounted as the sandbox's /etc/systemd/system, so unit files
#            that a program on the host writes there are what the sandboxed systemd loads.
#            Without it, /etc/systemd/system inside is an empty private tmpfs.
#   PRIVATE_ROOT=1 (optional) a throwaway root for installing packages (DebianPackageIT): /etc, /usr and /var
#            inside are overlays whose lower layers are the host's and whose changes land in
#            $SCRATCH/root/{etc,usr,var}.upper, and the rest of / is read-only, so dpkg -i, adduser and
#            maintainer scripts run through 'nsenter -t <systemd pid> -m -p' change nothing of the host
#            (not with UNIT_DIR). A container host's /usr/sbin/policy-rc.d (exit 101: "start no service")
#            is hidden in the overlay, as on a booted system.
# After start: system bus at unix:path=$SCRATCH/dbus/system_bus_socket ; systemctl via nsenter (see env).
set -euo pipefail
SCRATCH=${SCRATCH:?set SCRATCH}
case "$SCRATCH" in /*) ;; *) echo "SCRATCH must be absolute" >&2; exit 2 ;; esac
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then CGROOT=/sys/fs/cgroup      # pure cgroup v2 host
elif [ -d /sys/fs/cgroup/unified ]; then CGROOT=/sys/fs/cgroup/unified        # hybrid host
else echo "no cgroup2 hierarchy" >&2; exit 1; fi
CG=$CGROOT/sd-sandbox-$$
ADDRESS="unix:path=$SCRATCH/dbus/system_bus_socket"

inner() {   # runs as PID 1 inside the namespaces, then execs systemd
  mount --make-rprivate /
  if [ -n "${PRIVATE_ROOT:-}" ]; then private_root; fi
  mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
  mkdir -p /run/.scratch && mount --bind "$SCRATCH" /run/.scratch
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp          # tmpfiles.d 'D /tmp' would wipe the host /tmp
  case "$SCRATCH" in /tmp/*) mkdir -p "$SCRATCH" && mount --bind /run/.scratch "$SCRATCH";; esac
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
  if [ -n "${UNIT_DIR:-}" ] && [ -z "${PRIVATE_ROOT:-}" ]; then mount --bind "$UNIT_DIR" /etc/systemd/system   # host-visible unit dir
  else mount -t tmpfs -o mode=755 tmpfs /etc/systemd/system; fi  # empty + writable
  mkdir -p /run/dbus && mount --bind "$SCRATCH/dbus" /run/dbus  # system bus socket visible to the host
  mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
  umount -R -l /sys/fs/cgroup
  mount -o remount,bind,ro /sys
  mount -t cgroup2 cgroup2 /sys/fs/cgroup                      # rooted at our delegated sub-cgroup
  mkdir -p /run/systemd/system
  printf '[Unit]\nDescription=sandbox boot target\nWants=dbus.socket\n' > /run/systemd/system/sandbox.target
  for u in systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.timer \
    systemd-sysctl.service systemd-sysusers.service systemd-firstboot.service systemd-modules-load.service \
    systemd-binfmt.service proc-sys-fs-binfmt_misc.automount systemd-random-seed.service \
    systemd-machine-id-commit.service systemd-repart.service systemd-pcrphase.service \
    systemd-pcrphase-sysinit.service systemd-timesyncd.service systemd-pstore.service systemd-udevd.service \
    systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service \
    kmod-static-nodes.service sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
    sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount systemd-remount-fs.service \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer man-db.timer \
    systemd-update-utmp.service systemd-journal-flush.service getty.target console-getty.service \
    systemd-logind.service postgresql.service; do ln -sf /dev/null /run/systemd/system/$u; done
  exec /lib/systemd/systemd --system --unit=sandbox.target --show-status=false
}

private_root() {   # in the namespaces, before anything else is mounted (see PRIVATE_ROOT)
  mount --bind "$SCRATCH" "$SCRATCH"                        # stays writable when / becomes read-only
  for d in etc usr var; do
    mkdir -p "$SCRATCH/root/$d.upper" "$SCRATCH/root/$d.work"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$SCRATCH/root/$d.upper,workdir=$SCRATCH/root/$d.work" "/$d"
    [ "$(findmnt -n -o FSTYPE --mountpoint "/$d")" = overlay ] || { echo "/$d is not an overlay" >&2; exit 1; }
  done
  mount -o remount,bind,ro /
  rm -f /usr/sbin/policy-rc.d                               # in the /usr overlay (checked above)
}

running() {
  [ "$(busctl --address="$ADDRESS" get-property org.freedesktop.systemd1 /org/freedesktop/systemd1 \
       org.freedesktop.systemd1.Manager SystemState 2>/dev/null)" = 's "running"' ]
}

case "${1:-}" in
  __inner) inner ;;
  start)
    if [ -f "$SCRATCH/systemd.pid" ] && kill -0 "$(cat "$SCRATCH/systemd.pid")" 2>/dev/null && running; then
      echo "running: $ADDRESS"; exit 0
    fi
    mkdir -p "$SCRATCH/dbus" "$CG"; if [ -n "${UNIT_DIR:-}" ]; then mkdir -p "$UNIT_DIR"; fi
    rm -f "$SCRATCH/dbus/system_bus_socket"
    ( echo $BASHPID > "$CG/cgroup.procs"
      exec unshare --fork --pid --mount --uts --ipc --cgroup --mount-proc --propagation private \
        env -i container=sd-sandbox SCRATCH="$SCRATCH" UNIT_DIR="${UNIT_DIR:-}" PRIVATE_ROOT="${PRIVATE_ROOT:-}" PATH=/usr/sbin:/usr/bin:/sbin:/bin bash "$0" __inner
    ) < /dev/null > "$SCRATCH/systemd.log" 2>&1 &
    UPID=$!; echo "$UPID" > "$SCRATCH/unshare.pid"; echo "$CG" > "$SCRATCH/cgroup.path"
    SD=
    for _ in $(seq 100); do SD=$(pgrep -P "$UPID" || true); [ -n "$SD" ] && break; sleep 0.05; done
    [ -n "$SD" ] || { echo "the sandbox did not start; see $SCRATCH/systemd.log" >&2; exit 1; }
    echo "$SD" > "$SCRATCH/systemd.pid"
    for _ in $(seq 300); do running && { echo "running: $ADDRESS"; exit 0; }; sleep 0.05; done
    echo "systemd did not reach 'running'; see $SCRATCH/systemd.log" >&2; exit 1 ;;
  stop)
    [ -f "$SCRATCH/unshare.pid" ] || exit 0
    SD=$(cat "$SCRATCH/systemd.pid" 2>/dev/null || true); UPID=$(cat "$SCRATCH/unshare.pid"); CG=$(cat "$SCRATCH/cgroup.path")
    [ -n "$SD" ] && { kill -s SIGRTMIN+4 "$SD" 2>/dev/null || true; }   # poweroff; in a 'container' systemd exits
    for _ in $(seq 100); do kill -0 "$UPID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$UPID" 2>/dev/null; then [ -n "$SD" ] && kill -9 "$SD" 2>/dev/null || true; sleep 0.5; fi
    [ -d "$CG" ] && find "$CG" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    rm -f "$SCRATCH/unshare.pid" "$SCRATCH/systemd.pid" "$SCRATCH/cgroup.path" ;;
  status)
    running && echo "running: $ADDRESS" || { echo "not running"; exit 1; } ;;
  env)  # lines KEY=VALUE for callers (the tests read the same names from the environment)
    echo "DBUS_SYSTEM_BUS_ADDRESS=$ADDRESS"
    echo "STEWARD_TEST_SYSTEMD_SCRATCH=$SCRATCH"
    echo "STEWARD_TEST_SYSTEMD_UNIT_DIR=${UNIT_DIR:-}"
    echo "STEWARD_TEST_SYSTEMD_PID=$(cat "$SCRATCH/systemd.pid")" ;;
  *) echo "usage: SCRATCH=DIR [UNIT_DIR=DIR] $0 start|stop|status|env" >&2; exit 2 ;;
esac
