#!/usr/bin/env bash
# The soak (issue 15 §4): reliability/soak.sh [SECONDS] [SEED]   (default 3600 s, a random seed, printed)
# bin/steward run of the built distribution, as root, supervising 200 add-ons (184 idle sidecars, 10
# config toggles, 6 ephemeral helpers, out of a pool of 220), for SECONDS of churn: the assignment document
# rewritten every 3-6 s (add-ons swapped for others, versions changed, toggles reconfigured), a sidecar SIGKILLed
# every 2-5 s, and every 30-75 s (the first after 10-30 s) a kind bundle of deploy/ (sidecar, config-toggle,
# ephemeral-helper) replaced by a rebuilt, re-signed copy or, in turn, removed and put back 3-8 s later. Then the
# first document again, and the agent must converge (every desired sidecar running exactly once, nothing
# undesired left). Samples the agent's RSS, threads, open fds and CPU (from /proc) after the first convergence and
# after the last, counts reconcile passes (steward_reconcile_passes_total), prints a table (also in distribution/target/soak.md) and exits 1 if a
# delta exceeds its bound or the agent did not converge, 2 if it cannot run. The same seed draws the same churn.
# The agent runs as root: with no systemd kind in the set there is no steward-updater, and a non-root agent
# releases a removed add-on through one (the crash campaign runs that topology). Needs root, python3, openssl, curl,
# a JDK's jarsigner and keytool, and a build (mvn -B -q install -DskipTests). SOAK_KEEP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
duration=${1:-3600}
seed=${2:-$RANDOM$RANDOM}
TREE=$REPO/distribution/target/steward
# Bounds on start -> end deltas, from measured runs (docs/reliability.md "Soak") with a margin: the agent's
# RSS moves by a few MiB with its heap between two samples, its threads by the JDK's idle process-reaper threads,
# its fds by a file or socket in use at the instant of the sample.
BOUND_RSS_MIB=32 BOUND_THREADS=8 BOUND_FDS=16
CONVERGE_DEADLINE=300      # s, for the first and the last convergence
SETTLE=${SOAK_SETTLE:-10}  # s: quiet time after a convergence (start-up work settles) before a sample
WINDOW=${SOAK_WINDOW:-10}  # s: the CPU measurement window of a sample
TABLE=$REPO/distribution/target/soak.md

fail() { echo "soak: $*" >&2; exit 2; }
[[ $duration =~ ^[0-9]+$ ]] || fail "SECONDS must be a whole number of seconds, not '$duration'"
[[ $seed =~ ^[0-9]+$ ]] || fail "SEED must be a whole number, not '$seed'"
[[ $(id -u) == 0 ]] || fail "run it as root: the agent supervises as root here and the soak kills its sidecars"
[[ -x $TREE/bin/steward ]] || fail "build first: mvn -B -q install -DskipTests (no $TREE/bin/steward)"
for t in python3 openssl curl jarsigner keytool /usr/bin/systemd-notify; do
  command -v "$t" >/dev/null || fail "$t is needed and not on PATH"
done
RANDOM=$seed               # bash's generator: the same seed draws the same choices (never used in a subshell)
echo "soak: $duration s, seed $seed (reliability/soak.sh $duration $seed), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

WORK=$(mktemp -d /tmp/stw-soak-XXXXXX); chmod 755 "$WORK"
TAG=${WORK##*-}            # names this run's sidecars: other runs on the host are not counted
HOME_DIR=$WORK/home ETC=$WORK/etc DATA=$WORK/data
agent=
cleanup() {
  local f pid
  if [[ -n $agent ]] && kill -0 "$agent" 2>/dev/null; then
    kill -TERM "$agent"; wait "$agent" 2>/dev/null || true
  fi
  # the sidecars outlive the agent (by design): end their groups by the pids their kind recorded, then any
  # process of this run still carrying the tag
  for f in "$DATA"/state/sidecar/*.json; do
    [[ -f $f ]] || continue
    pid=$(sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p' "$f" | head -1)
    [[ -n $pid ]] && kill -KILL -- "-$pid" 2>/dev/null || true
  done
  for pid in $(sidecar_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  if [[ ${SOAK_KEEP:-0} == 1 ]]; then echo "soak: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
sidecar_pids() {           # every live sidecar of this run, or of one add-on ($1)
  local p
  for p in /proc/[0-9]*; do
    { IFS= read -r -d '' argv0 < "$p/cmdline"; } 2>/dev/null || continue
    [[ $argv0 == "soak-sidecar $TAG ${1:-}"* ]] && echo "${p#/proc/}"
  done
  return 0
}

# ---------------------------------------------------------------- the installation (as CampaignHost lays it out)
mkdir -p "$HOME_DIR/etc" "$ETC/trust" "$ETC/deploy-trust" "$DATA" "$WORK/repo" "$WORK/src" "$WORK/kinds"
for top in bin bundle deploy lib etc/deploy-trust; do cp -a "$TREE/$top" "$HOME_DIR/$top"; done
chown -R root:root "$HOME_DIR"; chmod -R u+rwX,go+rX,go-w "$HOME_DIR" "$ETC" "$WORK/repo"
steward() { env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$WORK" "$HOME_DIR/bin/steward" "$@"; }

# artifact key (the stock tools of docs/artifacts.md "Artifacts, signatures and staging": 400 artifacts in seconds)
openssl genpkey -algorithm ed25519 -out "$WORK/soak.key.pem" 2>/dev/null
openssl pkey -in "$WORK/soak.key.pem" -pubout -out "$ETC/trust/soak.pem"
chmod 644 "$ETC/trust/soak.pem"

SIDECARS=() TOGGLES=() HELPERS=()
for i in $(seq -w 1 200); do SIDECARS+=("soak-s$i"); done
for i in $(seq -w 1 12); do TOGGLES+=("soak-g$i"); done
for i in $(seq -w 1 8); do HELPERS+=("soak-h$i"); done
VERSIONS=(1.0.0 2.0.0)
declare -A kind_of art
for a in "${SIDECARS[@]}"; do kind_of[$a]=sidecar; done
for a in "${TOGGLES[@]}"; do kind_of[$a]=config_toggle; done
for a in "${HELPERS[@]}"; do kind_of[$a]=ephemeral_helper; done

# 416 signed artifacts (each add-on at 1.0.0 and 2.0.0), packed in one process (reliability/soak-pack.py)
packed=0
while read -r id v json; do art[$id@$v]=$json; packed=$((packed + 1)); done \
  < <(python3 "$REPO/reliability/soak-pack.py" "$WORK/repo" "$TAG" "$WORK/soak.key.pem" "${SIDECARS[@]}" "${HELPERS[@]}")
((packed == 416)) || fail "packing the artifacts failed ($packed of 416 made)"
echo "soak: 416 artifacts packed and signed (${SECONDS} s)"

# kind jars: the shipped jar of each swapped kind and a rebuilt one (its manifest's main section plus
# Soak-Variant, every signature file dropped) signed by a kinds key this host trusts in <etc>/deploy-trust
# (docs/kinds.md "Signing a kind"); made in the background while the agent converges (five JVMs)
KINDS=(sidecar config.toggle ephemeral.helper)
declare -A jar_of variant_of
for k in "${KINDS[@]}"; do
  jar=$(cd "$HOME_DIR/deploy" && ls io.steward.supervision."$k"-*.jar)
  jar_of[$k]=$jar variant_of[$k]=shipped
  cp "$HOME_DIR/deploy/$jar" "$WORK/kinds/$k.shipped.jar"
done
rebuild_kinds() {
  local k
  keytool -genkeypair -alias soak-kinds -keyalg Ed25519 -dname "CN=soak kinds" -validity 30 -storetype PKCS12 \
    -keystore "$WORK/kinds.p12" -storepass soak-kinds >/dev/null 2>&1
  keytool -exportcert -rfc -alias soak-kinds -storetype PKCS12 -keystore "$WORK/kinds.p12" -storepass soak-kinds \
    > "$ETC/deploy-trust/soak-kinds.pem" 2>/dev/null
  chmod 644 "$ETC/deploy-trust/soak-kinds.pem"
  for k in "${KINDS[@]}"; do
    python3 - "$WORK/kinds/$k.shipped.jar" "$WORK/kinds/$k.rebuilt.jar" <<'PY'
import re, sys, zipfile
src, dst = sys.argv[1:]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
    main = re.split(rb"\r?\n\r?\n", zin.read("META-INF/MANIFEST.MF"), maxsplit=1)[0]
    zout.writestr("META-INF/MANIFEST.MF", main + b"\r\nSoak-Variant: rebuilt\r\n\r\n")
    for e in zin.infolist():
        if e.filename != "META-INF/MANIFEST.MF" and not re.match(r"META-INF/[^/]+\.(SF|RSA|DSA|EC)$|META-INF/SIG-", e.filename):
            zout.writestr(e, zin.read(e.filename))
PY
    jarsigner -storetype PKCS12 -keystore "$WORK/kinds.p12" -storepass soak-kinds "$WORK/kinds/$k.rebuilt.jar" \
      soak-kinds >/dev/null
    chmod 644 "$WORK/kinds/$k.rebuilt.jar"
  done
}
rebuild_kinds > "$WORK/kinds.log" 2>&1 &
kinds_job=$!

# ---------------------------------------------------------------- the desired set and its document
declare -A want cfg            # id -> version, toggle id -> its config value
for a in "${SIDECARS[@]:0:184}" "${TOGGLES[@]:0:10}" "${HELPERS[@]:0:6}"; do want[$a]=1.0.0; done
for a in "${TOGGLES[@]}"; do cfg[$a]=0; done
declare -A first_want first_cfg
for a in "${!want[@]}"; do first_want[$a]=${want[$a]}; done
for a in "${!cfg[@]}"; do first_cfg[$a]=${cfg[$a]}; done
revision=0
assign() {                     # writes the document of want/cfg, atomically (a rename), and the check's list
  local a entries=() doc
  revision=$((revision + 1))
  : > "$WORK/desired"
  for a in "${SIDECARS[@]}" "${TOGGLES[@]}" "${HELPERS[@]}"; do
    [[ -n ${want[$a]:-} ]] || continue
    echo "$a ${kind_of[$a]} ${want[$a]}" >> "$WORK/desired"
    if [[ ${kind_of[$a]} == config_toggle ]]; then
      entries+=("{\"id\":\"$a\",\"version\":\"${want[$a]}\",\"supervision\":\"config_toggle\",\"delivery\":\"compiled_in\",\"capabilities\":[\"$a\"],\"config\":{\"level\":${cfg[$a]}}}")
    else
      entries+=("{\"id\":\"$a\",\"version\":\"${want[$a]}\",\"supervision\":\"${kind_of[$a]}\",\"artifact\":${art[$a@${want[$a]}]}}")
    fi
  done
  doc="{\"revision\":\"soak-$revision\",\"addons\":[$(IFS=,; echo "${entries[*]}")]}"
  printf '%s\n' "$doc" > "$ETC/.assignments.json.tmp"
  chmod 644 "$ETC/.assignments.json.tmp"
  mv "$ETC/.assignments.json.tmp" "$ETC/assignments.json"
}
assign

# ---------------------------------------------------------------- the agent and what is read from it
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/nonexistent \
  "$HOME_DIR/bin/steward" run --verbose --data "$DATA" --etc "$ETC" --trust "$ETC/trust" --metrics-port "$PORT" \
  --systemd-bus unix:path=/nonexistent </dev/null > "$WORK/agent.out" 2> "$WORK/agent.err" &
agent=$!                   # bin/steward execs java: this is the JVM's pid
alive() {
  kill -0 "$agent" 2>/dev/null && return 0
  echo "soak: the agent (pid $agent) died; the end of its log:" >&2; tail -n 40 "$WORK/agent.err" >&2; exit 1
}
metric() {                 # the sum of a series of the agent's /metrics, 0 while it does not answer
  { curl -sf "http://127.0.0.1:$PORT/metrics" 2>/dev/null || true; } | awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2}
    END {printf "%d", s}'
}
# waits until the check passes; sets converged_after (s) or fails with the check's last sentences
converge() {
  local what=$1 start end
  start=$(date +%s.%N); end=$(( $(date +%s) + CONVERGE_DEADLINE ))
  while true; do
    alive
    if { curl -sf "http://127.0.0.1:$PORT/metrics" 2>/dev/null || true; } \
         | python3 "$REPO/reliability/soak-check.py" gate "$WORK/desired" > "$WORK/problems" \
       && steward status --json --data "$DATA" --etc "$ETC" > "$WORK/status.json" 2>/dev/null \
       && python3 "$REPO/reliability/soak-check.py" check "$WORK/status.json" "$WORK/desired" "$TAG" > "$WORK/problems"; then
      converged_after=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
      return 0
    fi
    if (( $(date +%s) > end )); then
      echo "soak: not converged $CONVERGE_DEADLINE s after $what; $(wc -l < "$WORK/problems") problem(s):" >&2
      head -n 20 "$WORK/problems" >&2
      not_converged=$what
      return 1
    fi
    sleep 1                # polling a condition with a deadline
  done
}
# sample: "rss_mib threads fds cpu_percent" of the agent, CPU over WINDOW s
sample() {
  local hz c0 c1 t0 t1 rss threads fds
  hz=$(getconf CLK_TCK)
  c0=$(awk '{print $14 + $15}' "/proc/$agent/stat"); t0=$(date +%s.%N)
  sleep "$WINDOW"          # the measurement window itself
  c1=$(awk '{print $14 + $15}' "/proc/$agent/stat"); t1=$(date +%s.%N)
  rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$agent/status")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$agent/status")
  fds=$(find "/proc/$agent/fd" -mindepth 1 -maxdepth 1 | wc -l)
  awk -v c="$((c1 - c0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v r="$rss" -v th="$threads" -v f="$fds" \
    'BEGIN {printf "%s %s %s %.2f", r, th, f, 100 * c / hz / (t1 - t0)}'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$agent/stat"; }

not_converged=
converge "the first document" || exit 1
first_converged=$converged_after
sleep "$SETTLE"            # start-up work (class loading, the first compilations) settles before the sample
read -r rss0 thr0 fd0 cpu0 <<< "$(sample)"
echo "soak: converged on 200 add-ons in $first_converged s (${SECONDS} s); start: RSS $rss0 MiB, $thr0 threads, $fd0 fds, CPU $cpu0 %"

# ---------------------------------------------------------------- the churn
wait "$kinds_job" || fail "rebuilding and signing the kind jars failed: $(tail -n 5 "$WORK/kinds.log")"
pick() { R=$((RANDOM % $1)); }                    # R in [0, $1), drawn in this shell (the seed's sequence)
rewrites=0 swapped=0 versions=0 reconfigured=0 kills=0 kills_missed=0 kind_replaced=0 kind_removed=0
churn() {                      # one rewrite: 1-3 add-ons swapped for spares of their kind, 1-3 versions changed
  local n count a spare pool=() spares=() ids=()
  mapfile -t ids < <(printf '%s\n' "${!want[@]}" | sort)
  pick 3; count=$R; for ((n = 0; n <= count; n++)); do
    pick "${#ids[@]}"; a=${ids[R]}
    [[ -n ${want[$a]:-} ]] || continue
    case ${kind_of[$a]} in sidecar) pool=("${SIDECARS[@]}") ;; config_toggle) pool=("${TOGGLES[@]}") ;;
                           *) pool=("${HELPERS[@]}") ;; esac
    spares=(); for spare in "${pool[@]}"; do [[ -n ${want[$spare]:-} ]] || spares+=("$spare"); done
    ((${#spares[@]})) || continue
    pick "${#spares[@]}"; spare=${spares[R]}
    unset "want[$a]"; pick 2; want[$spare]=${VERSIONS[R]}; swapped=$((swapped + 1))
  done
  mapfile -t ids < <(printf '%s\n' "${!want[@]}" | sort)
  pick 3; count=$R; for ((n = 0; n <= count; n++)); do
    pick "${#ids[@]}"; a=${ids[R]}
    [[ ${want[$a]} == 1.0.0 ]] && want[$a]=2.0.0 || want[$a]=1.0.0
    versions=$((versions + 1))
  done
  pick 3; if ((R == 0)); then
    pick "${#TOGGLES[@]}"; a=${TOGGLES[R]}; cfg[$a]=$((cfg[$a] + 1)); reconfigured=$((reconfigured + 1))
  fi
  assign; rewrites=$((rewrites + 1))
}
kill_one() {                   # SIGKILL of a random desired sidecar that runs
  local ids=() a pids
  for a in "${SIDECARS[@]}"; do [[ -n ${want[$a]:-} ]] && ids+=("$a"); done
  pick "${#ids[@]}"; a=${ids[R]}
  pids=$(sidecar_pids "$a ")
  if [[ -n $pids ]]; then kill -KILL $pids 2>/dev/null || true; kills=$((kills + 1)); else kills_missed=$((kills_missed + 1)); fi
}
put_jar() {                    # rename a variant over (or into) the kind's place in deploy/, as README says
  local k=$1 var
  [[ ${variant_of[$k]} == rebuilt ]] && var=shipped || var=rebuilt
  cp "$WORK/kinds/$k.$var.jar" "$HOME_DIR/deploy/.${jar_of[$k]}.tmp"
  mv "$HOME_DIR/deploy/.${jar_of[$k]}.tmp" "$HOME_DIR/deploy/${jar_of[$k]}"
  variant_of[$k]=$var
}
declare -A back_at              # kind -> when its removed jar is put back
swap_kind() {                  # replaced and removed in turn (both within CI's two minutes), a random kind each
  local k
  pick "${#KINDS[@]}"; k=${KINDS[R]}
  if (( (kind_replaced + kind_removed) % 2 == 0 )); then put_jar "$k"; kind_replaced=$((kind_replaced + 1))
  else
    rm "$HOME_DIR/deploy/${jar_of[$k]}"; kind_removed=$((kind_removed + 1))
    pick 6; back_at[$k]=$(( $(date +%s) + 3 + R ))
  fi
}
begin=$(date +%s); stop=$((begin + duration))
passes0=$(metric steward_reconcile_passes_total) restarts0=$(metric steward_addon_restarts_total) ticks0=$(cpu_ticks)
pick 4; next_rewrite=$((begin + 3 + R)); pick 4; next_kill=$((begin + 2 + R)); pick 21; next_swap=$((begin + 10 + R))
while (( $(date +%s) < stop )); do
  alive
  now=$(date +%s)
  if ((now >= next_rewrite)); then churn; pick 4; next_rewrite=$((now + 3 + R)); fi
  if ((now >= next_kill)); then kill_one; pick 4; next_kill=$((now + 2 + R)); fi
  if ((now >= next_swap)); then swap_kind; pick 46; next_swap=$((now + 30 + R)); fi
  for k in "${!back_at[@]}"; do
    if ((now >= back_at[$k])); then put_jar "$k"; unset "back_at[$k]"; fi
  done
  sleep 0.5                # the churn's clock tick
done
churn_end=$(date +%s.%N)
passes1=$(metric steward_reconcile_passes_total) restarts1=$(metric steward_addon_restarts_total) ticks1=$(cpu_ticks)
for k in "${!back_at[@]}"; do put_jar "$k"; unset "back_at[$k]"; done

# ---------------------------------------------------------------- the end: the first document again
unset want cfg; declare -A want cfg
for a in "${!first_want[@]}"; do want[$a]=${first_want[$a]}; done
for a in "${!first_cfg[@]}"; do cfg[$a]=${first_cfg[$a]}; done
assign
last_converged=
if converge "the end of the churn"; then
  last_converged=$converged_after
  sleep "$SETTLE"          # as before the first sample
  read -r rss1 thr1 fd1 cpu1 <<< "$(sample)"
else
  read -r rss1 thr1 fd1 cpu1 <<< "$(sample)"
fi
passes2=$(metric steward_reconcile_passes_total)
errors=$(grep -c ' ERROR ' "$WORK/agent.err" || true) warnings=$(grep -c ' WARN ' "$WORK/agent.err" || true)
# what the agent saw of the kind swaps (io.steward.deploy logs each at INFO: run --verbose)
seen_updated=$(grep -c '\] INFO : deploy/io.steward.supervision.*: updated ' "$WORK/agent.err" || true)
seen_deleted=$(grep -c '\] INFO : deploy/io.steward.supervision.* was deleted' "$WORK/agent.err" || true)
seen_installed=$(grep -c '\] INFO : deploy/io.steward.supervision.*: installed ' "$WORK/agent.err" || true)

# ---------------------------------------------------------------- the table
hz=$(getconf CLK_TCK)
churn_s=$(awk -v a="$begin" -v b="$churn_end" 'BEGIN {printf "%.0f", b - a}')
verdict() { awk -v d="$1" -v b="$2" 'BEGIN {print (d > b ? "**exceeded**" : "within")}'; }
d_rss=$(awk -v a="$rss0" -v b="$rss1" 'BEGIN {printf "%+.1f", b - a}')
d_thr=$((thr1 - thr0)) d_fd=$((fd1 - fd0))
d_cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%+.2f", b - a}')
failed=0
for check in "$d_rss $BOUND_RSS_MIB" "$d_thr $BOUND_THREADS" "$d_fd $BOUND_FDS"; do
  [[ $(verdict $check) == within ]] || failed=1
done
[[ -z $not_converged ]] || failed=1
{
  echo "## soak: $duration s of churn, seed $seed, 200 add-ons ($(date -u +%Y-%m-%d), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "| agent (bin/steward run) | start | end | delta | bound |"
  echo "|---|---:|---:|---:|---:|"
  echo "| RSS | $rss0 MiB | $rss1 MiB | $d_rss MiB | +$BOUND_RSS_MIB MiB, $(verdict "$d_rss" "$BOUND_RSS_MIB") |"
  echo "| threads | $thr0 | $thr1 | $(printf %+d "$d_thr") | +$BOUND_THREADS, $(verdict "$d_thr" "$BOUND_THREADS") |"
  echo "| open fds | $fd0 | $fd1 | $(printf %+d "$d_fd") | +$BOUND_FDS, $(verdict "$d_fd" "$BOUND_FDS") |"
  echo "| CPU, converged ($WINDOW s, one core) | $cpu0 % | $cpu1 % | $d_cpu | reported, not bounded |"
  echo
  awk -v p="$((passes1 - passes0))" -v s="$churn_s" -v c="$((ticks1 - ticks0))" -v hz="$hz" 'BEGIN {
    printf "Reconcile passes during the churn: %d in %d s, %.2f per second; agent CPU during the churn %.1f %% of one core.\n",
      p, s, p / s, 100 * c / hz / s }'
  echo "Churn: $rewrites rewrites of the document ($swapped add-ons swapped for others, $versions version changes," \
    "$reconfigured toggle reconfigurations), $kills sidecars SIGKILLed ($((restarts1 - restarts0)) restarts counted by" \
    "the agent), kind jars replaced $kind_replaced times and removed and put back $kind_removed times (the agent" \
    "logged $seen_updated bundle updates, $seen_deleted uninstalls, $seen_installed installs, its first start included)."
  echo "Convergence: first document in $first_converged s; the first document again after the churn" \
    "${last_converged:+in $last_converged s}${not_converged:+NOT within $CONVERGE_DEADLINE s}" \
    "($((passes2 - passes1)) passes, $SECONDS s in all); agent log: $errors ERROR, $warnings WARN lines."
  [[ $failed == 0 ]] && echo "Result: **pass**." || echo "Result: **FAIL**."
} | tee "$TABLE"
if [[ $failed != 0 && -n $not_converged ]]; then cat "$WORK/problems"; fi
exit "$failed"
