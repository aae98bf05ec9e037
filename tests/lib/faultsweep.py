#!/usr/bin/python3
"""A seeded sweep of `ociimg pull` under random faults of tests/registry/faultproxy.py (driven by
tests/integration/fault_sweep.sh).

  faultsweep.py --ociimg BIN --proxy HOST:PORT --control URL --images REF[,REF...] --workdir DIR
                [--count 200] [--seed 1] [--timeout 40]

Each pull gets one to three random fault rules (resets at random offsets or before the headers,
closes, 5xx bursts, 429 with and without Retry-After, trickles, truncations, corrupted bytes,
stalls, delays; on blob or manifest requests), a small retry budget (--retry 2, --stall-timeout 1)
and goes into a fresh layout or into one reused across the sweep (the image untagged and
gc'ed before, so its blobs are fetched again while partial downloads of earlier failures stay).
Every pull must end, within the timeout, either completed (exit 0, the name in index.json) or
with a clear error (exit 1-5, one "ociimg: pull: ..." line, last).  After every pull the layout
verifies and every file under blobs/ hashes to its name: a corrupt blob never lands.
Prints one line per pull and the tally; exit 1 if any check failed.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crashlib  # noqa: E402


def post_rules(control, rules):
    req = urllib.request.Request(control + "/rules", data=json.dumps(rules).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def random_rule(rng):
    path = rng.choice(["/blobs/sha256:"] * 3 + ["/manifests/"])
    r = {"method": "GET", "path": path, "skip": rng.choice([0, 0, 0, 1, 2])}
    kind = rng.choice(["reset", "reset-headers", "close", "5xx", "429-ra", "429", "trickle", "truncate",
                       "corrupt", "stall", "5xx-forever", "delay"])
    if kind == "reset":
        r.update(action="reset", after_bytes=rng.randrange(0, 200000), times=rng.choice([1, 2]))
    elif kind == "reset-headers":
        r.update(action="reset", before_headers=True, times=rng.choice([1, 2]))
    elif kind == "close":
        r.update(action="close", times=1)
    elif kind == "5xx":
        r.update(action="status", status=rng.choice([500, 502, 503, 504]), times=rng.choice([1, 2, 3]))
    elif kind == "429-ra":
        r.update(action="status", status=429, retry_after=1, times=rng.choice([1, 2]))
    elif kind == "429":
        r.update(action="status", status=429, times=rng.choice([1, 2]))
    elif kind == "trickle":
        r.update(action="trickle", chunk=rng.choice([4096, 16384, 65536]), delay=0.005, times=-1)
    elif kind == "truncate":
        r.update(action="truncate", after_bytes=rng.randrange(0, 200000), times=rng.choice([1, 2]))
    elif kind == "corrupt":
        off = rng.choice([rng.randrange(0, 300), -rng.randrange(1, 40), rng.randrange(0, 150000)])
        r.update(action="corrupt", offset=off, times=rng.choice([1, 1, -1]))
    elif kind == "stall":
        r.update(action="stall", seconds=3, after_bytes=rng.randrange(0, 60000),
                 then=rng.choice(["close", "reset", "continue"]), times=1)
    elif kind == "5xx-forever":
        r.update(action="status", status=503, times=-1)
    else:
        r.update(action="delay", seconds=0.2, times=rng.choice([1, -1]))
    return kind, r


def classify(msg):
    m = msg.lower()
    for key, words in (("digest", ("digest mismatch", "does not match", "digest")),
                       ("rate-limit", ("rate limit", "429")),
                       ("server-error", ("server error", " 50")),
                       ("stall", ("stall", "timed out", "timeout")),
                       ("connection", ("connection", "reset", "closed", "truncated", "empty reply",
                                       "transfer", "receive", "recv", "partial"))):
        if any(w in m for w in words):
            return key
    return "other"


def index_names(layout):
    try:
        with open(os.path.join(layout, "index.json")) as f:
            return {(m.get("annotations") or {}).get("org.opencontainers.image.ref.name")
                    for m in json.load(f).get("manifests") or []}
    except (OSError, ValueError):
        return None


def bad_blobs(layout):
    bad = 0
    root = os.path.join(layout, "blobs")
    if not os.path.isdir(root):
        return 0
    for alg in os.listdir(root):
        ad = os.path.join(root, alg)
        for name in os.listdir(ad) if os.path.isdir(ad) else []:
            p = os.path.join(ad, name)
            if alg not in crashlib.HEX or not os.path.isfile(p) or crashlib.file_digest(p, alg) != name:
                bad += 1
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ociimg", required=True)
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--timeout", type=float, default=40)
    a = ap.parse_args(argv)
    rng = random.Random("faultsweep-" + a.seed)
    images = a.images.split(",")
    reuse = os.path.join(a.workdir, "reuse")
    t = {"completed": 0, "errors": {}, "corrupt_landed": 0, "problems": 0, "max_s": 0.0, "faults": {}}
    problems = []
    start = time.monotonic()
    for i in range(1, a.count + 1):
        img = rng.choice(images)
        fresh = rng.random() < 0.35
        if fresh:
            layout = os.path.join(a.workdir, "fresh")
            shutil.rmtree(layout, ignore_errors=True)
        else:
            layout = reuse
            if "img" in (index_names(layout) or set()):
                subprocess.run([a.ociimg, "untag", layout + ":img"], capture_output=True, timeout=30)
                subprocess.run([a.ociimg, "gc", "-q", layout], capture_output=True, timeout=30)
        kinds, rules = [], []
        for _ in range(rng.choice([1, 1, 2, 3])):
            k, r = random_rule(rng)
            kinds.append(k)
            rules.append(r)
            t["faults"][k] = t["faults"].get(k, 0) + 1
        post_rules(a.control, rules)
        cmd = [a.ociimg, "pull", "--tls-verify=false", "--retry", "2", "--stall-timeout", "1",
               "--jobs", str(rng.choice([1, 2, 6]))]
        if img.endswith("multi:1") and rng.random() < 0.5:
            cmd.append("--all-platforms")
        cmd += ["%s/%s" % (a.proxy, img), layout + ":img"]
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=a.timeout)
            rc, err = p.returncode, p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            rc, err = "hang", (e.stderr or b"").decode("utf-8", "replace")
        dt = time.monotonic() - t0
        t["max_s"] = max(t["max_s"], dt)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        mine = []
        if rc == 0:
            t["completed"] += 1
            outcome = "completed"
            if "img" not in (index_names(layout) or set()):
                mine.append("completed but index.json lacks the name")
        elif isinstance(rc, int) and 1 <= rc <= 5:
            errl = [ln for ln in lines if ln.startswith("ociimg: pull: ")]
            cls = classify(errl[-1] if errl else "")
            t["errors"][cls] = t["errors"].get(cls, 0) + 1
            outcome = "error %d (%s)" % (rc, cls)
            if len(errl) != 1 or lines[-1] != errl[0]:
                mine.append("not one clear error line at the end: %r" % lines[-3:])
        else:
            outcome = "CRASH/HANG %s" % rc
            mine.append("exit %s: %r" % (rc, lines[-3:]))
        if os.path.exists(os.path.join(layout, "oci-layout")):
            v = subprocess.run([a.ociimg, "verify", "-q", layout], capture_output=True, timeout=60)
            if v.returncode != 0:
                mine.append("verify fails: %r" % v.stdout.decode("utf-8", "replace").splitlines()[:3])
        elif rc == 0 or not fresh:
            mine.append("no oci-layout")
        nb = bad_blobs(layout)
        if nb:
            t["corrupt_landed"] += nb
            mine.append("%d files under blobs/ do not hash to their name" % nb)
        print("%3d %-22s %-6s %-40s %5.2fs %s" % (i, img, "fresh" if fresh else "reuse", "+".join(kinds), dt,
                                                   outcome), flush=True)
        for m in mine:
            print("    PROBLEM: " + m, flush=True)
            problems.append("pull %d (%s, %s): %s" % (i, img, json.dumps(rules), m))
    post_rules(a.control, [])
    t["problems"] = len(problems)
    total = time.monotonic() - start
    errs = sum(t["errors"].values())
    print("tally: %d pulls in %.0f s: completed %d, clean errors %d (%s), corrupt blobs landed %d (must be 0), "
          "problems %d, max duration %.1f s" % (a.count, total, t["completed"], errs,
                                                ", ".join("%s %d" % kv for kv in sorted(t["errors"].items())),
                                                t["corrupt_landed"], t["problems"], t["max_s"]))
    print("faults injected: " + ", ".join("%s %d" % kv for kv in sorted(t["faults"].items())))
    for p in problems[:20]:
        print("PROBLEM: " + p)
    return 1 if problems or t["completed"] + errs != a.count else 0


if __name__ == "__main__":
    sys.exit(main())
