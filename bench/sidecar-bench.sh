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

# ---- metrics cost (issue 16 §2) ----------------------------------------------------------------------
# The same measures in two more JVMs of this run: without io.steward.metrics ("off"), then with it serving
# 127.0.0.1:$METRICS_PORT/metrics (the framework property falls back to the system property) and scraped
# every 5 s by curl meanwhile (Prometheus's usual 15-60 s is lighter). Skip with METRICS_COST=0.
if [[ ${METRICS_COST:-1} == 1 ]]; then
  METRICS=(bundles/lib-prometheus/target/io.steward.lib.prometheus-$V.jar bundles/metrics/target/io.steward.metrics-$V.jar)
  for f in "${METRICS[@]}"; do [ -f "$f" ] || { echo "missing $f" >&2; exit 2; }; done
  METRICS_PORT=${METRICS_PORT:-19464}
  out_off=$(mktemp) out_on=$(mktemp) scrapes=$(mktemp)
  java -XX:+UseSerialGC -Dorg.ops4j.pax.logging.DefaultServiceLog.level=ERROR \
    -cp "$BENCH_JAR:$FELIX" io.steward.bench.SidecarBench "$RUNTIME" "${STEWARD[@]}" > "$out_off"
  ( while sleep 5; do curl -s -o /dev/null -w '%{http_code} %{size_download}\n' \
      "http://127.0.0.1:$METRICS_PORT/metrics" >> "$scrapes" || true; done ) &
  scraper=$!
  java -XX:+UseSerialGC -Dorg.ops4j.pax.logging.DefaultServiceLog.level=ERROR -Dsteward.metrics.port="$METRICS_PORT" \
    -cp "$BENCH_JAR:$FELIX" io.steward.bench.SidecarBench "$RUNTIME" "${STEWARD[@]}" "${METRICS[@]}" > "$out_on"
  kill "$scraper"; wait "$scraper" 2>/dev/null || true
  ok=$(grep -c '^200 ' "$scrapes" || true); bytes=$(awk '$1==200 {b=$2} END {print b+0}' "$scrapes")
  echo
  echo "## metrics on vs off (same run, two JVMs; on: /metrics scraped every 5 s, $ok scrapes answered, last $bytes bytes)"
  echo
  echo "| measure | metrics off | metrics on | on / off |"
  echo "|---|---:|---:|---:|"
  # the rows of SidecarBench: "| agent CPU, … | 0.12 % | | …" and "| agent RSS, 0 → 50 … | 170 MiB → 176 MiB | | …"
  awk -F'|' -v on="$out_on" '
    function num(s) { gsub(/[^0-9.]/, "", s); return s + 0 }
    FNR == NR && /agent (CPU|RSS)/ { off[$2] = $3; next }
    /agent (CPU|RSS)/ { onv[$2] = $3 }
    END {
      for (k in off) {
        if (k ~ /RSS/) {
          split(off[k], a, "→"); split(onv[k], b, "→")
          printf "| agent RSS, 0 sidecars | %s | %s | %.2f |\n", a[1], b[1], num(b[1]) / num(a[1])
          label = k; sub(/^.*→ */, "", label); sub(/ *$/, "", label)
          printf "| agent RSS, %s | %s | %s | %.2f |\n", label, a[2], b[2], num(b[2]) / num(a[2])
        } else {
          ratio = num(off[k]) > 0 ? sprintf("%.2f", num(onv[k]) / num(off[k])) : "n/a"
          printf "|%s| %s | %s | %s |\n", k, off[k], onv[k], ratio
        }
      }
    }' "$out_off" "$out_on" | sort
  rm -f "$out_off" "$out_on" "$scrapes"
fi
