# Helpers for the registry client's integration tests (tests/integration/pull*.sh): source
# after common.sh.  They start tests/registry/harness.py registries (each in $T/s-NAME, all
# stopped on exit, also when the test is killed: the harness watches this shell's pid), give
# TAP-style ok/bad counters, and small JSON helpers.  A test ends with `summary`, which prints
# "N passed, M failed" and exits accordingly.
#
#   start NAME VARIANT [harness start options...]   then REG_* variables describe it
#   use NAME                                        load REG_* of a started harness again
#   rules JSON / reset_stats / stats FILE           the fault proxy of the current harness
#   img EXPR                                        python expression over images.json (d)
set +e
set -u

REGDIR=$OCIIMG_SRCDIR/tests/registry
H=$REGDIR/harness.py
[ -x /usr/bin/docker-registry ] || skip "docker-registry not installed (apt-get install docker-registry)"
need_cmd curl openssl timeout
[ -x "$PY" ] || skip "$PY not found"
need_ociimg
O=$OCIIMG

# common.sh's run() turns errexit back on; these tests count failures instead.
run() {
    "$@" >"$T/out" 2>"$T/err"
    RC=$?
}

. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"
img() { jget "$REG_IMAGES" "$1"; }
show() { # show FILE... : indented, for failures
    local f
    for f in "$@"; do sed -n '1,30s/^/    | /p' "$f"; done
}

WATCHDOG_SECS=${OCIIMG_PULL_WATCHDOG:-540}
. "$(dirname "${BASH_SOURCE[0]}")/registry_lifetime.sh"

use() {
    unset "${!REG_@}"
    eval "$("$PY" "$H" env --state-dir "$T/s-$1")"
}

start() {
    local name=$1 variant=$2
    shift 2
    unset "${!REG_@}"
    if "$PY" "$H" start --variant "$variant" --state-dir "$T/s-$name" --max-lifetime 600 \
        --parent-pid $$ "$@" >"$T/s-$name.json" 2>"$T/s-$name.err"; then
        use "$name"
        return 0
    fi
    sed 's/^/    /' "$T/s-$name.err" >&2
    return 1
}

stop() { "$PY" "$H" stop --state-dir "$T/s-$1" >/dev/null; }

rules() { curl -s -o /dev/null -X POST -d "$1" "$REG_PROXY_CONTROL/rules"; }
reset_stats() { curl -s -o /dev/null -X POST "$REG_PROXY_CONTROL/reset"; }
stats() { curl -s "$REG_PROXY_CONTROL/stats" >"$1"; }

# A layout that already holds an image, so `verify` has something to check after a pull that
# failed.
seeded_layout() { # seeded_layout DIR
    rm -rf "$1"
    "$O" pull -q --tls-verify=false "$REG_HOST/test/hello:1" "$1:seed" >/dev/null 2>&1
}

verify_ok() { "$O" verify "$1" >/dev/null 2>&1; }

# no_secrets FILE... : none of the test credentials appears in the files
no_secrets() {
    local f
    for f in "$@"; do
        grep -q -e "testpass" -e "${REG_IDENTITY_TOKEN:-no-identity-token}" "$f" && return 1
    done
    return 0
}

summary() {
    # expect_exit's failures (common.sh's fail()) count too.
    FAILED=$((FAILED + FAILURES))
    sleep 0.2
    local left
    left=$(ps -eo pid=,args= | grep -F "$T/s-" | grep -v grep | grep -v "ps -eo" || true)
    stop_all
    left=$(ps -eo pid=,args= | grep -F "$T/s-" | grep -v grep | grep -v "ps -eo" || true)
    if [ -n "$left" ]; then bad "processes left behind"; else ok "nothing left running"; fi
    echo "$PASS passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}
