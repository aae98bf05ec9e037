#!/bin/bash
# Crash consistency of `ociimg unpack`: SIGKILL at 30 seeded random moments while a three-layer
# image (~3600 files) unpacks into BUNDLE; every other kill hits `unpack --force` over a
# complete BUNDLE.  After every kill: BUNDLE either does not exist or is complete and equal
# (tests/lib/treecmp.py) to a reference unpack, never half a bundle; the leftovers beside it are
# only ociimg's dot-named temp directories; a rerun succeeds and gives the reference bundle,
# whatever the leftovers, and removes them: none is left after the last rerun.  Then: a temp
# directory a live process holds (flock) survives an unpack into the same place while unheld
# ones go, and concurrent `unpack --force`s into one place all succeed and leave nothing
# behind.  Prints the tally.  OCIIMG_CRASH_SEED picks the moments (default 1).
# As root the test runs in a private mount namespace on its own tmpfs: the kills are about
# what a process leaves, not about durability, and syncfs on a tmpfs does not wait for the
# host's other writers (nothing stays mounted: the namespace ends with the test).
if [ -z "${OCIIMG_CRASH_NS:-}" ] && [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
    OCIIMG_CRASH_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/../lib/common.sh"
need_ociimg
set +e
if [ -n "${OCIIMG_CRASH_NS:-}" ] && mkdir "$T/fs" && mount -t tmpfs -o size=1g,mode=0700 ociimg-crash "$T/fs"; then
    T0=$T
    T=$T0/fs
    trap 'umount -l "$T0/fs"; T=$T0; cleanup' EXIT
fi
[ -x "$PY" ] || skip "$PY not found"
O=$OCIIMG
SEED=${OCIIMG_CRASH_SEED:-1}
KILLS=${OCIIMG_CRASH_KILLS:-30}
RANDOM=$SEED
echo "seed $SEED, $KILLS kills"

note "a three-layer image with many small files"
"$PY" - "$T/src" "$SEED" <<'EOF'
import os, random, sys
r = random.Random(int(sys.argv[2]))
for L in range(3):
    base = os.path.join(sys.argv[1], "l%d" % L)
    for d in range(30):
        dp = os.path.join(base, "usr/share/d%02d" % d)
        os.makedirs(dp, exist_ok=True)
        for f in range(40):
            with open(os.path.join(dp, "f%03d-%d" % (f, L)), "wb") as fh:
                fh.write(r.randbytes(r.randint(0, 3000)))
    os.makedirs(os.path.join(base, "etc"), exist_ok=True)
    with open(os.path.join(base, "etc/layer%d" % L), "w") as fh:
        fh.write("layer %d\n" % L)
# layer 2 removes a directory of layer 0
os.makedirs(os.path.join(sys.argv[1], "l2", "usr/share"), exist_ok=True)
open(os.path.join(sys.argv[1], "l2", "usr/share/.wh.d07"), "w").close()
EOF
L=$T/layout
"$PY" "$OCIIMG_SRCDIR/tests/lib/mkimage.py" --layout "$L" --tag img --config '{"Cmd":["/bin/sh"]}' \
    --layer-dir "$T/src/l0" --layer-dir "$T/src/l1" --layer-dir "$T/src/l2" >/dev/null ||
    die "mkimage.py failed"
s0=$(date +%s%N)
"$O" unpack -q "$L:img" "$T/ref" || die "reference unpack failed"
REF_MS=$((($(date +%s%N) - s0) / 1000000))
note "reference unpack: ${REF_MS} ms, $(find "$T/ref" | wc -l) paths"

# same_as_ref DIR: the bundle equals the reference, as a treecmp.py spec made once (the bundle
# directory, config.json and the rootfs directory itself are made at unpack time: their mtimes
# differ)
"$PY" "$OCIIMG_SRCDIR/tests/lib/treecmp.py" --dump "$T/ref" >"$T/ref.spec" || die "treecmp --dump failed"
"$PY" - "$T/ref.spec" <<'EOF2'
import json, sys
s = json.load(open(sys.argv[1]))
for p in (".", "config.json", "rootfs"):
    s["entries"][p].pop("mtime", None)
s["exact"] = True
json.dump(s, open(sys.argv[1], "w"))
EOF2
same_as_ref() {
    "$PY" "$OCIIMG_SRCDIR/tests/lib/treecmp.py" --spec "$T/ref.spec" "$1" >"$T/cmp" 2>&1
}

FAILS=0
bad() {
    FAILS=$((FAILS + 1))
    echo "not ok - $*"
}

n_kill=0 n_absent=0 n_complete=0 n_rerun=0 n_early=0 left_max=0
W=$T/w
B=$W/bundle
mkdir -p "$W"
max=$((REF_MS + 1))
i=0
while [ "$n_kill" -lt "$KILLS" ]; do
    i=$((i + 1))
    [ "$i" -le $((KILLS * 6)) ] || die "only $n_kill kills in $((i - 1)) attempts: the unpacks end too soon"
    # every other time --force over the complete bundle the last rerun left, else a new one
    force=()
    if [ -d "$B" ]; then
        if [ $((i % 2)) -eq 0 ]; then force=(--force); else rm -rf "$B"; fi
    fi
    ms=$((RANDOM % max))
    # no leak check in a process meant to be killed: a SIGKILL during LSan's exit-time scan
    # makes it report in the sanitizer build (the reruns are checked)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        "$O" unpack -q "${force[@]}" "$L:img" "$B" >/dev/null 2>"$T/unpack.err" &
    pid=$!
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    if ! kill -KILL "$pid" 2>/dev/null; then
        wait "$pid"
        rc=$?
        n_early=$((n_early + 1))
        [ "$rc" -eq 0 ] || bad "unpack $i ${force[*]} failed by itself (exit $rc)"
        continue
    fi
    wait "$pid" 2>/dev/null
    n_kill=$((n_kill + 1))
    state=absent
    if [ -e "$B" ] || [ -L "$B" ]; then
        if same_as_ref "$B"; then
            state=complete
            n_complete=$((n_complete + 1))
        else
            state=HALF
            bad "kill $n_kill (${force[*]:-new} after $ms ms): a half bundle at the target"
            sed -n '1,10s/^/    | /p' "$T/cmp"
        fi
    else
        n_absent=$((n_absent + 1))
        [ "${#force[@]}" -eq 0 ] || bad "kill $n_kill: --force lost the existing bundle"
    fi
    # beside it: only the bundle and ociimg's dot-named temp directories
    others=$(find "$W" -mindepth 1 -maxdepth 1 ! -name bundle ! -name '.bundle.ociimg-*' | head -3)
    [ -z "$others" ] || bad "kill $n_kill: unexpected entries beside the bundle: $others"
    left=$(find "$W" -mindepth 1 -maxdepth 1 -name '.bundle.ociimg-*' | wc -l)
    [ "$left" -gt "$left_max" ] && left_max=$left
    echo "# kill $n_kill: ${force[*]:-new} after $ms ms: target $state, $left leftover temp dirs beside it"

    # the rerun: into the same place, whatever is left beside it
    rforce=()
    [ -e "$B" ] && rforce=(--force)
    if "$O" unpack -q --no-sync "${rforce[@]}" "$L:img" "$B" >/dev/null 2>"$T/rerun.err" && same_as_ref "$B"; then
        n_rerun=$((n_rerun + 1))
    else
        bad "kill $n_kill: the rerun ${rforce[*]} failed or differs from the reference"
        sed -n '1,10s/^/    | /p' "$T/rerun.err" "$T/cmp"
    fi
done
left=$(find "$W" -mindepth 1 -maxdepth 1 -name '.bundle.ociimg-*' | wc -l)

echo "tally: kills $n_kill ($n_early unpacks finished first), target absent $n_absent, complete $n_complete, half 0 expected, reruns ok $n_rerun/$n_kill, leftover temp dirs at most $left_max at once, $left at the end (0 expected)"
[ "$n_rerun" -eq "$n_kill" ] || bad "not every rerun succeeded"
[ $((n_absent + n_complete)) -eq "$n_kill" ] || bad "a kill left a half bundle"
[ "$left" -eq 0 ] || bad "$left leftover temp dirs after the reruns: $(ls -a "$W" | tr '\n' ' ')"

note "a held temp dir survives, unheld ones (and only ours) go"
# what a killed unpack leaves, one held by a live unpack (stood in for by a python flock), and
# names that are not ours for this target
for n in .bundle.ociimg-Stale1 .bundle.ociimg-old-Stale2 .bundle.ociimg-Held01 \
    .bundle.ociimg-toolong7 .other.ociimg-abcdef; do
    mkdir -p "$W/$n/rootfs/etc" && echo x >"$W/$n/rootfs/etc/f" || die "mkdir $n"
done
touch "$W/.bundle.ociimg-File01"
"$PY" -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)
' "$W/.bundle.ociimg-Held01" "$T/held" &
holder=$!
for _ in $(seq 100); do [ -e "$T/held" ] && break; sleep 0.1; done
[ -e "$T/held" ] || die "the flock holder did not start"
"$O" unpack -q --no-sync --force "$L:img" "$B" >/dev/null 2>"$T/held.err" || bad "unpack beside a held temp dir failed: $(cat "$T/held.err")"
same_as_ref "$B" || bad "unpack beside a held temp dir differs from the reference"
[ -f "$W/.bundle.ociimg-Held01/rootfs/etc/f" ] || bad "the held temp dir was removed"
for n in .bundle.ociimg-Stale1 .bundle.ociimg-old-Stale2 .bundle.ociimg-File01; do
    [ -e "$W/$n" ] && bad "the unheld leftover $n is still there"
done
for n in .bundle.ociimg-toolong7 .other.ociimg-abcdef; do
    [ -f "$W/$n/rootfs/etc/f" ] || bad "$n (not a temp dir of this target) was touched"
done
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
"$O" unpack -q --no-sync --force "$L:img" "$B" >/dev/null 2>"$T/held.err" || bad "unpack after the holder ended failed: $(cat "$T/held.err")"
[ -e "$W/.bundle.ociimg-Held01" ] && bad "the temp dir is still there once nobody holds it"
rm -rf "$W/.bundle.ociimg-toolong7" "$W/.other.ociimg-abcdef"

note "concurrent unpacks into one place never remove each other's work"
for round in 1 2 3; do
    pids=()
    for k in 1 2 3; do
        timeout 120 "$O" unpack -q --no-sync --force "$L:img" "$B" >/dev/null 2>"$T/conc-$k.err" &
        pids+=($!)
    done
    for k in 1 2 3; do
        wait "${pids[$((k - 1))]}" || bad "round $round: concurrent unpack $k failed: $(cat "$T/conc-$k.err")"
    done
    same_as_ref "$B" || bad "round $round: the bundle differs from the reference"
    others=$(find "$W" -mindepth 1 -maxdepth 1 ! -name bundle | head -3)
    [ -z "$others" ] || bad "round $round: left beside the bundle: $others"
done
# A new temp dir looks abandoned to the other unpacks until its maker locks it; one of them
# removing it between its mkdir and its chmod once failed the unpack that made it (about 1 in
# 60 unpacks, six at a time, of an image this small).
note "many short concurrent unpacks into one place all succeed"
mkdir -p "$T/src/tiny" && echo tiny >"$T/src/tiny/f"
"$PY" "$OCIIMG_SRCDIR/tests/lib/mkimage.py" --layout "$T/tiny" --tag t --layer-dir "$T/src/tiny" \
    >/dev/null || die "mkimage.py failed"
for round in $(seq 40); do
    pids=()
    for k in 1 2 3 4 5 6; do
        timeout 60 "$O" unpack -q --no-sync --force "$T/tiny:t" "$W/tiny" >/dev/null 2>"$T/tiny-$k.err" &
        pids+=($!)
    done
    for k in 1 2 3 4 5 6; do
        wait "${pids[$((k - 1))]}" || bad "tiny round $round: unpack $k failed: $(cat "$T/tiny-$k.err")"
    done
done
[ "$(cat "$W/tiny/rootfs/f" 2>/dev/null)" = tiny ] || bad "the tiny bundle is not there after the rounds"
others=$(find "$W" -mindepth 1 -maxdepth 1 ! -name bundle ! -name tiny | head -3)
[ -z "$others" ] || bad "left beside the tiny bundle: $others"
if [ "$FAILS" -ne 0 ]; then
    die "$FAILS failure(s)"
fi
echo "ok - every kill left no bundle or a complete one, every rerun succeeded"
finish
