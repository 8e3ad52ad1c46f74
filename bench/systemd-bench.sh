#!/usr/bin/env bash
# systemd benchmark: install + start N systemd_service add-ons, then a no-op reconcile, Steward's D-Bus
# path beside upstream's systemctl way, in one run against a private systemd (tools/systemd-sandbox.sh).
# Usage (root): bench/systemd-bench.sh [count] [confirm-millis] [simple|notify] [parallelism]
#   (build first: mvn -B -q install -DskipTests); parallelism: core's, 32 by default
#   simple: Type=simple units, which Steward watches for confirm-millis after the start job;
#   notify: Type=notify units (READY=1 proves the start, no window), both ways.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}
CONFIRM=${2:-300}
TYPE=${3:-simple}
PARALLELISM=${4:-32}
V=0.1.0-SNAPSHOT
M2=${M2_REPO:-$HOME/.m2/repository}
CP=bench/target/io.steward.bench-$V.jar
for j in bundles/api/target/io.steward.api-$V.jar bundles/systemd-dbus/target/io.steward.systemd.dbus-$V.jar \
         bundles/systemd-units/target/io.steward.systemd.units-$V.jar \
         bundles/lib-dbus-java/target/io.steward.lib.dbus-java-$V.jar \
         "$M2/com/google/code/gson/gson/2.15.0/gson-2.15.0.jar" "$M2/org/slf4j/slf4j-api/2.0.17/slf4j-api-2.0.17.jar" \
         "$M2/org/osgi/osgi.core/8.0.0/osgi.core-8.0.0.jar"; do
  [ -f "$j" ] || { echo "missing $j; build first: mvn -B -q install -DskipTests" >&2; exit 2; }
  CP=$CP:$j
done
SCRATCH=$(mktemp -d /tmp/sdsb-XXXXXX); export SCRATCH UNIT_DIR=$SCRATCH/units
trap 'tools/systemd-sandbox.sh stop >/dev/null || true; rm -rf "$SCRATCH"' EXIT
tools/systemd-sandbox.sh start >/dev/null
eval "$(tools/systemd-sandbox.sh env | sed 's/^/export /')"
java -cp "$CP" io.steward.bench.SystemdBench "$DBUS_SYSTEM_BUS_ADDRESS" "$STEWARD_TEST_SYSTEMD_PID" "$UNIT_DIR" \
  "$SCRATCH/work" "$N" "$CONFIRM" "$TYPE" "$PARALLELISM" 2>"$SCRATCH/bench.log" || { cat "$SCRATCH/bench.log" >&2; exit 1; }
