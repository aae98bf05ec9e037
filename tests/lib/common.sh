# Shared helpers for tests/integration/*.sh (source it; bash only).
#
#   OCIIMG         the ociimg binary under test (set by ctest; default build/cmd/ociimg)
#   OCIIMG_SRCDIR  the source tree;  OCIIMG_SHARED  ../shared (may be absent)
#   T              a private temp dir, removed on exit (kept if OCIIMG_KEEP_TMP=1)
#
# Exit 77 = skipped (ctest SKIP_RETURN_CODE).  Failures print "FAIL: ..." and exit 1.

set -euo pipefail

TESTS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OCIIMG_SRCDIR=${OCIIMG_SRCDIR:-$(cd "$TESTS_LIB/../.." && pwd)}
OCIIMG_SHARED=${OCIIMG_SHARED:-$OCIIMG_SRCDIR/../shared}
OCIIMG=${OCIIMG:-$OCIIMG_SRCDIR/build/cmd/ociimg}
# Debian's interpreter has python3-jsonschema; another python3 may come first on PATH.
PY=${OCIIMG_PYTHON:-/usr/bin/python3}
TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
FAILURES=0

die() {
    echo "FAIL: $TEST_NAME: $*" >&2
    exit 1
}

# .ci/run sets OCIIMG_NO_SKIP=1: there every prerequisite must be present.
skip() {
    if [ "${OCIIMG_NO_SKIP:-0}" = 1 ]; then
        die "would skip, but OCIIMG_NO_SKIP=1: $*"
    fi
    echo "SKIP: $TEST_NAME: $*" >&2
    exit 77
}

# A failure that lets the test go on and report everything; finish() exits 1.
fail() {
    echo "FAIL: $*" >&2
    FAILURES=$((FAILURES + 1))
}

note() {
    echo "--- $*"
}

finish() {
    if [ "$FAILURES" -ne 0 ]; then
        echo "FAIL: $TEST_NAME: $FAILURES failure(s)" >&2
        exit 1
    fi
    echo "PASS: $TEST_NAME"
    exit 0
}

# Waits (at most 10 s) until FILE has at least MIN bytes; 1 if it never did.
wait_size() {
    local _
    for _ in $(seq 100); do
        [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip "$c not installed (sudo bash .ci/run installs it)"
    done
}

need_shared() {
    if [ ! -d "$OCIIMG_SHARED/spec" ] || [ ! -d "$OCIIMG_SHARED/fixtures" ]; then
        skip "no ../shared beside the source tree ($OCIIMG_SHARED); only developers and CI have it"
    fi
}

need_jsonschema() {
    [ -x "$PY" ] || skip "$PY not found"
    "$PY" -c 'import jsonschema' 2>/dev/null || skip "python3-jsonschema not installed for $PY"
}

need_ociimg() {
    [ -x "$OCIIMG" ] || die "ociimg binary not found at $OCIIMG (build first, or set OCIIMG)"
}

T=$(mktemp -d "${TMPDIR:-/tmp}/ociimg-$TEST_NAME.XXXXXX")
cleanup() {
    if [ "${OCIIMG_KEEP_TMP:-0}" = 1 ]; then
        echo "kept $T" >&2
        return
    fi
    # Fixtures carry 0555 dirs; make them removable for non-root users.
    chmod -R u+rwX "$T" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

# run CMD... : runs a command, capturing stdout in $T/out, stderr in $T/err and
# the status in $RC.  Never fails by itself.
RC=0
run() {
    set +e
    "$@" >"$T/out" 2>"$T/err"
    RC=$?
    set -e
}

# show_output: the captured output, indented, for failure messages.
show_output() {
    sed -n '1,40s/^/    stdout: /p' "$T/out" >&2
    sed -n '1,40s/^/    stderr: /p' "$T/err" >&2
}

# expect_exit N CMD... : runs CMD, records a failure unless it exits N.  A
# status >= 128 is reported as a crash.  Also checks the error contract for
# ociimg: on failure, stderr's last line is "ociimg: <command>: ...".
# Returns 0 if the status matched, 1 otherwise (so callers can skip
# follow-up checks).
expect_exit() {
    local want=$1
    shift
    run "$@"
    if [ "$RC" -ge 128 ]; then
        fail "crashed (status $RC, signal $((RC - 128))): $*"
        show_output
        return 1
    fi
    if [ "$RC" -ne "$want" ]; then
        fail "exit $RC, expected $want: $*"
        show_output
        return 1
    fi
    if [ "$1" = "$OCIIMG" ] && [ "$want" -ge 2 ]; then
        check_error_line "$2" "$want" || return 1
    fi
    return 0
}

# check_error_line CMDNAME STATUS: the error contract of README.md: stderr
# holds one line "ociimg: CMDNAME: <what>: <why>".  Usage errors (2) may be
# shorter and add a hint line after it.
check_error_line() {
    local cmd=$1 status=$2 n first
    n=$(grep -c '' "$T/err" || true)
    first=$(head -n1 "$T/err")
    if [ "$n" -eq 0 ] || { [ "$status" -ne 2 ] && [ "$n" -ne 1 ]; }; then
        fail "$cmd: expected one error line on stderr, got $n"
        show_output
        return 1
    fi
    # A usage error may be just "ociimg: CMD: <what is wrong>".
    local re="^ociimg: $cmd: .+: .+"
    [ "$status" -eq 2 ] && re="^ociimg: $cmd: .+"
    if ! grep -Eq "$re" <<<"$first"; then
        fail "$cmd: error line does not match 'ociimg: $cmd: <what>: <why>': $first"
        show_output
        return 1
    fi
}

# expect_ok CMD... : expect_exit 0.
expect_ok() {
    expect_exit 0 "$@"
}

# copy_layout SRC DST : a writable copy of a fixture directory or the
# extraction of a layout tarball (.tar, .tar.gz, .tar.xz).
copy_layout() {
    local src=$1 dst=$2
    mkdir -p "$dst"
    if [ -d "$src" ]; then
        cp -R "$src/." "$dst/"
    else
        tar -xf "$src" -C "$dst" --no-same-owner
    fi
    chmod -R u+rwX "$dst"
}

# tree_state DIR : a listing (path, type, size, mtime) to detect writes.
tree_state() {
    (cd "$1" && find . -printf '%p %y %s %T@\n' | LC_ALL=C sort)
}

# sha256 of a file, bare hex.
sha256_of() {
    sha256sum "$1" | cut -d' ' -f1
}
