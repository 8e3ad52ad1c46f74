#!/usr/bin/env bash
# Signs the kinds of the tree's deploy/ with a key made for this build (standard JAR signing, jarsigner) and
# trusts its certificate in etc/deploy-trust/, so the agent installs the kinds it ships (docs/kinds.md "Signed kinds
# in deploy/"). The private key stays in KEYDIR (target/, never in the tree); an operator signs their own
# kinds with their own key.
set -euo pipefail
tree=$1 keys=$2
pass=steward-build     # a throwaway key in target/: the password protects nothing
mkdir -p "$keys"
store=$keys/deploy-signing.p12
if [[ ! -f $store ]]; then
  keytool -genkeypair -alias steward-kinds -keyalg Ed25519 -dname "CN=Steward kinds (build key)" \
    -validity 36500 -storetype PKCS12 -keystore "$store" -storepass "$pass" >/dev/null
fi
for jar in "$tree"/deploy/*.jar; do
  jarsigner -storetype PKCS12 -keystore "$store" -storepass "$pass" "$jar" steward-kinds >/dev/null
done
mkdir -p "$tree/etc/deploy-trust"
keytool -exportcert -rfc -alias steward-kinds -storetype PKCS12 -keystore "$store" -storepass "$pass" \
  > "$tree/etc/deploy-trust/steward-build.pem"
