#!/usr/bin/env bash
# Updater socket-hop benchmark: cheap operations through the client and the updater's unix socket beside the
# same operations answered in-process by the same updater code, one run; prints a markdown table (p50/p99).
# Usage (root): bench/updater-bench.sh [calls]   (build first: mvn -B -q install -DskipTests)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
V=0.1.0-SNAPSHOT
LIB=updater/target/io.steward.updater-$V-lib
JAR=bench/target/io.steward.bench-$V.jar
# the agent's side: the client bundle, a plain jar here (the updater's class path holds only the server)
CLIENT=bundles/privileged-client/target/io.steward.privileged.client-$V.jar
[ -d "$LIB" ] && [ -f "$JAR" ] && [ -f "$CLIENT" ] || { echo "missing $LIB, $JAR or $CLIENT; build first: mvn -B -q install -DskipTests" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root: the updater requires root-owned directories" >&2; exit 2; }
WORK=$(mktemp -d /tmp/updbench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
java -XX:+UseSerialGC -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$JAR:$CLIENT:$LIB/*" io.steward.bench.UpdaterBench \
  "$WORK" "$N" 2>"$WORK/bench.log" || { cat "$WORK/bench.log" >&2; exit 1; }
