#!/bin/bash
# bench/pull.sh — `ociimg pull` against `skopeo copy` from the local benchmark registry.
#
#   bench/pull.sh [IMAGE] [RUNS]        default: bench/debian:multi, 7 runs of each tool
#
# Needs the registry and images of ../shared/bench (registry.sh start; make-images.sh builds
# bench/busybox:1, bench/debian:multi, bench/multi:1 on 127.0.0.1:5000), skopeo and GNU time.
# The tools alternate, each run pulls into a fresh directory (all removed at the end, untimed:
# this ext4 reuses freed inodes slowly), the page cache stays warm.  Prints every run, the
# medians, the ratio ociimg/skopeo of the median wall times and the peak RSS of each.
# Target (issue 3): ociimg <= 0.5x skopeo's wall time on bench/debian:multi, lower peak memory.
# Environment: OCIIMG (the binary; default build/cmd/ociimg), REGISTRY_ADDR (127.0.0.1:5000),
# BENCH_DIR (where the layouts go; default a temp dir under /var/tmp), OCIIMG_ARGS (extra
# options for ociimg pull, e.g. "--jobs 2").
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=${1:-bench/debian:multi}
RUNS=${2:-7}
REG=${REGISTRY_ADDR:-127.0.0.1:5000}
OCIIMG=${OCIIMG:-$HERE/../build/cmd/ociimg}
SHARED=${OCIIMG_SHARED:-$HERE/../../shared}
TIME=/usr/bin/time

die() { echo "bench/pull.sh: $*" >&2; exit 1; }
[ -x "$OCIIMG" ] || die "no ociimg binary at $OCIIMG (build it, or set OCIIMG)"
command -v skopeo >/dev/null || die "skopeo is not installed"
[ -x "$TIME" ] || die "GNU time is not installed ($TIME)"
if ! curl -fsS -o /dev/null "http://$REG/v2/" 2>/dev/null; then
    [ -x "$SHARED/bench/registry.sh" ] || die "no registry on $REG and no $SHARED/bench/registry.sh"
    "$SHARED/bench/registry.sh" start >&2
fi
REPO=${IMAGE%:*} TAG=${IMAGE##*:}
curl -fsS -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' \
    "http://$REG/v2/$REPO/manifests/$TAG" ||
    die "$REG has no $IMAGE: run $SHARED/bench/make-images.sh (as root) first"

W=${BENCH_DIR:-$(mktemp -d /var/tmp/ociimg-bench.XXXXXX)}
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

# run TOOL N : one timed pull into a fresh directory; prints "SECONDS KB"
run() {
    local out=$W/$1-$2 t=$W/time-$1-$2
    case $1 in
    ociimg)
        # shellcheck disable=SC2086
        "$TIME" -f "%e %M" -o "$t" "$OCIIMG" pull -q ${OCIIMG_ARGS:-} --tls-verify=false \
            "$REG/$IMAGE" "$out:$TAG" ;;
    skopeo)
        "$TIME" -f "%e %M" -o "$t" skopeo copy -q --src-tls-verify=false \
            "docker://$REG/$IMAGE" "oci:$out:$TAG" ;;
    esac
    tail -n1 "$t"
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "# $IMAGE from $REG, $RUNS runs each, alternating; $("$OCIIMG" --version); $(skopeo --version)"
# Other work on the machine (2 cores) skews the timings: say how busy it was.
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# one untimed warm-up of each (registry caches, page cache)
run ociimg warm >/dev/null
run skopeo warm >/dev/null
: >"$W/ociimg.txt"
: >"$W/skopeo.txt"
for i in $(seq "$RUNS"); do
    for tool in ociimg skopeo; do
        r=$(run $tool "$i")
        echo "$r" >>"$W/$tool.txt"
        printf 'run %2d %-7s %6.3f s  %7d KB\n' "$i" "$tool" $r
    done
done
"$OCIIMG" verify "$W/ociimg-1" >/dev/null || die "the ociimg layout does not verify"
ot=$(cut -d' ' -f1 "$W/ociimg.txt" | median) st=$(cut -d' ' -f1 "$W/skopeo.txt" | median)
om=$(cut -d' ' -f2 "$W/ociimg.txt" | median) sm=$(cut -d' ' -f2 "$W/skopeo.txt" | median)
omax=$(cut -d' ' -f2 "$W/ociimg.txt" | sort -n | tail -1) smax=$(cut -d' ' -f2 "$W/skopeo.txt" | sort -n | tail -1)
ratio=$(awk -v a="$ot" -v b="$st" 'BEGIN {printf "%.2f", a / b}')
echo "# load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median wall: ociimg $ot s, skopeo $st s, ratio $ratio (target <= 0.50)"
echo "peak RSS:    ociimg median $om KB (max $omax), skopeo median $sm KB (max $smax)"
awk -v r="$ratio" -v a="$om" -v b="$sm" 'BEGIN {
    printf "target: wall %s, memory %s\n", (r <= 0.5) ? "met" : "NOT met", (a < b) ? "met" : "NOT met" }'
