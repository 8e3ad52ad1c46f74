#!/usr/bin/env bash
# The crash campaign (issue 15 §1): reliability/crash-campaign.sh [TRIALS] [SEED] [file|fleet]
# A mixed fleet (4 sidecars, 3 services, a timer, a helper, 2 toggles) run by bin/steward as the user steward
# through the real root steward-updater and a real systemd sandbox; each trial SIGKILLs the agent, the updater or
# both at a random instant, or has systemd re-execute itself under them (daemon-reexec), or cuts the power
# (everything killed, sidecars and units too, then a boot), changes the assignment set while they are down,
# restarts them and checks convergence.
# Prints the table (also in distribution/target/crash-campaign.md). Needs root, the steward user, and a build
# (mvn -B -q install -DskipTests). Default: 50 trials, a random seed (printed; pass it back to replay).
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-50}
seed=${2:-$RANDOM$RANDOM}
source=${3:-file}      # fleet: assignments through a real nats-server (started here), which is killed too
case "$source" in
  file) method=everyTrialConvergesWithoutDuplicatesOrphansOrTornFiles table=distribution/target/crash-campaign.md ;;
  fleet) method=everyTrialThroughTheFleetSourceConvergesToo table=distribution/target/crash-campaign-fleet.md ;;
  *) echo "usage: $0 [TRIALS] [SEED] [file|fleet]" >&2; exit 2 ;;
esac
echo "crash campaign: $trials trials, seed $seed, the $source source"
repo=()
[[ -n "${MAVEN_REPO_LOCAL:-}" ]] && repo=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
# the campaign starts a private systemd sandbox unless DBUS_SYSTEM_BUS_ADDRESS and STEWARD_TEST_SYSTEMD_* name one
mvn -B -o -q verify -pl distribution "${repo[@]}" -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test="CrashCampaignIT#$method" -Dfailsafe.failIfNoSpecifiedTests=false \
  -Dsteward.crash.trials="$trials" -Dsteward.crash.seed="$seed" >/dev/null || status=$?
cat "$table" 2>/dev/null || echo "no table: the campaign did not finish (see distribution/target/failsafe-reports)"
exit "${status:-0}"
