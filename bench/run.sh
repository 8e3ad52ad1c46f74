#!/usr/bin/env bash
# Steward benchmarks. Prints markdown tables: each figure beside a baseline measured in the same run.
# Usage: bench/run.sh [runs]      (build first: mvn -B -q install -DskipTests)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-7}
HOME_DIR=distribution/target/steward
BENCH_JAR=bench/target/io.steward.bench-0.1.0-SNAPSHOT.jar
[ -x "$HOME_DIR/bin/steward" ] && [ -f "$BENCH_JAR" ] || { echo "build first: mvn -B -q install -DskipTests" >&2; exit 2; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
echo '{"addons":[]}' > "$TMP/empty.json"
BENCH_CP="$BENCH_JAR:$HOME_DIR/bin/felix.jar"

# median wall seconds and median peak RSS (MiB) of a command over $RUNS runs
measure() {
  local label=$1; shift
  local walls=() rss=()
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %M' -o "$TMP/t" "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
    read -r w m < "$TMP/t"; walls+=("$w"); rss+=("$m")
  done
  local mw mr
  mw=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  mr=$(printf '%s\n' "${rss[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]/1024}')
  echo "$label|$mw|$mr"
}

echo "## steward apply of an empty document ($RUNS runs each, medians)"
echo
rows=()
rows+=("$(measure 'java -version' java -version)")
rows+=("$(measure 'plain Felix boot: SCR, ConfigAdmin, FileInstall, Gogo' java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Xss512k -cp "$BENCH_CP" io.steward.bench.ReconcileBench felix-baseline "$HOME_DIR")")
rows+=("$(measure 'steward apply -a empty.json' "$HOME_DIR/bin/steward" apply -a "$TMP/empty.json" --data "$TMP/data" --etc "$TMP/etc")")
felix_wall=$(echo "${rows[1]}" | cut -d'|' -f2)
echo "| command | wall | peak RSS | wall vs plain Felix |"
echo "|---|---:|---:|---:|"
for r in "${rows[@]}"; do
  IFS='|' read -r label wall rss <<< "$r"
  ratio=$(awk -v a="$wall" -v b="$felix_wall" 'BEGIN {printf "%.2f", a/b}')
  echo "| $label | ${wall} s | ${rss} MiB | ${ratio}× |"
done
echo
echo "## no-op reconcile of config_toggle add-ons (real Felix, median of 30 passes after warm-up)"
echo
java -XX:+UseSerialGC -cp "$BENCH_CP" io.steward.bench.ReconcileBench noop-reconcile "$HOME_DIR" 10 1000
