#!/usr/bin/env python3
"""Convergence check of the soak (reliability/soak.sh).

soak-check.py gate DESIRED < METRICS: exit 0 when the agent's /metrics (Prometheus text) show every desired
add-on ready, 1 (and a sentence naming those that are not) otherwise; cheap enough to poll, so the full check below runs only once it holds.

soak-check.py check STATUS_JSON DESIRED TAG: STATUS_JSON is what 'steward status --json' printed; DESIRED has one line per desired add-on, "id kind version".
The host has converged when every desired add-on is ready at its version, no other add-on is in effect, every
desired sidecar runs exactly once at its version and no other soak sidecar runs. A soak sidecar is a process whose
argv reads "soak-sidecar TAG ID VERSION ..." (its run.sh execs it so): counted by what it is, not by who its parent
is. Prints one sentence per problem and exits 1 if there is any, 0 otherwise.
"""
import json
import os
import sys


def sidecar_processes(tag):
    """(id, version) -> pids of the soak sidecars of this run that are alive (zombies have no argv)."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")[0].decode("utf-8", "replace").split(" ")
        except OSError:
            continue                                  # gone meanwhile
        if len(argv) >= 4 and argv[0] == "soak-sidecar" and argv[1] == tag:
            found.setdefault((argv[2], argv[3]), []).append(int(pid))
    return found


def problems(status, desired, tag):
    out = []
    entries = {a["id"]: a for a in status.get("addons", [])}
    for addon_id, (kind, version) in sorted(desired.items()):
        a = entries.get(addon_id)
        if a is None:
            out.append("%s is desired at %s but status does not list it" % (addon_id, version))
        elif a.get("state") != "ready" or a.get("active_version") != version:
            out.append("%s is %s at %s, desired ready at %s (%s)" % (addon_id, a.get("state"), a.get("active_version"),
                                                                     version, a.get("detail", "")))
    for addon_id, a in sorted(entries.items()):
        if addon_id not in desired and a.get("active_version") is not None:
            out.append("%s is no longer desired but is %s at %s" % (addon_id, a.get("state"), a.get("active_version")))
    running = sidecar_processes(tag)
    for addon_id, (kind, version) in sorted(desired.items()):
        if kind == "sidecar":
            pids = running.get((addon_id, version), [])
            if len(pids) != 1:
                out.append("sidecar %s %s runs %d times (pids %s), desired once" % (addon_id, version, len(pids), pids))
    for (addon_id, version), pids in sorted(running.items()):
        if desired.get(addon_id, ("", ""))[1] != version:
            out.append("sidecar %s %s is not desired but runs (pids %s)" % (addon_id, version, pids))
    if status.get("deploy", {}).get("quarantined"):
        out.append("deploy/ quarantined a kind jar: %s" % status["deploy"]["quarantined"])
    return out


def ready_in_metrics(text):
    """The add-ons whose steward_addon_state{state="ready"} is 1."""
    ready = set()
    for line in text.splitlines():
        if line.startswith("steward_addon_state{") and 'state="ready"' in line and float(line.split()[-1]) == 1:
            labels = line[line.index("{") + 1:line.rindex("}")]
            for label in labels.split(","):
                name, _, value = label.partition("=")
                if name == "addon":
                    ready.add(value.strip('"'))
    return ready


def read_desired(path):
    desired = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                addon_id, kind, version = line.split()
                desired[addon_id] = (kind, version)
    return desired


def main():
    if sys.argv[1] == "gate":
        waiting = sorted(set(read_desired(sys.argv[2])) - ready_in_metrics(sys.stdin.read()))
        if waiting:
            print("%d desired add-on(s) not ready yet by /metrics: %s" % (len(waiting), " ".join(waiting[:20])))
        return 1 if waiting else 0
    with open(sys.argv[2]) as f:
        status = json.load(f)
    found = problems(status, read_desired(sys.argv[3]), sys.argv[4])
    for p in found:
        print(p)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
