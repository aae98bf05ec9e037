# Helpers for tests/integration/ocirun_*.sh (source it; bash only).
#
#   OCIRUN   the ocirun binary (default: $OCIIMG_BUILDDIR/cmd/ocirun/ocirun)
#   T        a private temp dir, removed on exit; ROOT=$T/state is the --root
#   RFS      a busybox rootfs shared by the test's bundles (read-only use)
#
# Each check prints "ok" or "FAIL"; finish prints the closing
# "N passed, N failed" line and exits 1 on any failure.  Exit 77 = skip
# (a failure instead when OCIIMG_NO_SKIP=1, as in CI).  On exit every
# container left in ROOT is force-deleted, and the test fails if a mount or
# a cgroup directory of its containers is left on the host.
set -uo pipefail

LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=${OCIIMG_SRCDIR:-$(cd "$LIBDIR/../.." && pwd)}
OCIRUN=${OCIRUN:-${OCIIMG_BUILDDIR:-$SRCDIR/build}/cmd/ocirun/ocirun}
PY=${OCIIMG_PYTHON:-/usr/bin/python3}
TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
PASS=0
FAIL=0
# Container ids (and so cgroup names) unique to this run: tests run in parallel.
P="t$$"

skip() {
    if [ "${OCIIMG_NO_SKIP:-0}" = 1 ]; then
        echo "FAIL: $TEST_NAME: would skip, but OCIIMG_NO_SKIP=1: $*" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "SKIP: $TEST_NAME: $*" >&2
    exit 77
}

ok() {
    PASS=$((PASS + 1))
    echo "ok   $*"
}

bad() {
    FAIL=$((FAIL + 1))
    echo "FAIL $*"
}

# check DESC CMD...: passes when CMD succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else bad "$desc"; fi
}

# expect_eq DESC GOT WANT
expect_eq() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        bad "$1: got '$2', want '$3'"
    fi
}

# expect_match DESC TEXT REGEX
expect_match() {
    if grep -Eq -- "$3" <<<"$2"; then
        ok "$1"
    else
        bad "$1: '$2' does not match /$3/"
    fi
}

[ "$(id -u)" = 0 ] || skip "needs root (namespaces, mounts, cgroups)"
[ -x "$OCIRUN" ] || {
    echo "FAIL: $TEST_NAME: ocirun not found at $OCIRUN" >&2
    echo "0 passed, 1 failed"
    exit 1
}
[ -x "$PY" ] || skip "$PY not found"

T=$(mktemp -d "${TMPDIR:-/tmp}/ocirun-$TEST_NAME.XXXXXX")
chmod 755 "$T"
ROOT=$T/state
RFS=$T/rootfs
MOUNTS_BEFORE=$(wc -l </proc/self/mountinfo)

oci() {
    "$OCIRUN" --root "$ROOT" "$@"
}

# ocap ARGS...: runs ocirun with stdin, stdout and stderr on files, so a
# container that unexpectedly starts cannot hold a pipe open; sets RC and
# OUT (stdout then stderr).
RC=0
OUT=
ocap() {
    "$OCIRUN" --root "$ROOT" "$@" </dev/null >"$T/ocap.out" 2>"$T/ocap.err"
    RC=$?
    OUT=$(cat "$T/ocap.out" "$T/ocap.err")
}

# dead PID: the process is gone or a zombie.
dead() {
    ! grep -Eq '^State:[[:space:]]+[^ZX]' "/proc/$1/status" 2>/dev/null
}

leftover_cgroups() {
    find /sys/fs/cgroup -maxdepth 6 -type d -name "$P-*" 2>/dev/null
}

cleanup() {
    local id
    if [ -d "$ROOT" ]; then
        for id in $(oci list -q 2>/dev/null); do
            oci delete -f "$id" >/dev/null 2>&1
        done
    fi
    local left
    left=$(leftover_cgroups)
    if [ -n "$left" ]; then
        echo "FAIL cgroup directories left behind: $left"
        for d in $left; do rmdir "$d" 2>/dev/null; done
    fi
    if [ "${OCIIMG_KEEP_TMP:-0}" = 1 ]; then
        echo "kept $T" >&2
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT

finish() {
    local n
    n=$(wc -l </proc/self/mountinfo)
    if [ "$n" != "$MOUNTS_BEFORE" ]; then
        bad "host mount table changed: $MOUNTS_BEFORE -> $n entries"
    else
        ok "no mount left on the host"
    fi
    if [ -n "$(leftover_cgroups)" ]; then
        bad "cgroup directories left: $(leftover_cgroups | tr '\n' ' ')"
    else
        ok "no cgroup directory left on the host"
    fi
    if [ -d "$ROOT" ] && [ -n "$(ls -A "$ROOT" 2>/dev/null)" ]; then
        bad "state left in $ROOT: $(ls "$ROOT" | tr '\n' ' ')"
    fi
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit $?
}

make_rootfs() {
    local rc=0
    bash "$LIBDIR/make-rootfs.sh" "$RFS" || rc=$?
    [ "$rc" = 77 ] && skip "busybox-static is not installed (apt-get install busybox-static)"
    [ "$rc" = 0 ] || {
        echo "FAIL: make-rootfs.sh failed" >&2
        exit 1
    }
}

# bundle NAME [PYTHON...]: $T/NAME with `ocirun spec`'s config.json, root.path
# pointing at RFS, then each PYTHON statement applied to the dict `c`.
bundle() {
    local name=$1
    shift
    mkdir -p "$T/$name"
    rm -f "$T/$name/config.json"
    "$OCIRUN" spec --bundle "$T/$name" || return 1
    "$PY" - "$T/$name/config.json" "$RFS" "$@" <<'EOF'
import json, sys
path, rfs = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["root"]["path"] = rfs
for stmt in sys.argv[3:]:
    exec(stmt)
json.dump(c, open(path, "w"), indent=1)
EOF
}

# args PY-LIST: the python statement setting process.args.
args() {
    echo "c['process']['args'] = $1"
}

status_of() {
    oci state "$1" 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null ||
        echo none
}
