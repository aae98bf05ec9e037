#!/bin/bash
# The sanitizer build's leak and error gate (tests/CMakeLists.txt, OCIIMG_SANITIZE=ON).
#
#   sanitizer_logs.sh reset DIR   empty DIR before the suite (ctest fixture setup)
#   sanitizer_logs.sh check DIR   after the suite: fail if any sanitizer wrote a report
#
# Every test runs with ASAN_OPTIONS/UBSAN_OPTIONS log_path=DIR/<test>-asan|ubsan,
# so a report lands in a file even when the process that leaked was expected to
# fail anyway (a test checking `! ociimg pull bad-ref` would pass on the exit
# code alone).  The file name tells which test produced it.
set -euo pipefail

cmd=${1:?usage: sanitizer_logs.sh reset|check DIR}
dir=${2:?usage: sanitizer_logs.sh reset|check DIR}

case "$cmd" in
reset)
    rm -rf "$dir"
    mkdir -p "$dir"
    # World-writable (sticky): some tests run ociimg as nobody.
    chmod 1777 "$dir"
    ;;
check)
    [ -d "$dir" ] || { echo "no sanitizer log directory $dir (did the reset fixture run?)" >&2; exit 1; }
    mapfile -t reports < <(find "$dir" -type f | sort)
    if [ ${#reports[@]} -eq 0 ]; then
        echo "no ASan/LSan/UBSan reports"
        exit 0
    fi
    echo "${#reports[@]} sanitizer report(s) in $dir:" >&2
    for f in "${reports[@]}"; do
        echo "--- ${f##*/}" >&2
        head -n 60 "$f" >&2
    done
    exit 1
    ;;
*)
    echo "sanitizer_logs.sh: unknown command '$cmd'" >&2
    exit 2
    ;;
esac
