#!/bin/sh
# Demo helper of the Steward distribution: staged, never kept running; run it with
# 'steward:invoke demo-hello some args' in the Gogo shell (steward run --shell).
echo "hello from $STEWARD_ADDON_ID, a Steward helper; you said: $*"
