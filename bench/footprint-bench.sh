#!/usr/bin/env bash
# The running agent's footprint: 'bin/steward run' of the built distribution (its launcher, bundles and JVM
# flags) supervising 0 and then N idle sidecars (signed artifacts, 'sleep' programs that need no sd_notify):
# RSS, JVM threads and CPU over a 20 s window, for each set of JVM flags, in the same run. Prints a table.
# Usage: bench/footprint-bench.sh [N] [FLAGS...]   (build first: mvn -B -q install -DskipTests)
#   FLAGS: one argument per configuration, 'label=JVM flags' ('default' runs bin/steward's own flags for run);
#   without any: the flags bin/steward used for run before issue 16 (-XX:+UseSerialGC) and today's.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}; shift || true
TREE=$PWD/distribution/target/steward
[ -x "$TREE/bin/steward" ] || { echo "build first: mvn -B -q install -DskipTests" >&2; exit 2; }
configs=("$@")
((${#configs[@]})) || configs=("before (-XX:+UseSerialGC)=-XX:+UseSerialGC" "after (bin/steward's defaults)=default")
WORK=$(mktemp -d /tmp/stw-fp-XXXXXX)
agent=
cleanup() {
  [ -n "$agent" ] && kill "$agent" 2>/dev/null || true
  stop_sidecars
  rm -rf "$WORK"
}
# the sidecars run on after the agent stops (by design): end them by the pids their kind recorded
stop_sidecars() {
  local f pid
  for f in "$WORK"/data-*/state/sidecar/*.json; do
    [ -f "$f" ] || continue
    pid=$(sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p' "$f")
    [ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
steward() { env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$WORK" "$TREE/bin/steward" "$@"; }

# N signed sidecar artifacts and the document that assigns them
steward keygen --out "$WORK/bench" >/dev/null
mkdir -p "$WORK/etc/trust"; cp "$WORK/bench.pub.pem" "$WORK/etc/trust/bench.pem"
entries=()
for i in $(seq "$N"); do
  src="$WORK/src/fp$i"; mkdir -p "$src"
  printf '{"id":"fp%s","version":"1.0.0","supervision":"sidecar","binary":"run.sh"}\n' "$i" > "$src/addon.json"
  printf '#!/bin/sh\nexec sleep 100000\n' > "$src/run.sh"; chmod 755 "$src/run.sh"
  json=$(steward pack "$src" --key "$WORK/bench.key.pem" --out "$WORK/fp$i.tar.gz" --json | tr -d '\n ')
  sha=$(sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p' <<< "$json"); sig=$(sed -n 's/.*"signature":"\([^"]*\)".*/\1/p' <<< "$json")
  entries+=("{\"id\":\"fp$i\",\"version\":\"1.0.0\",\"supervision\":\"sidecar\",\"binary\":\"run.sh\",\"artifact\":{\"url\":\"file://$WORK/fp$i.tar.gz\",\"sha256\":\"$sha\",\"signature\":\"$sig\",\"key\":\"bench\"}}")
done
empty='{"revision":"empty","addons":[]}'
full="{\"revision\":\"full\",\"addons\":[$(IFS=,; echo "${entries[*]}")]}"

# CPU % of one core over 20 s, RSS MiB, threads of process $1
sample() {
  local pid=$1 t0 t1 c0 c1 hz rss threads
  hz=$(getconf CLK_TCK)
  c0=$(awk '{print $14+$15}' "/proc/$pid/stat"); t0=$(date +%s.%N)
  sleep 20                                  # the measurement window itself
  c1=$(awk '{print $14+$15}' "/proc/$pid/stat"); t1=$(date +%s.%N)
  rss=$(awk '/^VmRSS:/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
  awk -v c="$((c1 - c0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v r="$rss" -v th="$threads" \
    'BEGIN {printf "%.2f|%s|%s", 100 * c / hz / (t1 - t0), r, th}'
}

# waits until 'status --json' of data dir $1 counts $2 add-ons ready
await_ready() {
  local data=$1 want=$2 n
  for _ in $(seq 600); do
    n=$(steward status --json --data "$data" --etc "$WORK/etc" 2>/dev/null | grep -o '"state": *"ready"' | wc -l || true)
    [ "$n" -ge "$want" ] && return 0
    sleep 0.5                               # polling a condition with a deadline
  done
  echo "only $n of $want add-ons ready" >&2; exit 1
}

rows=()
names=()
k=0
for c in "${configs[@]}"; do
  label=${c%%=*} flags=${c#*=}; k=$((k + 1))
  data="$WORK/data-$k"; mkdir -p "$data"
  echo "$empty" > "$WORK/etc/assignments.json"
  if [ "$flags" = default ]; then
    env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$WORK" "$TREE/bin/steward" run --data "$data" --etc "$WORK/etc" \
      --systemd-bus unix:path=/nonexistent > "$WORK/agent-$k.log" 2>&1 &
  else
    env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$WORK" STEWARD_RUN_JAVA_OPTS="$flags" "$TREE/bin/steward" run \
      --data "$data" --etc "$WORK/etc" --systemd-bus unix:path=/nonexistent > "$WORK/agent-$k.log" 2>&1 &
  fi
  agent=$!
  await_ready "$data" 0; sleep 10          # start-up work (JIT, class loading) settles before measuring
  idle=$(sample "$agent")
  echo "$full" > "$WORK/etc/assignments.json"
  await_ready "$data" "$N"; sleep 10
  loaded=$(sample "$agent")
  # the agent's threads by name (/proc: no attach, nothing added), numbers folded: "process reaper" ×N …
  threads_by_name=$(cat /proc/"$agent"/task/*/comm | sed 's/[0-9]\+$/N/' | sort | uniq -c | sort -rn \
    | awk '{c=$1; $1=""; sub(/^ /, ""); printf "%s%s ×%d", (NR>1 ? ", " : ""), $0, c}')
  kill "$agent"; wait "$agent" 2>/dev/null || true; agent=
  stop_sidecars
  rows+=("$label|$idle|$loaded")
  names+=("$label: $threads_by_name")
done

echo "## the running agent (bin/steward run), 0 and $N idle sidecars ($(nproc) cores; CPU over 20 s)"
echo
echo "| JVM flags | RSS idle | RSS, $N sidecars | RSS vs first | threads idle / $N | CPU idle / $N (one core) |"
echo "|---|---:|---:|---:|---:|---:|"
base=
for r in "${rows[@]}"; do
  IFS='|' read -r label c0 r0 t0 c1 r1 t1 <<< "$r"
  [ -n "$base" ] || base=$r1
  ratio=$(awk -v a="$r1" -v b="$base" 'BEGIN {printf "%.2f", a/b}')
  echo "| $label | $r0 MiB | $r1 MiB | ${ratio}× | $t0 / $t1 | $c0 % / $c1 % |"
done
echo
echo "Threads with $N sidecars, by name:"
for n in "${names[@]}"; do echo "- $n"; done
