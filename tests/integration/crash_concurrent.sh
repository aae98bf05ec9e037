#!/bin/bash
# Concurrent writers on one layout: two tag/untag loops, a pull loop (two images trickling
# through the fault proxy) and a gc loop run at once, each a bounded number of rounds, and about
# one command in three is SIGKILLed at a random moment.  Checked:
#  - after every gc that finished, every blob reachable from index.json (read right after it
#    returned) is present: gc never removes what an entry that existed when it finished needs
#    (only gc deletes blobs, and the gc loop is the only one running gc);
#  - at the end `ociimg verify` passes, blobs/ holds only files that hash to their name, and
#    every name a finished tag or pull wrote (and no finished untag removed) is in index.json
#    with its digest; names whose last command was killed may be either way.
# The gc loop alternates `--wait 0` (refuses at once while a pull writes) and `--wait 2` (waits
# for the writers, letting them tag).  Then gc --wait against a stand-in writer holding the
# layout's pin: it refuses at once with --wait 0, runs once the writer ends within the wait, and
# refuses after the wait when the writer outlasts it.
# Prints the tally.  OCIIMG_CRASH_SEED picks the moments.  Exit 77 without docker-registry.
source "$(dirname "$0")/../lib/common.sh"
source "$OCIIMG_SRCDIR/tests/lib/registry.sh"
CL="$PY $OCIIMG_SRCDIR/tests/lib/crashlib.py"
SEED=${OCIIMG_CRASH_SEED:-1}
ROUNDS=${OCIIMG_CRASH_ROUNDS:-40}
echo "seed $SEED, $ROUNDS rounds per loop"

start conc plain --proxy || die "harness did not start"
P=$REG_PROXY_HOST
for n in a b c; do
    $CL push-image "$REG_URL" "crash/$n:1" "$SEED$n" 150000 60000 >"$T/img-$n.json" 2>"$T/push.err" ||
        die "pushing crash/$n:1 failed: $(cat "$T/push.err")"
done
L=$T/layout
"$O" pull -q --tls-verify=false "$P/crash/a:1" "$L:base" >/dev/null 2>"$T/err" || die "first pull failed: $(cat "$T/err")"
BASE=$(jget "$T/img-a.json" "d['digest']")
rules '[{"method":"GET","path":"/blobs/sha256:","action":"trickle","chunk":32768,"delay":0.01,"times":-1}]'

# go LOOP CMD... : run one command; one time in three SIGKILL it after 0 to KMAX ms.  Sets RC
# (137 when killed).  Every command is bounded by timeout(1) when not killed.
go() {
    local loop=$1
    shift
    if [ $((RANDOM % 3)) -eq 0 ]; then
        # no leak check in a process meant to be killed: a SIGKILL during LSan's exit-time
        # scan makes it report ("Unable to get registers") in the sanitizer build
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$@" >/dev/null 2>"$T/$loop.last" &
        local pid=$!
        local ms=$((RANDOM % KMAX))
        sleep "0.$(printf '%03d' "$ms")"
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        RC=$?
    else
        timeout 60 "$@" >/dev/null 2>"$T/$loop.last"
        RC=$?
    fi
    cat "$T/$loop.last" >>"$T/$loop.err"
    # gc refuses while a writer holds the layout's pin past its --wait (README: gc)
    if [ "$RC" -ne 0 ] && [ "$RC" -ne 137 ] && grep -q "another process is writing blobs" "$T/$loop.last"; then
        echo busy >>"$T/$loop.rcs"
    else
        echo "$RC" >>"$T/$loop.rcs"
    fi
}

# tag_loop NAME: tag the base image under new names, untag one of its own now and then
tag_loop() {
    local me=$1 i names=() log=$T/$1.log KMAX=8
    RANDOM=$((SEED * 7 + ${#me} + $2))
    : >"$log"
    for i in $(seq "$ROUNDS"); do
        go "$me" "$O" tag "$L:base" "$me-$i"
        case $RC in
        0) echo "tag $me-$i $BASE" >>"$log"; names+=("$me-$i") ;;
        137) echo "maybe $me-$i" >>"$log" ;;
        *) echo "failed tag $me-$i: $RC" >>"$log" ;;
        esac
        if [ ${#names[@]} -gt 0 ] && [ $((RANDOM % 3)) -eq 0 ]; then
            local k=$((RANDOM % ${#names[@]}))
            local n=${names[$k]}
            go "$me" "$O" untag "$L:$n"
            case $RC in
            0) echo "untag $n" >>"$log" ;;
            137) echo "maybe $n" >>"$log" ;;
            *) echo "failed untag $n: $RC" >>"$log" ;;
            esac
            unset "names[$k]"
            names=("${names[@]}")
        fi
    done
}

pull_loop() {
    local i img log=$T/pull.log KMAX=600
    RANDOM=$((SEED * 11))
    : >"$log"
    for i in $(seq $((ROUNDS / 2))); do
        img=$([ $((i % 2)) -eq 0 ] && echo b || echo c)
        go pull "$O" pull -q --tls-verify=false "$P/crash/$img:1" "$L:p-$i"
        case $RC in
        0) echo "tag p-$i $(jget "$T/img-$img.json" "d['digest']")" >>"$log" ;;
        137) echo "maybe p-$i" >>"$log" ;;
        *) echo "failed pull p-$i: $RC" >>"$log" ;;
        esac
        # now and then drop an image again so that gc has something to remove
        if [ $((RANDOM % 3)) -eq 0 ] && [ "$RC" -eq 0 ]; then
            go pull "$O" untag "$L:p-$i"
            case $RC in
            0) echo "untag p-$i" >>"$log" ;;
            *) echo "maybe p-$i" >>"$log" ;;
            esac
        fi
    done
}

gc_loop() {
    local i log=$T/gc.log KMAX=15
    RANDOM=$((SEED * 13))
    : >"$log"
    for i in $(seq "$ROUNDS"); do
        go gc "$O" gc -q --wait $((i % 2 * 2)) "$L"
        if [ "$RC" -eq 0 ]; then
            cp "$L/index.json" "$T/gc-index.json"
            if $CL reachable "$L" "$T/gc-index.json" >"$T/gc-reach.out"; then
                echo "gc $i ok" >>"$log"
            else
                echo "gc $i VIOLATION: $(head -3 "$T/gc-reach.out" | tr '\n' ' ')" >>"$log"
            fi
        else
            echo "gc $i rc $RC" >>"$log"
        fi
        sleep "0.$((RANDOM % 3))"
    done
}

SECONDS=0
tag_loop ta 1 &
p1=$!
tag_loop tb 2 &
p2=$!
pull_loop &
p3=$!
gc_loop &
p4=$!
wait $p1 $p2 $p3 $p4
note "loops done in ${SECONDS}s"
rules '[]'

count() { grep -c "$1" "$2" 2>/dev/null || true; }
kills=$(cat "$T"/*.rcs | grep -c '^137$')
cmds=$(cat "$T"/*.rcs | wc -l)
fails=$(cat "$T"/*.rcs | grep -Evc '^(0|137|busy)$')
busy=$(cat "$T"/*.rcs | grep -c '^busy$')
gc_ok=$(count ' ok$' "$T/gc.log")
gc_bad=$(count VIOLATION "$T/gc.log")
if [ "$fails" -ne 0 ]; then
    bad "$fails commands failed by themselves"
    grep -h failed "$T"/*.log | head -5
    sort -u "$T"/*.err | grep -v '^$' | head -5
fi
eq "gc never removed a blob that a live entry needs" "$gc_bad" 0
[ "$gc_bad" -eq 0 ] || grep VIOLATION "$T/gc.log" | head -3
"$O" verify "$L" >"$T/verify.out" 2>&1
eq "verify passes at the end" "$?" 0 || show "$T/verify.out"
$CL check-blobs "$L" >"$T/blobs.out"
eq "blobs/ holds only true blobs" "$?" 0 || show "$T/blobs.out"
$CL expect-tags "$L" "$T/ta.log" "$T/tb.log" "$T/pull.log" >"$T/tags.json"
eq "every name a finished command left is there" "$(jget "$T/tags.json" "d['missing']")" "[]"
# a last gc and pull: the layout is still usable
"$O" gc -q "$L" && "$O" pull -q --tls-verify=false "$P/crash/b:1" "$L:final" >/dev/null 2>&1 &&
    "$O" verify -q "$L" >/dev/null 2>&1
eq "gc, pull and verify afterwards" "$?" 0
# hold_pin SECS: a stand-in writer holding the layout's pin (LOCK_SH on .ociimg/writers, as a
# writing handle does) for SECS seconds; returns once it holds it, its pid in HOLDER
hold_pin() {
    rm -f "$T/pinned"
    "$PY" -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_SH)
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
' "$L/.ociimg/writers" "$T/pinned" "$1" &
    HOLDER=$!
    for _ in $(seq 100); do [ -e "$T/pinned" ] && break; sleep 0.05; done
    [ -e "$T/pinned" ] || die "the pin holder did not start"
}
ms() { echo $(($(date +%s%N) / 1000000)); }
hold_pin 3
t0=$(ms)
"$O" gc -q --wait 0 "$L" >/dev/null 2>"$T/gcw.err"
rc=$? took=$(($(ms) - t0))
[ "$rc" -ne 0 ] && grep -q "another process is writing blobs" "$T/gcw.err" && [ "$took" -lt 2000 ]
eq "gc --wait 0 refuses at once while a writer holds the pin (${took} ms)" "$?" 0 || show "$T/gcw.err"
t0=$(ms)
"$O" gc -q --wait 0.5 "$L" >/dev/null 2>"$T/gcw.err"
rc=$? took=$(($(ms) - t0))
[ "$rc" -ne 0 ] && grep -q "still writing after 0.500 s" "$T/gcw.err" && [ "$took" -ge 450 ] && [ "$took" -lt 2500 ]
eq "gc --wait 0.5 refuses after half a second (${took} ms)" "$?" 0 || show "$T/gcw.err"
wait "$HOLDER"
hold_pin 1
t0=$(ms)
"$O" gc -q --wait 10 "$L" >/dev/null 2>"$T/gcw.err"
rc=$? took=$(($(ms) - t0))
[ "$rc" -eq 0 ] && [ "$took" -ge 500 ]
eq "gc --wait 10 runs once the writer is done (${took} ms)" "$?" 0 || show "$T/gcw.err"
wait "$HOLDER"
hold_pin 1
"$O" gc -q "$L" >/dev/null 2>"$T/gcw.err"
eq "gc waits by default" "$?" 0 || show "$T/gcw.err"
wait "$HOLDER"
"$O" verify -q "$L" >/dev/null 2>&1
eq "verify after the gc --wait checks" "$?" 0

echo "tally: $cmds commands ($kills SIGKILLed, $busy gc refused while a pull wrote, $fails failed), gc finished $gc_ok times with 0 violations expected (got $gc_bad), names checked $(jget "$T/tags.json" "d['checked']"), unknown after a kill $(jget "$T/tags.json" "d['unknown']"), ${SECONDS}s"
summary
