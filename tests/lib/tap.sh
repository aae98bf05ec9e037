# TAP-style counters for tests that report every check and end with "N passed, M failed"
# (tests/lib/registry.sh, tests/integration/registry_harness.sh).  Needs $PY (common.sh).
PASS=0 FAILED=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
bad() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION CMD... : pass when CMD succeeds
    local d=$1
    shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
eq() { # eq DESCRIPTION GOT WANT
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi
}
jget() { # jget FILE PYEXPR(d) : evaluate a Python expression over the JSON in FILE
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(r if not isinstance(r,(dict,list)) else json.dumps(r))' "$1" "$2"
}
