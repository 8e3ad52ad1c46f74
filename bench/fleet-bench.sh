#!/usr/bin/env bash
# Fleet benchmark: simulated agents against a real nats-server on loopback (started and stopped here),
# beside the baseline a user scripts today (the document copied into a file per host, each host polling
# its file every second), in the same run. Prints a markdown table.
# Each simulated agent is the agent's own receiving path (AssignmentWatch: watch, re-watch from the last
# revision after a reconnect; SignedDocumentGate: signature, host, serial, document, atomic cache in
# /dev/shm) and acks by writing its status; latency is per host, from its put to its status with the new serial.
# Usage: bench/fleet-bench.sh [SIZES] [CONNECTIONS]   (default 1000,10000 and 1000; build first: mvn -B -q install -DskipTests)
# Needs nats-server (apt-get install nats-server).
set -euo pipefail
cd "$(dirname "$0")/.."
V=0.1.0-SNAPSHOT
BENCH_JAR=bench/target/io.steward.bench-$V.jar
RUNTIME=distribution/target/steward/bundle
FELIX=distribution/target/steward/bin/felix.jar
for f in "$BENCH_JAR" "$FELIX"; do
  [ -f "$f" ] || { echo "missing $f; build first: mvn -B -q install -DskipTests" >&2; exit 2; }
done
command -v nats-server >/dev/null || { echo "missing nats-server (apt-get install nats-server)" >&2; exit 2; }
echo "## fleet over NATS JetStream ($(nats-server --version), $(nproc) cores)"
echo
# the bundles are plain jars on a class path here (jnats inside io.steward.lib.jnats); 10,000 watches
# need 10,000 dispatcher threads (jnats gives every watch its own), hence the small stacks
java -Xss256k -XX:+UseSerialGC -Dorg.ops4j.pax.logging.DefaultServiceLog.level=ERROR \
  -cp "$BENCH_JAR:$RUNTIME/*:$FELIX" io.steward.bench.FleetBench "${1:-1000,10000}" "${2:-1000}"
