#!/bin/bash
# Runs the libFuzzer targets for a bounded time each.
#
#   bash tests/fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...]
#
# Configures BUILD_DIR (CC=clang -DOCIIMG_FUZZ=ON) if it has no cache yet and
# builds the targets, then runs each (default: all fuzz_* targets, 60 s each)
# one after another on a fresh copy of its seeds under a work directory
# ($OCIIMG_FUZZ_WORKDIR, else a new /tmp/ociimg-fuzz.XXXXXX; the repo is never
# written).  Prints one line per target from libFuzzer's final stats and exits
# non-zero if any target crashed, leaked or timed out; the artifact stays in
# the work directory.
set -uo pipefail
exec </dev/null

if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    sed -n '2,12s/^# \{0,1\}//p' "$0"
    exit 2
fi
build=$1
secs=${2:-60}
shift $(($# < 2 ? $# : 2))

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for f in "$here"/fuzz_*.c; do
        targets+=("$(basename "$f" .c)")
    done
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
    CC=${CC:-clang} cmake -S "$src" -B "$build" -DOCIIMG_FUZZ=ON -DOCIIMG_TESTS=OFF >/dev/null || exit 1
fi
grep -q '^OCIIMG_FUZZ:BOOL=ON' "$build/CMakeCache.txt" || {
    echo "run.sh: $build is not configured with -DOCIIMG_FUZZ=ON" >&2
    exit 1
}
cmake --build "$build" -j2 --target "${targets[@]}" >"$build/fuzz-build.log" 2>&1 || {
    tail -n 30 "$build/fuzz-build.log" >&2
    echo "run.sh: build failed (log: $build/fuzz-build.log)" >&2
    exit 1
}

# Inputs larger than a real document of the kind only slow the search down.
max_len() {
    case $1 in
    fuzz_apply | fuzz_compression) echo 65536 ;;
    fuzz_ref) echo 1200 ;;
    fuzz_www_auth | fuzz_token | fuzz_authfile | fuzz_registries_conf) echo 8192 ;;
    *) echo 16384 ;;
    esac
}

work=${OCIIMG_FUZZ_WORKDIR:-$(mktemp -d /tmp/ociimg-fuzz.XXXXXX)}
mkdir -p "$work"
echo "fuzz: ${#targets[@]} targets, ${secs}s each, work dir $work"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/$t
    [ -x "$bin" ] || {
        echo "$t: not built" >&2
        failed+=("$t")
        continue
    }
    tw=$work/$t
    rm -rf "$tw"
    mkdir -p "$tw/corpus" "$tw/artifacts"
    [ -d "$here/corpus/$t" ] && cp -r "$here/corpus/$t/." "$tw/corpus/"
    args=(-max_total_time="$secs" -print_final_stats=1 -max_len="$(max_len "$t")" -timeout=25
        -rss_limit_mb=2048 -artifact_prefix="$tw/artifacts/")
    [ -f "$here/$t.dict" ] && args+=(-dict="$here/$t.dict")
    [ -f "$here/json.dict" ] && [ ! -f "$here/$t.dict" ] &&
        case $t in fuzz_manifest | fuzz_index | fuzz_config | fuzz_descriptor | fuzz_doc_detect | \
            fuzz_token | fuzz_authfile | fuzz_registries_conf | fuzz_runtime_config)
            args+=(-dict="$here/json.dict") ;;
        esac
    "$bin" "${args[@]}" "$tw/corpus" >"$tw/log" 2>&1
    rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tw/log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tw/log" | tail -n1)
    cov=$(grep -o 'cov: [0-9]*' "$tw/log" | tail -n1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$tw/log" | tail -n1 | cut -d' ' -f2)
    echo "$t: ${execs:-?} execs (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}"

    artifacts=$(find "$tw/artifacts" -type f 2>/dev/null)
    if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
        failed+=("$t")
        echo "  FAILED (exit $rc); log: $tw/log"
        for a in $artifacts; do
            echo "  artifact: $a"
        done
        grep -m1 -A14 -E '^==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer|ESCAPE' "$tw/log" | sed 's/^/  | /'
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (work dir $work)"
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets clean"
