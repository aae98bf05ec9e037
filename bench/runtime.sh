#!/bin/bash
# Start-to-exit latency of `/bin/true` in a busybox bundle: ocirun vs crun vs
# runc, alternating the order every round, medians and peak RSS.
#
#   bash bench/runtime.sh [ROUNDS]          (default 40; needs root)
#   OCIRUN=path/to/ocirun bash bench/runtime.sh
#
# Each round runs every runtime twice: once timed by a Python driver
# (perf_counter around spawn + wait4), once under `/usr/bin/time -f %M` for the
# peak RSS (the largest resident set among the runtime and the processes it
# waited for; a child forked from Python would carry Python's RSS in its
# maxrss across exec, a child of `time` carries only time's ~1 MB, the same for
# every runtime).  The bundle is `runc spec`'s with terminal off.
#
# crun refuses this machine's hybrid cgroup layout unless a v1 hugetlb
# hierarchy is mounted: everything runs inside `unshare -m` with a private
# /sys/fs/cgroup (the host's hierarchies mounted again plus hugetlb), so the
# three runtimes see the same layout and nothing is mounted on the host.
set -euo pipefail

ROUNDS=${1:-40}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OCIRUN=${OCIRUN:-$SRC/build/cmd/ocirun/ocirun}
PY=${OCIIMG_PYTHON:-/usr/bin/python3}

if [ -z "${OCIRUN_BENCH_SANDBOX:-}" ]; then
    [ "$(id -u)" = 0 ] || {
        echo "bench/runtime.sh: needs root" >&2
        exit 1
    }
    for t in runc crun unshare; do
        command -v $t >/dev/null || {
            echo "bench/runtime.sh: $t is not installed" >&2
            exit 1
        }
    done
    [ -x "$OCIRUN" ] || {
        echo "bench/runtime.sh: no ocirun at $OCIRUN (build first or set OCIRUN)" >&2
        exit 1
    }
    exec unshare -m env OCIRUN_BENCH_SANDBOX=1 OCIRUN="$OCIRUN" bash "$0" "$ROUNDS"
fi

. "$SRC/tests/lib/crun.sh"
crun_cgroup_view

W=$(mktemp -d /tmp/ocirun-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
bash "$SRC/testdata/rootfs/make-rootfs.sh" "$W/bundle/rootfs"
(cd "$W/bundle" && runc spec)
"$PY" - "$W/bundle/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(sys.argv[1], "w"), indent=1)
EOF

echo "ocirun: $("$OCIRUN" --version | head -1)"
echo "crun:   $(crun --version | head -1)"
echo "runc:   $(runc --version | head -1)"
echo "rounds: $ROUNDS (order rotated every round), bundle: runc spec + busybox, /bin/true"

"$PY" - "$W" "$ROUNDS" "$OCIRUN" <<'EOF'
import os, statistics, subprocess, sys, time

work, rounds, ocirun = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bundle = os.path.join(work, "bundle")
runtimes = {"ocirun": ocirun, "crun": "crun", "runc": "runc"}
names = list(runtimes)
lat = {n: [] for n in names}
rss = {n: [] for n in names}
failures = {n: 0 for n in names}

def once(name, i, mode):
    root = os.path.join(work, "state-" + name)
    argv = [runtimes[name], "--root", root, "run", "--bundle", bundle, "b%s%s%d" % (name, mode, i)]
    out = os.path.join(work, "rss")
    if mode == "rss":
        argv = ["/usr/bin/time", "-f", "%M", "-o", out] + argv
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace").strip()
    p.stderr.close()
    if code != 0:
        failures[name] += 1
        if failures[name] == 1:
            print("%s failed (%d): %s" % (name, code, err), file=sys.stderr)
        return
    if mode == "rss":
        rss[name].append(int(open(out).read().split()[-1]))
    else:
        lat[name].append(dt * 1000)

for n in names:  # warm the page cache and each runtime's state root
    once(n, -1, "lat")
for n in names:
    lat[n].clear()
    rss[n].clear()
for i in range(rounds):
    k = i % len(names)
    for n in names[k:] + names[:k]:
        once(n, i, "lat")
    for n in names[k:] + names[:k]:
        once(n, i, "rss")

base = statistics.median(lat["crun"]) if lat["crun"] else None
base_rss = max(rss["crun"]) if rss["crun"] else None
print()
print("%-8s %6s %9s %9s %9s %10s %10s %8s %8s" % ("runtime", "runs", "median", "p10", "p90",
      "peak RSS", "med RSS", "lat/crun", "rss/crun"))
for n in names:
    v = sorted(lat[n])
    if not v:
        print("%-8s %6d  (all runs failed)" % (n, 0))
        continue
    med = statistics.median(v)
    p10 = v[int(len(v) * 0.1)]
    p90 = v[min(len(v) - 1, int(len(v) * 0.9))]
    print("%-8s %6d %7.2fms %7.2fms %7.2fms %8dKB %8dKB %7.2fx %7.2fx" % (
        n, len(v), med, p10, p90, max(rss[n]), statistics.median(rss[n]),
        med / base if base else 0, max(rss[n]) / base_rss if base_rss else 0))
if any(failures.values()):
    print("failures:", failures)
    sys.exit(1)
EOF
