#!/bin/bash
# fetch.sh [OUT] -- reproduces the Debian 12 unit corpus of RealUnitsTest (run as root or any user on a
# Debian 12 host with bookworm sources; nothing is installed: apt-get download + dpkg-deb -x into a scratch
# directory). For each package below it copies the *.service and *.timer files the package ships in
# /lib/systemd/system and /usr/lib/systemd/system into OUT/<package>/ (default OUT: this script's
# directory) and writes OUT/SOURCES.md. Skipped and listed in SOURCES.md: template units (foo@.service,
# foo@.timer; Steward installs no instances), symbolic links (aliases, or masks pointing at /dev/null),
# and packages that do not resolve. For the systemd package only its timers and the services they start
# are taken (its other units are the init system itself).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
packages=(
  nginx-common apache2 postgresql-common redis-server prometheus-node-exporter prometheus
  chrony ntpsec openssh-server rsyslog cron logrotate apt man-db e2fsprogs util-linux uuid-runtime dpkg
  haproxy memcached mariadb-server bind9 unbound dnsmasq nfs-kernel-server
  smartmontools fancontrol lm-sensors sysstat anacron certbot fail2ban docker.io containerd
  exim4-base postfix dovecot-core squid mosquitto rabbitmq-server zabbix-agent collectd-core munin-node
  snmpd avahi-daemon cups-daemon unattended-upgrades systemd rsync keepalived lighttpd varnish tor
  irqbalance at samba clamav-freshclam clamav-daemon supervisor
)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/debian-units-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
[ "${SKIP_APT_UPDATE:-}" = 1 ] || apt-get update -q >/dev/null
{
  echo "# Debian 12 unit corpus"
  echo
  echo "Unit files copied verbatim from Debian 12 (bookworm) packages by \`fetch.sh\` on $(date -u +%Y-%m-%d)."
  echo "Only \`*.service\` and \`*.timer\` files from \`/lib/systemd/system\` and \`/usr/lib/systemd/system\`;"
  echo "no binaries. Used by \`RealUnitsTest\`."
  echo
  echo "| package | version | units | skipped |"
  echo "|---|---|---|---|"
} > "$scratch/SOURCES.md"
missing=()
for pkg in "${packages[@]}"; do
  mkdir -p "$scratch/deb/$pkg"
  if ! (cd "$scratch/deb/$pkg" && apt-get download -q "$pkg" >/dev/null 2>&1); then
    missing+=("$pkg"); continue
  fi
  deb=$(ls "$scratch/deb/$pkg"/*.deb)
  version=$(dpkg-deb -f "$deb" Version)
  mkdir -p "$scratch/x/$pkg" && dpkg-deb -x "$deb" "$scratch/x/$pkg"
  taken=(); skipped=(); others=0
  for dir in lib/systemd/system usr/lib/systemd/system; do
    [ -d "$scratch/x/$pkg/$dir" ] || continue
    for f in "$scratch/x/$pkg/$dir"/*.service "$scratch/x/$pkg/$dir"/*.timer; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      name=$(basename "$f")
      if [[ $name == *@.* ]]; then skipped+=("$name (template)"); continue; fi
      if [ -L "$f" ]; then skipped+=("$name (link to $(readlink "$f"))"); continue; fi
      if [ "$pkg" = systemd ] && [[ $name == *.service ]]; then
        grep -qs "^Unit=$name\$" "$scratch/x/$pkg/$dir"/*.timer \
          || [ -e "$scratch/x/$pkg/$dir/${name%.service}.timer" ] \
          || { others=$((others + 1)); continue; }
      fi
      mkdir -p "$out/$pkg"
      cp "$f" "$out/$pkg/$name"; chmod 644 "$out/$pkg/$name"
      taken+=("$name")
    done
  done
  if ((${#taken[@]} == 0)); then
    skipped_text=$( ((${#skipped[@]})) && printf '%s, ' "${skipped[@]}" | sed 's/, $//' || echo "-")
    echo "| $pkg | $version | (none) | $skipped_text |" >> "$scratch/SOURCES.md"; continue
  fi
  ((others == 0)) || skipped+=("$others other services (the init system itself)")
  units_text=$(printf '%s\n' "${taken[@]}" | sort | paste -sd, - | sed 's/,/, /g')
  skipped_text=$( ((${#skipped[@]})) && printf '%s\n' "${skipped[@]}" | sort | paste -sd, - | sed 's/,/, /g' || echo "-")
  echo "| $pkg | $version | $units_text | $skipped_text |" >> "$scratch/SOURCES.md"
done
if ((${#missing[@]})); then
  { echo; echo "Did not resolve in bookworm: ${missing[*]}."; } >> "$scratch/SOURCES.md"
fi
cp "$scratch/SOURCES.md" "$out/SOURCES.md"
echo "$(find "$out" -mindepth 2 -name '*.service' -o -mindepth 2 -name '*.timer' | wc -l) unit files in $out"
