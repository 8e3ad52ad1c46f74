#!/usr/bin/env bash
# Fuzzes each Jazzer target (docs/testing.md "Fuzzing") for DURATION (default 10m; libFuzzer syntax: 30s, 10m, 1h),
# one JVM per target, and prints a table: executions per target and the findings written into the corpora.
# Usage: tools/fuzz.sh [DURATION] [extra mvn options, e.g. -Dmaven.repo.local=...]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10m}
shift || true
modules=bundles/core,bundles/delivery,bundles/systemd-unitfile,bundles/sidecar,updater
mvn -B -q install -DskipTests -pl "$modules" -am "$@"
mkdir -p target
log=target/fuzz-$(date +%Y%m%dT%H%M%S).log
before=$(git ls-files --others --exclude-standard -- '*FuzzTestInputs/*' | sort)
status=0
mvn -B surefire:test@fuzz -pl "$modules" -Dsteward.fuzz.duration="$duration" -Dsteward.fuzz.jazzer.seed=0 "$@" > "$log" 2>&1 || status=$?
after=$(git ls-files --others --exclude-standard -- '*FuzzTestInputs/*' | sort)
echo "| target | executions ($duration) |"
echo "|---|---:|"
sed -n 's/^fuzz: \([A-Za-z]*\) \([0-9]*\) executions$/| \1 | \2 |/p' "$log"
new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
if [[ -n $new ]]; then
  echo; echo "new findings (crash inputs, now in the corpus: fix, rename, commit):"; echo "$new"
fi
echo; echo "log: $log"
exit "$status"
