#!/bin/bash
# bench/run.sh — the benchmark table (bench/README.md): ociimg against the tools users would
# otherwise use, each group measured alternating in one run, medians, ratios and peak RSS.
#
#   bench/run.sh [ROUNDS]        (default 5; as root on Debian 12; 4-5 minutes at 12 rounds)
#
# Starts the local benchmark registry and builds the reference images with ../shared/bench
# (registry.sh, make-images.sh: bench/busybox:1, bench/debian:multi, bench/debian:multi-gz) when
# they are missing, then runs bench/table.py inside a private mount namespace whose
# /sys/fs/cgroup has a v1 hugetlb hierarchy (crun refuses this host's hybrid layout without one;
# nothing is mounted on the host).
# Env: OCIIMG, OCIRUN (binaries; default build/cmd/...), OCIIMG_SHARED (default ../shared),
#      REGISTRY_ADDR (127.0.0.1:5000), OCIBENCH (/var/tmp/ocibench), BENCH_ONLY (comma list of
#      groups: pull,unpack,stream,cold,warm), BENCH_NO_SETTLE (see below),
#      BENCH_VERBOSE=1 (every timed run on stderr), BENCH_REGISTRY_NICE (the registry's autogroup
#      nice during the run, default 19: a stand-in for a remote server; see bench/README.md).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${1:-5}
export OCIIMG=${OCIIMG:-$SRC/build/cmd/ociimg}
export OCIRUN=${OCIRUN:-$SRC/build/cmd/ocirun/ocirun}
export OCIBENCH=${OCIBENCH:-/var/tmp/ocibench}
export REGISTRY_ADDR=${REGISTRY_ADDR:-127.0.0.1:5000}
SHARED=${OCIIMG_SHARED:-$SRC/../shared}
PY=/usr/bin/python3

die() {
    echo "bench/run.sh: $*" >&2
    exit 1
}

if [ -z "${OCIIMG_BENCH_SANDBOX:-}" ]; then
    [ "$(id -u)" = 0 ] || die "needs root (crun, runc-style runs, umoci as root)"
    for t in skopeo umoci crun tar unshare curl; do
        command -v $t >/dev/null || die "$t is not installed (bash .ci/run --deps-only)"
    done
    [ -x /usr/bin/time ] || die "GNU time is not installed (/usr/bin/time)"
    [ -x "$OCIIMG" ] && [ -x "$OCIRUN" ] || die "no ociimg/ocirun at $OCIIMG / $OCIRUN (build, or set OCIIMG, OCIRUN)"
    if ! curl -fsS -o /dev/null "http://$REGISTRY_ADDR/v2/"; then
        [ -x "$SHARED/bench/registry.sh" ] || die "no registry on $REGISTRY_ADDR and no $SHARED/bench/registry.sh"
        "$SHARED/bench/registry.sh" start
    fi
    have() {
        curl -fsS -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
            "http://$REGISTRY_ADDR/v2/bench/$1/manifests/$2"
    }
    if ! have busybox 1 || ! have debian multi || ! have debian multi-gz ||
        [ ! -f "$OCIBENCH/layouts/debian/index.json" ]; then
        [ -x "$SHARED/bench/make-images.sh" ] || die "no benchmark images and no $SHARED/bench/make-images.sh"
        "$SHARED/bench/make-images.sh"
    fi
    exec unshare -m env OCIIMG_BENCH_SANDBOX=1 bash "$0" "$ROUNDS"
fi

# Inside the private mount namespace: the host's cgroup hierarchies again, plus hugetlb
# (and net_cls, perf_event).
. "$SRC/tests/lib/crun.sh"
crun_cgroup_view net_cls perf_event

# Fresh directories on the filesystem under test, removed only at the end.  This ext4 has
# no journal, and then ext4 avoids reusing an inode freed less than 5 minutes ago: creating
# files right after a mass deletion (the last run's cleanup) scans past them and unpacks
# run several times slower.  So a run that follows the last one's cleanup too closely
# waits out the rest of those 5 minutes first (BENCH_NO_SETTLE=1 skips the wait).
SETTLE=300
STAMP=$OCIBENCH/.last-cleanup
if [ -z "${BENCH_NO_SETTLE:-}" ] && [ -f "$STAMP" ]; then
    ago=$(($(date +%s) - $(cat "$STAMP" 2>/dev/null || echo 0)))
    if [ "$ago" -ge 0 ] && [ "$ago" -lt "$SETTLE" ]; then
        echo "bench/run.sh: the last run's cleanup ended ${ago} s ago; waiting $((SETTLE - ago)) s" \
            "for the filesystem to settle (BENCH_NO_SETTLE=1 skips this)" >&2
        sleep $((SETTLE - ago))
    fi
fi
W=$(mktemp -d "$OCIBENCH/bench-run.XXXXXX")
trap 'rm -rf "$W"; sync; date +%s >"$STAMP"' EXIT
"$PY" "$SRC/bench/table.py" --work "$W" --rounds "$ROUNDS" --only "${BENCH_ONLY:-}" \
    ${BENCH_VERBOSE:+--verbose}
