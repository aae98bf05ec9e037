#!/bin/bash
# Static analysis: clang-tidy (config: .clang-tidy) and cppcheck (suppressions,
# each justified: .ci/cppcheck.supp) over libimage, libregistry, libruntime
# and cmd.  Exits 1 on any finding.
#
#   bash .ci/static.sh [BUILD_DIR]      default BUILD_DIR: build-static
#
# Environment: OCIIMG_JOBS (default 2) parallel clang-tidy processes;
# OCIIMG_STATIC=tidy|cppcheck runs only one of the two.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build-static}
case "$build" in /*) ;; *) build=$src/$build ;; esac
jobs=${OCIIMG_JOBS:-2}
only=${OCIIMG_STATIC:-}

# Only compile_commands.json and the generated headers are needed, not a build.
cmake -S "$src" -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DOCIIMG_TESTS=OFF >/dev/null
# cmd/ includes a header generated at build time (absent in older trees: a
# missing one shows up below as a clang-diagnostic-error finding anyway).
cmake --build "$build" --target ociimg_build_info >/dev/null 2>&1 || true

dirs='^'"$src"'/(libimage|libregistry|libruntime|cmd)/'
mapfile -t files < <(/usr/bin/python3 - "$build/compile_commands.json" "$dirs" <<'EOF'
import json, re, sys
pat = re.compile(sys.argv[2])
for f in sorted({e["file"] for e in json.load(open(sys.argv[1]))}):
    if pat.match(f):
        print(f)
EOF
)
echo "${#files[@]} translation units"

rc=0
if [ "$only" != cppcheck ]; then
    tidy=$(command -v clang-tidy-14 || command -v clang-tidy)
    echo "--- $("$tidy" --version | grep -m1 -i version | sed 's/^ *//')"
    t0=$(date +%s)
    out=$build/clang-tidy.log
    # One file per process, so a slow file does not hold back a batch.
    printf '%s\0' "${files[@]}" |
        xargs -0 -P"$jobs" -n1 "$tidy" -p "$build" --quiet >"$out" 2>"$build/clang-tidy.stderr" || true
    n=$(grep -cE '^/.*: (warning|error): ' "$out" || true)
    echo "clang-tidy: $n finding(s) in $(($(date +%s) - t0))s"
    if [ "$n" -gt 0 ]; then
        # Headers are reported once per file that includes them.
        grep -E '^/.*: (warning|error): ' "$out" | sort -u | sed "s|^$src/||"
        echo "(details with notes: $out)"
        rc=1
    fi
fi

if [ "$only" != tidy ]; then
    echo "--- $(cppcheck --version)"
    t0=$(date +%s)
    # --project would also check the build tree's generated sources; instead
    # give cppcheck the same defines and include paths the compiler gets.
    cppcheck --enable=warning,portability,performance --error-exitcode=1 --inline-suppr \
        --suppressions-list="$src/.ci/cppcheck.supp" --std=c11 --language=c \
        --library=posix -D_GNU_SOURCE -D__GNUC__ -D_FILE_OFFSET_BITS=64 -j"$jobs" --quiet \
        --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
        -I "$src/libimage/include" -I "$src/libimage" -I "$src/libregistry/include" \
        -I "$src/libruntime/include" -I "$src/cmd" -I "$build/cmd/generated" \
        "${files[@]}" 2>"$build/cppcheck.log" || true
    n=$(grep -cE ': (error|warning|portability|performance|style): ' "$build/cppcheck.log" || true)
    echo "cppcheck: $n finding(s) in $(($(date +%s) - t0))s"
    if [ "$n" -gt 0 ]; then
        sed "s|^$src/||" "$build/cppcheck.log"
        rc=1
    fi
fi

[ "$rc" = 0 ] && echo "static analysis: clean"
exit "$rc"
