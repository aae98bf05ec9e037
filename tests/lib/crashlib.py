#!/usr/bin/python3
"""Helpers for the crash-consistency and fault-sweep tests (tests/integration/crash_*.sh,
pull_enospc.sh, fault_sweep.sh).  Python stdlib only; loopback registries only.

  crashlib.py push-image URL REPO:TAG SEED SIZE...   build an image with one layer per SIZE (a
        tar+gzip of SIZE seeded random bytes, so it does not compress) and push it with
        tests/registry/regclient.py; prints {"digest", "size", "blobs": {digest: size}} (config
        and layers, the blobs fetched by GET /v2/.../blobs/)
  crashlib.py check-blobs LAYOUT       every file under LAYOUT/blobs/ is a regular file named by
        a valid digest whose content hashes to that name; prints the offenders, exit 1 if any
  crashlib.py missing LAYOUT IMAGE.json    bytes a rerun must fetch: for every blob of the image
        absent from blobs/, its size minus what .ociimg/partial holds of it; prints
        {"bytes", "missing": [digests], "present": [digests], "partial": {digest: bytes}}
  crashlib.py disk-bytes LAYOUT        bytes in blobs/, .ociimg/tmp and .ociimg/partial
  crashlib.py fetched STATS.json T0    from the fault proxy's stats: blob GETs that started at
        or after T0 (epoch seconds): {"bytes", "digests": {digest: bytes}, "gets"}
  crashlib.py wait-idle URL [SECS]     wait (bounded) until the proxy's request count is stable
  crashlib.py reachable LAYOUT INDEX.json   every blob reachable from INDEX.json (a copy of the
        layout's index taken at some moment) is in LAYOUT/blobs with its size; prints the missing
  crashlib.py expect-tags LAYOUT LOG...     replays logs of finished commands ("tag NAME DIGEST",
        "untag NAME", "maybe NAME" = outcome unknown) and checks that every name a finished
        command left is in index.json with its digest; prints {"checked", "unknown", "missing"}
"""
import gzip
import hashlib
import io
import json
import os
import random
import re
import sys
import tarfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "registry"))

HEX = {"sha256": 64, "sha512": 128}
BLOB_RE = re.compile(r"/blobs/(sha256:[0-9a-f]{64})$")
SDE = 1700000000


def layer_bytes(rng, size, n):
    data = rng.randbytes(size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        d = tarfile.TarInfo("data")
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, SDE
        tf.addfile(d)
        f = tarfile.TarInfo("data/layer%d.bin" % n)
        f.size, f.mode, f.mtime = len(data), 0o644, SDE
        tf.addfile(f, io.BytesIO(data))
    tar = buf.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", compresslevel=1, mtime=0) as g:
        g.write(tar)
    return gz.getvalue(), "sha256:" + hashlib.sha256(tar).hexdigest()


def push_image(url, ref, seed, sizes):
    import regclient

    repo, tag = ref.rsplit(":", 1)
    rng = random.Random(str(seed))
    cl = regclient.Client(url)
    layers, diff_ids, blobs = [], [], {}
    for i, s in enumerate(sizes):
        data, diff = layer_bytes(rng, int(s), i)
        dg, _ = cl.push_blob(repo, data)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dg,
                       "size": len(data)})
        diff_ids.append(diff)
        blobs[dg] = len(data)
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids},
                      "history": [{"created_by": "crashlib layer %d" % i} for i in range(len(sizes))]},
                     sort_keys=True).encode()
    cdg, _ = cl.push_blob(repo, cfg)
    blobs[cdg] = len(cfg)
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdg,
                                 "size": len(cfg)},
                      "layers": layers}, sort_keys=True).encode()
    mt = "application/vnd.oci.image.manifest.v1+json"
    cl.put_manifest(repo, tag, mt, man)
    print(json.dumps({"digest": "sha256:" + hashlib.sha256(man).hexdigest(), "size": len(man),
                      "blobs": blobs, "total": sum(blobs.values())}))
    return 0


def file_digest(path, alg):
    h = hashlib.new(alg)
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def check_blobs(layout):
    bad = []
    root = os.path.join(layout, "blobs")
    if not os.path.isdir(root):
        return 0
    for alg in sorted(os.listdir(root)):
        ad = os.path.join(root, alg)
        if alg not in HEX or not os.path.isdir(ad) or os.path.islink(ad):
            bad.append("blobs/%s: not a known digest algorithm directory" % alg)
            continue
        for name in sorted(os.listdir(ad)):
            p = os.path.join(ad, name)
            if not re.fullmatch("[0-9a-f]{%d}" % HEX[alg], name):
                bad.append("blobs/%s/%s: not named by a digest (a temp file?)" % (alg, name))
            elif os.path.islink(p) or not os.path.isfile(p):
                bad.append("blobs/%s/%s: not a regular file" % (alg, name))
            elif file_digest(p, alg) != name:
                bad.append("blobs/%s/%s: content does not hash to its name (%d bytes)"
                           % (alg, name, os.path.getsize(p)))
    for b in bad:
        print(b)
    return 1 if bad else 0


def missing(layout, image_json):
    with open(image_json) as f:
        img = json.load(f)
    out = {"bytes": 0, "missing": [], "present": [], "partial": {}}
    for dg, size in sorted(img["blobs"].items()):
        alg, hx = dg.split(":", 1)
        if os.path.isfile(os.path.join(layout, "blobs", alg, hx)):
            out["present"].append(dg)
            continue
        out["missing"].append(dg)
        part = os.path.join(layout, ".ociimg", "partial", "%s-%s" % (alg, hx))
        have = os.path.getsize(part) if os.path.isfile(part) else 0
        if 0 < have <= size:
            out["partial"][dg] = have
        else:
            have = 0
        out["bytes"] += size - have
    print(json.dumps(out))
    return 0


def disk_bytes(layout):
    n = 0
    for sub in ("blobs", ".ociimg/tmp", ".ociimg/partial"):
        for dp, _, files in os.walk(os.path.join(layout, sub)):
            for f in files:
                try:
                    n += os.lstat(os.path.join(dp, f)).st_size
                except OSError:
                    pass
    print(n)
    return 0


def fetched(stats_file, t0):
    with open(stats_file) as f:
        st = json.load(f)
    out = {"bytes": 0, "digests": {}, "gets": 0}
    for e in st.get("log", []):
        m = BLOB_RE.search(e.get("path", ""))
        if e.get("method") != "GET" or not m or e.get("time", 0) < float(t0):
            continue
        out["gets"] += 1
        if e.get("status") in (200, 206):
            out["bytes"] += e.get("bytes", 0)
            out["digests"][m.group(1)] = out["digests"].get(m.group(1), 0) + e.get("bytes", 0)
    print(json.dumps(out))
    return 0


def wait_idle(control, secs=10.0):
    """The proxy logs a request when it ends; a killed client's transfers end when the proxy's
    next write fails.  Wait until the count stays put for a moment (bounded)."""
    end = time.monotonic() + float(secs)
    last, since = None, time.monotonic()
    while time.monotonic() < end:
        with urllib.request.urlopen(control + "/stats", timeout=5) as r:
            n = json.load(r)["requests"]
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= 0.3:
            return 0
        time.sleep(0.05)
    return 0


def blob_path(layout, dg):
    alg, hx = dg.split(":", 1)
    if alg not in HEX or not re.fullmatch("[0-9a-f]{%d}" % HEX[alg], hx):
        raise ValueError("bad digest %r" % dg)
    return os.path.join(layout, "blobs", alg, hx)


def reachable(layout, index_file):
    with open(index_file) as f:
        todo = [(d["digest"], d["size"], d.get("mediaType", "")) for d in json.load(f).get("manifests") or []]
    seen, bad = set(), []
    while todo and len(seen) < 100000:
        dg, size, mt = todo.pop()
        if dg in seen:
            continue
        seen.add(dg)
        p = blob_path(layout, dg)
        if not os.path.isfile(p) or os.path.getsize(p) != size:
            bad.append("%s (%s) is missing or has the wrong size" % (dg, mt))
            continue
        if mt.endswith("manifest.v1+json") or mt.endswith("manifest.v2+json") or \
                mt.endswith("index.v1+json") or mt.endswith("manifest.list.v2+json"):
            with open(p) as f:
                doc = json.load(f)
            kids = list(doc.get("manifests") or []) + list(doc.get("layers") or [])
            if doc.get("config"):
                kids.append(doc["config"])
            todo += [(k["digest"], k["size"], k.get("mediaType", "")) for k in kids]
    for b in bad:
        print(b)
    return 1 if bad else 0


def expect_tags(layout, logs):
    with open(os.path.join(layout, "index.json")) as f:
        have = {}
        for m in json.load(f).get("manifests") or []:
            name = (m.get("annotations") or {}).get("org.opencontainers.image.ref.name")
            if name:
                have[name] = m["digest"]
    out = {"checked": 0, "unknown": 0, "missing": []}
    for log in logs:
        want, unknown = {}, set()
        with open(log) as f:
            for line in f:
                w = line.split()
                if len(w) == 3 and w[0] == "tag":
                    want[w[1]] = w[2]
                    unknown.discard(w[1])
                elif len(w) == 2 and w[0] in ("untag", "maybe"):
                    want.pop(w[1], None)
                    if w[0] == "maybe":
                        unknown.add(w[1])
        out["unknown"] += len(unknown)
        for name, dg in sorted(want.items()):
            out["checked"] += 1
            if have.get(name) != dg:
                out["missing"].append("%s -> %s (index.json: %s)" % (name, dg, have.get(name)))
    print(json.dumps(out))
    return 1 if out["missing"] else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "reachable":
        return reachable(argv[2], argv[3])
    if len(argv) >= 3 and argv[1] == "expect-tags":
        return expect_tags(argv[2], argv[3:])
    if len(argv) >= 5 and argv[1] == "push-image":
        return push_image(argv[2], argv[3], argv[4], argv[5:])
    if len(argv) == 3 and argv[1] == "check-blobs":
        return check_blobs(argv[2])
    if len(argv) == 4 and argv[1] == "missing":
        return missing(argv[2], argv[3])
    if len(argv) == 3 and argv[1] == "disk-bytes":
        return disk_bytes(argv[2])
    if len(argv) == 4 and argv[1] == "fetched":
        return fetched(argv[2], argv[3])
    if len(argv) in (3, 4) and argv[1] == "wait-idle":
        return wait_idle(argv[2], *(argv[3:]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
