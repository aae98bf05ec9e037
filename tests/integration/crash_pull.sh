#!/bin/bash
# Crash consistency of `ociimg pull`: SIGKILL at 30 seeded random moments while a four-layer
# image trickles through the fault proxy, half of them after a random delay and half once a
# random number of bytes has reached the layout.  Kills come in chains of one to three on the
# same layout (each next pull resumes what the last one left).  After every kill: `ociimg
# verify` passes (or the layout does not exist yet), and blobs/ holds only files whose content
# hashes to their name.  After every chain: a rerun without faults completes and fetches only
# what is missing: the blob bytes the proxy sends equal the sizes of the absent blobs minus
# what their partial downloads already hold.  Prints the tally.
# OCIIMG_CRASH_SEED picks the moments (default 1).  Exit 77 without docker-registry.
source "$(dirname "$0")/../lib/common.sh"
source "$OCIIMG_SRCDIR/tests/lib/registry.sh"
CL="$PY $OCIIMG_SRCDIR/tests/lib/crashlib.py"

SEED=${OCIIMG_CRASH_SEED:-1}
KILLS=${OCIIMG_CRASH_KILLS:-30}
RANDOM=$SEED
echo "seed $SEED, $KILLS kills"

start crash plain --proxy || die "harness did not start"
"$PY" "$H" seed --state-dir "$T/s-crash" --only test/hello >/dev/null 2>"$T/seed.err" || {
    show "$T/seed.err"
    die "seeding test/hello failed"
}
P=$REG_PROXY_HOST
$CL push-image "$REG_URL" crash/multi:1 "$SEED" 1200000 800000 500000 200000 >"$T/img.json" ||
    die "pushing crash/multi:1 failed"
TOTAL=$(jget "$T/img.json" "d['total']")
REF=$P/crash/multi:1
note "crash/multi:1: 4 layers + config, $TOTAL blob bytes"

"$O" pull -q --tls-verify=false "$P/test/hello:1" "$T/template:seed" >/dev/null 2>&1 ||
    die "seeding the template layout failed"

TRICKLE='[{"method":"GET","path":"/blobs/sha256:","action":"trickle","chunk":16384,"delay":0.02,"times":-1}]'
disk_bytes() { find "$1/blobs" "$1/.ociimg/tmp" "$1/.ociimg/partial" -type f -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {print s+0}'; }

n_kill=0 n_verify=0 n_blobs=0 n_rerun=0 n_early=0 refetched=0 chains=0 max_ms=0
round=0
# A pull that keeps finishing (or failing) before its moment kills nothing: rounds are capped.
while [ "$n_kill" -lt "$KILLS" ] && [ "$round" -lt $((KILLS * 3)) ]; do
    round=$((round + 1))
    chains=$((chains + 1))
    D=$T/r$round
    # a fresh layout every third chain, else one that already holds another image
    if [ $((round % 3)) -eq 0 ]; then fresh=1; else fresh=0; cp -a "$T/template" "$D"; fi
    len=$((RANDOM % 3 + 1))
    for k in $(seq "$len"); do
        [ "$n_kill" -ge "$KILLS" ] && break
        rules "$TRICKLE"
        # Killed on purpose: a SIGKILL during LeakSanitizer's exit scan makes a false report.
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            "$O" pull -q --tls-verify=false "$REF" "$D:multi" >/dev/null 2>"$T/kill.err" &
        pid=$!
        if [ $((RANDOM % 2)) -eq 0 ]; then
            ms=$((RANDOM % 1600))
            how="after ${ms} ms"
            sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        else
            want=$((RANDOM * 32768 + RANDOM))
            want=$((want % TOTAL))
            how="at $want bytes on disk"
            for _ in $(seq 400); do
                kill -0 "$pid" 2>/dev/null || break
                [ "$(disk_bytes "$D")" -ge "$want" ] && break
                sleep 0.01
            done
        fi
        if ! kill -KILL "$pid" 2>/dev/null; then
            wait "$pid"
            rc=$?
            # finished before the moment came: not a kill; the chain goes on
            n_early=$((n_early + 1))
            [ "$rc" -eq 0 ] || bad "round $round: the pull failed by itself (exit $rc)"
            continue
        fi
        wait "$pid" 2>/dev/null
        n_kill=$((n_kill + 1))
        have=$(disk_bytes "$D")
        if [ ! -e "$D/oci-layout" ]; then
            # killed before the layout existed: only a fresh one may lack it
            if [ "$fresh" = 1 ]; then n_verify=$((n_verify + 1)); else bad "kill $n_kill: oci-layout vanished"; fi
        elif "$O" verify -q "$D" >"$T/verify.out" 2>&1; then
            n_verify=$((n_verify + 1))
        else
            bad "kill $n_kill ($how): verify fails"
            show "$T/verify.out"
        fi
        if $CL check-blobs "$D" >"$T/blobs.out"; then
            n_blobs=$((n_blobs + 1))
        else
            bad "kill $n_kill ($how): blobs/ holds a file that is not its digest"
            show "$T/blobs.out"
        fi
        echo "# kill $n_kill: round $round.$k $how, $have bytes on disk"
    done

    # the rerun, without faults: only what is missing
    rules '[]'
    $CL wait-idle "$REG_PROXY_CONTROL" 10
    $CL missing "$D" "$T/img.json" >"$T/missing.json"
    want=$(jget "$T/missing.json" "d['bytes']")
    t0=$(date +%s.%N)
    s0=$(date +%s%N)
    "$O" pull -q --tls-verify=false "$REF" "$D:multi" >/dev/null 2>"$T/rerun.err"
    rc=$?
    ms=$((($(date +%s%N) - s0) / 1000000))
    [ "$ms" -gt "$max_ms" ] && max_ms=$ms
    stats "$T/stats.json"
    $CL fetched "$T/stats.json" "$t0" >"$T/fetched.json"
    got=$(jget "$T/fetched.json" "d['bytes']")
    refetched=$((refetched + got))
    again=$("$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); f=json.load(open(sys.argv[2]))
print(" ".join(d[7:19] for d in f["digests"] if d in m["present"]))' "$T/missing.json" "$T/fetched.json")
    if [ "$rc" -eq 0 ] && "$O" verify -q "$D" >/dev/null 2>&1 && $CL check-blobs "$D" >/dev/null &&
        [ "$(jget "$D/index.json" "sorted(m['annotations']['org.opencontainers.image.ref.name'] for m in d['manifests'])")" = \
            "$(if [ "$fresh" = 1 ]; then echo '["multi"]'; else echo '["multi", "seed"]'; fi)" ]; then
        n_rerun=$((n_rerun + 1))
    else
        bad "round $round: the rerun did not complete with a valid layout (exit $rc)"
        show "$T/rerun.err"
    fi
    if [ "$got" != "$want" ] || [ -n "$again" ]; then
        bad "round $round: the rerun fetched $got blob bytes, $want were missing (refetched present blobs: ${again:-none})"
        show "$T/missing.json" "$T/fetched.json"
    fi
    if [ -n "$(find "$D/.ociimg/partial" -type f 2>/dev/null)" ]; then
        bad "round $round: partial downloads left after a completed rerun"
    fi
    echo "# round $round: rerun fetched $got of $TOTAL blob bytes (missing: $want) in ${ms} ms"
    rm -rf "$D"
done

echo "tally: kills $n_kill (in $chains chains; $n_early pulls finished first), verify ok $n_verify/$n_kill, blobs clean $n_blobs/$n_kill, reruns ok $n_rerun/$chains, bytes refetched $refetched (of $((chains * TOTAL)) pulled in full), slowest rerun ${max_ms} ms"
eq "all kills happened within $((KILLS * 3)) rounds" "$n_kill" "$KILLS"
eq "every kill left a verified layout" "$n_verify" "$n_kill"
eq "every kill left only true blobs in blobs/" "$n_blobs" "$n_kill"
eq "every rerun completed" "$n_rerun" "$chains"
summary
