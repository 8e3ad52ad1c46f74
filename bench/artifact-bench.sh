#!/usr/bin/env bash
# Artifact delivery benchmark (PRODUCT §8): verify + stage a 256 MiB artifact (half random, half
# compressible) signed with a fresh Ed25519 key. Steward's one-pass stager (SHA-256 while inflating and
# extracting, then the signature, then one rename) against the shell baseline sha256sum + openssl
# pkeyutl -verify + tar -xzf (three passes), on the same file, in the same run, warm page cache for both.
# Prints a markdown table (medians).
# Usage: bench/artifact-bench.sh [runs]      (build first: mvn -B -q install -DskipTests)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
V=0.1.0-SNAPSHOT
M2=${MAVEN_REPO:-$HOME/.m2/repository}
CP=(bench/target/io.steward.bench-$V.jar
    bundles/delivery/target/io.steward.delivery-$V.jar
    bundles/api/target/io.steward.api-$V.jar
    "$M2/com/google/code/gson/gson/2.15.0/gson-2.15.0.jar"
    "$M2/org/apache/commons/commons-compress/1.28.0/commons-compress-1.28.0.jar"
    "$M2/commons-io/commons-io/2.20.0/commons-io-2.20.0.jar"
    "$M2/org/apache/commons/commons-lang3/3.18.0/commons-lang3-3.18.0.jar"
    "$M2/org/slf4j/slf4j-api/2.0.17/slf4j-api-2.0.17.jar"
    "$M2/org/apache/felix/org.apache.felix.framework/7.0.5/org.apache.felix.framework-7.0.5.jar")
for f in "${CP[@]}"; do
  [ -f "$f" ] || { echo "missing $f; build first: mvn -B -q install -DskipTests" >&2; exit 2; }
done
for tool in openssl sha256sum tar gzip; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
ID=bench; VER=1.0.0

# the artifact: 128 MiB random + 128 MiB compressible text, a deterministic tar, gzip -6
mkdir -p "$TMP/src" "$TMP/trust"
printf '{"id":"%s","version":"%s","supervision":"sidecar","binary":"%s"}\n' $ID $VER $ID > "$TMP/src/addon.json"
printf '#!/bin/sh\nexec sleep 1000\n' > "$TMP/src/$ID"; chmod 0755 "$TMP/src/$ID"
head -c 128M /dev/urandom > "$TMP/src/random.bin"
# log-like lines that differ by a counter: compresses about 5:1, unlike one repeated line
{ seq -f 'Nov 27 10:00:00 host netprobe[4242]: probe icmp 10.0.0.1 seq=%.0f rtt=0.42ms ttl=64 ok' 1 4000000 || true; } \
  | head -c 128M > "$TMP/src/log.txt"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$TMP/src" -cf - . | gzip -n -6 > "$TMP/artifact.tar.gz"
CONTENT=$(du -sb "$TMP/src" | cut -f1)
SIZE=$(stat -c %s "$TMP/artifact.tar.gz")
rm -rf "$TMP/src"

# a fresh key, trusted; the signature exactly as PRODUCT §3 makes it
openssl genpkey -algorithm ed25519 -out "$TMP/key.pem"
openssl pkey -in "$TMP/key.pem" -pubout -out "$TMP/trust/release.pem"
SHA=$(sha256sum "$TMP/artifact.tar.gz" | cut -d' ' -f1)
printf 'steward-artifact-v1\n%s\n%s\n%s\n' $ID $VER "$SHA" > "$TMP/stmt"
SIG=$(openssl pkeyutl -sign -inkey "$TMP/key.pem" -rawin -in "$TMP/stmt" | base64 -w0)
echo "$SIG" | base64 -d > "$TMP/sig.bin"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

baseline_once() {
  rm -rf "$TMP/x"; mkdir "$TMP/x"
  local t0 t1 sha
  t0=$(date +%s.%N)
  sha=$(sha256sum "$TMP/artifact.tar.gz" | cut -d' ' -f1)
  [ "$sha" = "$SHA" ] || { echo "baseline: digest mismatch" >&2; exit 1; }
  printf 'steward-artifact-v1\n%s\n%s\n%s\n' $ID $VER "$sha" > "$TMP/stmt2"
  openssl pkeyutl -verify -pubin -inkey "$TMP/trust/release.pem" -rawin -in "$TMP/stmt2" -sigfile "$TMP/sig.bin" >/dev/null
  tar -xzf "$TMP/artifact.tar.gz" -C "$TMP/x"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

steward() {   # $1 = sync_files
  java -XX:+UseParallelGC -cp "$(IFS=:; echo "${CP[*]}")" io.steward.bench.StageBench "$TMP/artifact.tar.gz" \
    "$TMP/trust" "$TMP/work" $ID $VER "$SHA" "$SIG" "$RUNS" "$1" 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
}

baseline_once >/dev/null     # warm-up: page cache, binaries
base=$(for _ in $(seq "$RUNS"); do baseline_once; done | median)
rm -rf "$TMP/x"
one_pass=$(steward true)
no_sync=$(steward false)

mib() { awk -v s="$1" -v b="$CONTENT" 'BEGIN {printf "%.0f", b / 1048576 / s}'; }
ratio() { awk -v s="$1" -v b="$base" 'BEGIN {printf "%.2f", s / b}'; }
echo "## verify + stage a $((CONTENT / 1048576)) MiB artifact ($((SIZE / 1048576)) MiB gzip'd; $(nproc) cores; median of $RUNS runs)"
echo
echo "| pipeline | wall | MB/s (content) | time vs baseline |"
echo "|---|---:|---:|---:|"
echo "| shell: sha256sum + openssl pkeyutl -verify + tar -xzf (3 passes) | ${base} s | $(mib "$base") | 1.00× |"
echo "| Steward stager, one pass (default: each file fsync'd) | ${one_pass} s | $(mib "$one_pass") | $(ratio "$one_pass")× |"
echo "| Steward stager, one pass, sync_files=false (like tar) | ${no_sync} s | $(mib "$no_sync") | $(ratio "$no_sync")× |"
echo
echo "Target (PRODUCT §8): ≤ 0.5× the baseline's time."
