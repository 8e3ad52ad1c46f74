#!/usr/bin/env bash
# Sidecar kind benchmark: assignment change → ready (p50/p95 over 20 runs) and the agent's CPU and RSS
# while it supervises 50 idle sidecars, in a real Felix. Prints a markdown table.
# Usage: bench/sidecar-bench.sh      (build first: mvn -B -q install -DskipTests)
# Needs /usr/bin/systemd-notify (Debian package systemd): the bench add-ons report READY=1 with it.
set -euo pipefail
cd "$(dirname "$0")/.."
V=0.1.0-SNAPSHOT
RUNTIME=distribution/target/steward/bundle
BENCH_JAR=bench/target/io.steward.bench-$V.jar
FELIX=distribution/target/steward/bin/felix.jar
STEWARD=(bundles/api/target/io.steward.api-$V.jar
         bundles/core/target/io.steward.core-$V.jar
         bundles/lib-junixsocket/target/io.steward.lib.junixsocket-$V.jar
         bundles/sidecar/target/io.steward.supervision.sidecar-$V.jar)
for f in "$BENCH_JAR" "$FELIX" "${STEWARD[@]}"; do
  [ -f "$f" ] || { echo "missing $f; build first: mvn -B -q install -DskipTests" >&2; exit 2; }
done
[ -d "$RUNTIME" ] || { echo "missing $RUNTIME; build the distribution first" >&2; exit 2; }
[ -x /usr/bin/systemd-notify ] || { echo "missing /usr/bin/systemd-notify (apt-get install systemd)" >&2; exit 2; }
echo "## sidecar kind (real Felix; fake stager over prepared directories; $(nproc) cores)"
echo
# the third-party runtime bundles come from the distribution, Steward's from the reactor (the kind under test)
java -XX:+UseSerialGC -Dorg.ops4j.pax.logging.DefaultServiceLog.level=ERROR \
  -cp "$BENCH_JAR:$FELIX" io.steward.bench.SidecarBench "$RUNTIME" "${STEWARD[@]}"
