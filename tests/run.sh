#!/bin/bash
# The project's test command:  bash tests/run.sh [BUILD_DIR [CMAKE_ARGS...]]
#
# Configures BUILD_DIR (default: build) if it has not been configured yet,
# builds everything, and runs every unit and integration test with ctest.
# Extra arguments are passed to cmake on the first configure, e.g.
#   bash tests/run.sh build-asan -DOCIIMG_SANITIZE=ON
# Environment: OCIIMG_TEST_FILTER=regex runs only matching tests (ctest -R).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
case "$build" in /*) ;; *) build=$src/$build ;; esac
jobs=${OCIIMG_JOBS:-2}

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" "$@"
elif [ $# -gt 0 ]; then
    # Already configured: apply the new options too.
    cmake -S "$src" -B "$build" "$@"
fi
cmake --build "$build" -j"$jobs"

filter=()
if [ -n "${OCIIMG_TEST_FILTER:-}" ]; then
    filter=(-R "$OCIIMG_TEST_FILTER")
fi
ctest --test-dir "$build" --output-on-failure -j"$jobs" "${filter[@]}"
