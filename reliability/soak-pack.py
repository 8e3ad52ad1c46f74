#!/usr/bin/env python3
"""The soak's artifacts (reliability/soak.sh): soak-pack.py REPO TAG KEY ID...

For each ID (soak-sNNN: a sidecar, soak-hNN: an ephemeral helper) at versions 1.0.0 and 2.0.0, writes
REPO/ID-VERSION.tar.gz, a deterministic gzip'd tar (addon.json and run.sh, uid 0, mtime 0), signs the statement
steward-artifact-v1\\nID\\nVERSION\\nSHA256\\n with the Ed25519 KEY through openssl (docs/artifacts.md "Artifacts, signatures
and staging": what stock tools do), and prints "ID VERSION ASSIGNMENT-ARTIFACT-JSON" per artifact. One process
for all of them: the soak packs 416 artifacts, and a JVM per artifact (steward pack) would take minutes here.

A sidecar's run.sh execs "sleep infinity" under the name "soak-sidecar TAG ID VERSION", which is how the soak
counts its copies; every 25th sidecar never notifies (ready after the grace period), the others send READY=1.
"""
import base64
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

VERSIONS = ("1.0.0", "2.0.0")


def files(addon_id, version, tag):
    if addon_id.startswith("soak-s"):
        notify = int(addon_id[-3:]) % 25 != 0
        run = "#!/bin/bash\n" + ("/usr/bin/systemd-notify --no-block --ready\n" if notify else "") \
            + "exec -a 'soak-sidecar %s %s %s' sleep infinity\n" % (tag, addon_id, version)
        manifest = {"id": addon_id, "version": version, "supervision": "sidecar", "binary": "run.sh", "notify": notify}
    else:
        run = '#!/bin/sh\necho "soak helper %s %s: $*"\n' % (addon_id, version)
        manifest = {"id": addon_id, "version": version, "supervision": "ephemeral_helper", "binary": "run.sh"}
    return [("addon.json", json.dumps(manifest).encode() + b"\n", 0o644), ("run.sh", run.encode(), 0o755)]


def archive(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uid, info.gid = len(data), mode, 0, 0, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def sign(key, statement, scratch):
    with open(scratch, "wb") as f:            # openssl -rawin reads a file, not a pipe
        f.write(statement)
    signed = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", scratch],
                            capture_output=True, check=True)
    return base64.b64encode(signed.stdout).decode()


def main():
    repo, tag, key, ids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    for addon_id in ids:
        for version in VERSIONS:
            data = archive(files(addon_id, version, tag))
            path = os.path.join(repo, "%s-%s.tar.gz" % (addon_id, version))
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o644)
            sha = hashlib.sha256(data).hexdigest()
            statement = ("steward-artifact-v1\n%s\n%s\n%s\n" % (addon_id, version, sha)).encode()
            artifact = {"url": "file://" + path, "sha256": sha, "signature": sign(key, statement, path + ".stmt"), "key": "soak"}
            print(addon_id, version, json.dumps(artifact, separators=(",", ":")))


if __name__ == "__main__":
    main()
