#!/bin/bash
# `ociimg run DIR[:NAME]`: unpack into a temporary bundle and run it with the
# bundled runtime.  Checks output, the command override, exit statuses (the
# container's, 128+N for a signal, forwarded SIGTERM), errors from inside the
# container, and that --rm leaves no bundle and no runtime state behind.
source "$(dirname "$0")/../lib/common.sh"
need_ociimg
[ -x "$PY" ] || skip "$PY not found"
[ -x /bin/busybox ] || skip "busybox-static not installed (apt-get install busybox-static)"
[ "$(id -u)" = 0 ] || skip "running containers needs root"

L=$T/L
"$PY" "$OCIIMG_SRCDIR/testdata/make-images.py" build --out "$L" >/dev/null 2>"$T/mk.err" ||
    die "make-images.py build failed: $(tail -3 "$T/mk.err")"
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR" "$T/state"
RUN=("$OCIIMG" run --root "$T/state")

note "output of a command given after --"
if expect_ok "${RUN[@]}" --rm "$L:test/busybox:1" -- sh -c 'echo hello from $(hostname); id -u'; then
    grep -qx 'hello from ociimg' "$T/out" || fail "unexpected output: $(cat "$T/out")"
    grep -qx '0' "$T/out" || fail "not uid 0: $(cat "$T/out")"
fi

note "the container's exit status, and 128+N for a signal"
# Not expect_exit: these statuses are the container's, with no error line,
# and it would take a status >= 128 for a crash of ociimg itself.
"${RUN[@]}" --rm "$L:test/busybox:1" -- sh -c 'exit 7' >/dev/null 2>&1 && rc=0 || rc=$?
[ "$rc" = 7 ] || fail "exit 7 in the container: exit $rc"
# A container's pid 1 ignores signals from inside its namespace, so the
# SIGKILL comes from outside, through ocirun sharing the state root.
OCIRUN=${OCIIMG_BUILDDIR:-}/cmd/ocirun/ocirun
if [ -x "$OCIRUN" ]; then
    id=rl-kill-$$
    "${RUN[@]}" --rm --name "$id" "$L:test/busybox:1" -- sh -c 'echo ready; exec sleep 30' >"$T/kill.out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q ready "$T/kill.out" 2>/dev/null && break; sleep 0.1; done
    "$OCIRUN" --root "$T/state" kill "$id" KILL || fail "ocirun kill $id failed"
    wait "$pid" && rc=0 || rc=$?
    [ "$rc" = 137 ] || fail "SIGKILLed container: exit $rc, expected 137 ($(cat "$T/kill.out"))"
else
    note "no ocirun binary at $OCIRUN: SIGKILL status not checked"
fi

note "SIGTERM to ociimg run reaches the container"
"${RUN[@]}" --rm "$L:test/busybox:1" -- sh -c 'trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.1; done' >"$T/term.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q ready "$T/term.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
[ "$rc" = 42 ] || fail "forwarded SIGTERM: exit $rc, expected 42 ($(cat "$T/term.out"))"
grep -q got-term "$T/term.out" || fail "the container did not see SIGTERM: $(cat "$T/term.out")"

note "an exec failure inside the container is reported with its cause"
if expect_exit 1 "${RUN[@]}" --rm "$L:test/busybox:1" -- /no/such/binary; then
    grep -q '/no/such/binary' "$T/err" || fail "error does not name the binary: $(cat "$T/err")"
fi

note "errors before running: unknown image, bad platform"
expect_exit 3 "${RUN[@]}" --rm "$L:no/such:image"
expect_exit 3 "${RUN[@]}" --rm --platform linux/s390x "$L:test/multi:1" -- true

note "nothing left behind by --rm; without it the bundle is kept and named"
[ -z "$(ls -A "$TMPDIR")" ] || fail "--rm left: $(ls -A "$TMPDIR")"
[ -z "$(ls -A "$T/state")" ] || fail "runtime state left: $(ls -A "$T/state")"
if expect_ok "${RUN[@]}" "$L:test/busybox:1" -- true; then
    kept=$(sed -n 's/.*bundle kept in \(.*\) (--rm.*/\1/p' "$T/err")
    [ -f "$kept/config.json" ] && [ -x "$kept/rootfs/bin/busybox" ] || fail "kept bundle missing: '$kept'"
fi

finish
