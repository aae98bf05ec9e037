#!/bin/bash
# bench/unpack.sh — unpack bench/debian:multi-gz (../shared/bench/make-images.sh) with
#   ociimg unpack            (default: one syncfs at the end)
#   ociimg unpack --no-sync
#   umoci unpack
#   tar -xzf of the three layers, one after another (no whiteout handling)
#   tar -xzf, then sync -f   (the same durability as ociimg's default)
# alternating in one run, each into a fresh directory, and prints the median wall
# time and peak RSS of each and the ratios to the targets (ociimg <= 0.35x umoci,
# <= 1.0x tar).  Everything is synced (untimed) before each timed command, so a
# syncfs only pays for its own writes; nothing is removed until the end (on ext4,
# creating files soon after deleting many is several times slower).
#
#   bench/unpack.sh [ROUNDS]        (default 5; as root; needs /usr/bin/time, umoci, tar)
# Env: OCIIMG (default build/cmd/ociimg), OCIBENCH (default /var/tmp/ocibench),
#      WORK (default $OCIBENCH/bench-unpack.$$; must be on the filesystem to measure).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${1:-5}
OCIIMG=${OCIIMG:-$HERE/../build/cmd/ociimg}
OCIBENCH=${OCIBENCH:-/var/tmp/ocibench}
LAY=$OCIBENCH/layouts/debian
TAG=multi-gz
WORK=${WORK:-$OCIBENCH/bench-unpack.$$}

[ -x "$OCIIMG" ] || { echo "no ociimg at $OCIIMG (build it, or set OCIIMG)" >&2; exit 1; }
[ -f "$LAY/index.json" ] || { echo "no $LAY: run ../shared/bench/make-images.sh first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "no /usr/bin/time (apt-get install time)" >&2; exit 1; }
command -v umoci >/dev/null || { echo "no umoci (apt-get install umoci)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || echo "note: not root: ociimg and umoci run rootless, tar keeps no owners" >&2

# The layer blobs of the image, bottom first.
LAYERS=()
while IFS= read -r l; do LAYERS+=("$LAY/blobs/sha256/${l#sha256:}"); done < <(
    /usr/bin/python3 - "$LAY" "$TAG" <<'EOF'
import json, sys
lay, tag = sys.argv[1:3]
idx = json.load(open(lay + "/index.json"))
d = [m["digest"] for m in idx["manifests"]
     if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
man = json.load(open(lay + "/blobs/" + d.replace(":", "/")))
for l in man["layers"]:
    print(l["digest"])
EOF
)
mkdir -p "$WORK"
echo "image $LAY:$TAG: ${#LAYERS[@]} layers, $(du -cb "${LAYERS[@]}" | tail -1 | cut -f1) bytes compressed"
echo "work dir $WORK ($(df --output=source,fstype "$WORK" | tail -1)), $ROUNDS rounds, $(nproc) CPUs"
echo "ociimg: $("$OCIIMG" --version); $(umoci --version); $(tar --version | head -1)"

declare -A TIMES RSS
TOOLS=(ociimg ociimg-nosync umoci tar tar+sync)

# timed TOOL DEST: one run, appending "seconds rss_kb" to the tool's results
timed() {
    local tool=$1 dest=$2 out
    sync
    case $tool in
    ociimg) out=$(/usr/bin/time -f '%e %M' "$OCIIMG" unpack -q "$LAY:$TAG" "$dest" 2>&1 >/dev/null) ;;
    ociimg-nosync) out=$(/usr/bin/time -f '%e %M' "$OCIIMG" unpack -q --no-sync "$LAY:$TAG" "$dest" 2>&1 >/dev/null) ;;
    umoci) out=$(/usr/bin/time -f '%e %M' umoci unpack --image "$LAY:$TAG" "$dest" 2>&1 >/dev/null) ;;
    tar | tar+sync)
        mkdir "$dest"
        local s=""
        [ "$tool" = tar+sync ] && s="sync -f \"\$0\";"
        out=$(/usr/bin/time -f '%e %M' bash -c 'd=$0; for l; do tar -xzf "$l" -C "$d" || exit 1; done; '"$s" \
            "$dest" "${LAYERS[@]}" 2>&1 >/dev/null)
        ;;
    esac
    out=$(tail -1 <<<"$out")
    TIMES[$tool]+="${out% *} "
    RSS[$tool]+="${out#* } "
}

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

for r in $(seq "$ROUNDS"); do
    # rotate the order each round so no tool always runs first
    for i in $(seq 0 $((${#TOOLS[@]} - 1))); do
        tool=${TOOLS[$(((i + r) % ${#TOOLS[@]}))]}
        timed "$tool" "$WORK/$r-$tool"
    done
    echo "round $r done"
done

echo
printf '%-15s %10s %12s   %s\n' tool "median s" "peak RSS MiB" "all runs (s)"
declare -A MED
for t in "${TOOLS[@]}"; do
    MED[$t]=$(median <<<"${TIMES[$t]}")
    rss=$(median <<<"${RSS[$t]}")
    printf '%-15s %10.2f %12.1f   %s\n' "$t" "${MED[$t]}" "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "${TIMES[$t]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
echo
echo "ociimg --no-sync / umoci    = $(ratio "${MED[ociimg-nosync]}" "${MED[umoci]}")  (target <= 0.35)"
echo "ociimg --no-sync / tar      = $(ratio "${MED[ociimg-nosync]}" "${MED[tar]}")  (target <= 1.0)"
echo "ociimg / tar+sync           = $(ratio "${MED[ociimg]}" "${MED[tar+sync]}")  (both durable)"
echo "ociimg / umoci              = $(ratio "${MED[ociimg]}" "${MED[umoci]}")  (ociimg syncs, umoci does not)"

# Sanity (untimed): tar never removes anything, so it must hold at least as
# many entries as ociimg's rootfs; fewer means a layer was not extracted.
nt=$(find "$WORK/1-tar" | wc -l)
no=$(find "$WORK/1-ociimg/rootfs" | wc -l)
[ "$nt" -ge "$no" ] || { echo "error: tar extracted $nt entries, ociimg $no: tar run broken" >&2; exit 1; }

# Removal is not timed (and happens after every measurement).
rm -rf "$WORK"
