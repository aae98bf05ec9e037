#!/bin/bash
# A seeded sweep of 200 `ociimg pull`s, each under one to three random faults of the fault proxy
# (tests/lib/faultsweep.py says which), with --retry 2 and --stall-timeout 1, into a fresh layout
# or one reused across the sweep: each ends in a completed pull or a clear error, the layout
# verifies after each, and no corrupt blob ever lands (every blob hashed after every pull).
# Prints the tally.  OCIIMG_SWEEP_SEED (default 1) and OCIIMG_SWEEP_COUNT (default 200) change
# the sweep (about 0.7 s a pull, under 3 minutes on 2 cores).
# Exit 77 without docker-registry.
source "$(dirname "$0")/../lib/common.sh"
source "$OCIIMG_SRCDIR/tests/lib/registry.sh"
CL="$PY $OCIIMG_SRCDIR/tests/lib/crashlib.py"

# The sweep's time goes into the faults (Retry-After, backoffs, stalls), not into ociimg: an
# ASan build is only ~20% slower, so it runs all 200 too.
COUNT=${OCIIMG_SWEEP_COUNT:-200}
SEED=${OCIIMG_SWEEP_SEED:-1}

start sweep plain --proxy || die "harness did not start"
"$PY" "$H" seed --state-dir "$T/s-sweep" --only test/hello,test/multi,test/docker,test/dockerlist \
    >/dev/null 2>"$T/seed.err" || {
    show "$T/seed.err"
    die "seeding failed"
}
$CL push-image "$REG_URL" crash/sweep:1 "$SEED" 180000 40000 >"$T/img.json" || die "pushing crash/sweep:1 failed"
use sweep
mkdir -p "$T/w"
"$O" pull -q --tls-verify=false "$REG_PROXY_HOST/test/hello:1" "$T/w/reuse:seed" >/dev/null 2>&1 ||
    die "seeding the reused layout failed"

SECONDS=0
"$PY" "$OCIIMG_SRCDIR/tests/lib/faultsweep.py" --ociimg "$O" --proxy "$REG_PROXY_HOST" \
    --control "$REG_PROXY_CONTROL" --workdir "$T/w" --count "$COUNT" --seed "$SEED" \
    --images test/hello:1,test/multi:1,test/docker:1,test/dockerlist:1,crash/sweep:1,crash/sweep:1 \
    >"$T/sweep.out" 2>&1
rc=$?
grep -E '^ *[0-9]+ |PROBLEM' "$T/sweep.out" | grep -E 'PROBLEM|CRASH' | head -20
grep -E '^(tally|faults)' "$T/sweep.out"
eq "the sweep of $COUNT pulls (seed $SEED) has no problem (${SECONDS}s)" "$rc" 0
[ "$rc" -eq 0 ] || tail -30 "$T/sweep.out"
summary
