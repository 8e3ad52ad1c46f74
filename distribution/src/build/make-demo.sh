#!/usr/bin/env bash
# Builds the distribution's embedded demo with the distribution's own tools:
#   - a DEMO key pair: the public half is trusted as etc/trust/steward-demo.pem, the private half
#     stays in the build directory (KEYS), never in the distribution;
#   - two signed demo add-ons in demo/ (a sidecar and an ephemeral helper) packed from src/demo;
#   - etc/assignments.json: those two and two config_toggle add-ons, with artifact URLs relative to it
#     (a copy in demo/assignments.json, and demo/none.json that assigns nothing).
# Usage: make-demo.sh TREE KEYS SOURCES
set -euo pipefail
tree=$1 keys=$2 sources=$3
steward="$tree/bin/steward"
rm -rf "$keys" && mkdir -p "$keys" "$tree/demo" "$tree/etc/trust"
"$steward" keygen --out "$keys/steward-demo" > /dev/null
cp "$keys/steward-demo.pub.pem" "$tree/etc/trust/steward-demo.pem"

field() {   # the first "name": "value" of a pack --json output
  sed -n "s/^  \"$1\": \"\\([^\"]*\\)\".*/\\1/p;T;q" "$2"
}
for addon in demo-heartbeat demo-hello; do
  "$steward" pack "$sources/$addon" --key "$keys/steward-demo.key.pem" --out "$tree/demo/$addon-1.0.0.tar.gz" --json \
    > "$keys/$addon.json"
done
hb_sha=$(field sha256 "$keys/demo-heartbeat.json"); hb_sig=$(field signature "$keys/demo-heartbeat.json")
he_sha=$(field sha256 "$keys/demo-hello.json"); he_sig=$(field signature "$keys/demo-hello.json")
[ -n "$hb_sha" ] && [ -n "$hb_sig" ] && [ -n "$he_sha" ] && [ -n "$he_sig" ] || { echo "make-demo: pack gave no digest or signature" >&2; exit 1; }

cat > "$tree/etc/assignments.json" <<JSON
{
  "revision": "demo-1",
  "addons": [
    {"id": "demo-heartbeat", "version": "1.0.0", "supervision": "sidecar", "delivery": "pushed_artifact",
     "artifact": {"url": "file:../demo/demo-heartbeat-1.0.0.tar.gz", "sha256": "$hb_sha", "signature": "$hb_sig",
                  "key": "steward-demo"},
     "binary": "heartbeat.sh", "config": {"interval_seconds": 10, "message": "demo heartbeat"}},
    {"id": "demo-hello", "version": "1.0.0", "supervision": "ephemeral_helper", "delivery": "pushed_artifact",
     "artifact": {"url": "file:../demo/demo-hello-1.0.0.tar.gz", "sha256": "$he_sha", "signature": "$he_sig",
                  "key": "steward-demo"},
     "binary": "hello.sh"},
    {"id": "flow-export", "version": "1.0.0", "supervision": "config_toggle", "delivery": "compiled_in",
     "capabilities": ["flow-export"], "config": {"interval_seconds": 30}},
    {"id": "snmp-trap-relay", "version": "1.0.0", "supervision": "config_toggle", "delivery": "compiled_in",
     "capabilities": ["snmp-traps"]}
  ]
}
JSON
printf '{"revision": "none", "addons": []}\n' > "$tree/demo/none.json"
cp "$tree/etc/assignments.json" "$tree/demo/assignments.json"   # to bring the demo back (README)
echo "demo: $(ls "$tree/demo" | tr '\n' ' ')signed with DEMO key etc/trust/steward-demo.pem"
