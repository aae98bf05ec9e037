#!/bin/bash
# Bundles made by `ociimg unpack` run under real runtimes: runc, and crun (on a
# hybrid cgroup host crun refuses to start; tests/lib/crun.sh gives it a private
# /sys/fs/cgroup with a hugetlb hierarchy inside `unshare -m`, never touching
# the host's mounts).  The images are test/busybox:1 with:
#   run-id:  User "app" (a member of staff in /etc/group), Cmd ["id"]
#            -> "uid=1000(app) gid=1000(app) groups=50(staff)"
#   run-env: Entrypoint/Cmd, Env, WorkingDir, a Volume: prints what it sees
# and the default seccomp profile is checked to refuse unshare and mount.
source "$(dirname "$0")/../lib/common.sh"
need_ociimg
[ -x "$PY" ] || skip "$PY not found"
[ -x /bin/busybox ] || skip "busybox-static not installed (apt-get install busybox-static)"
[ "$(id -u)" = 0 ] || skip "running containers with runc/crun needs root"
need_cmd runc crun unshare

L=$T/L
"$PY" "$OCIIMG_SRCDIR/testdata/make-images.py" build --out "$L" >/dev/null 2>"$T/mk.err" ||
    die "make-images.py build failed: $(tail -3 "$T/mk.err")"
grep -q '"test/busybox:1"' "$L/index.json" || die "make-images.py made no test/busybox:1"
MKIMAGE=("$PY" "$TESTS_LIB/mkimage.py" --layout "$L")
mkdir -p "$T/grp/etc"
printf 'root:x:0:\napp:x:1000:\nstaff:x:50:app\n' >"$T/grp/etc/group"
"${MKIMAGE[@]}" --tag run-id --from test/busybox:1 --layer-dir "$T/grp" \
    --config '{"User": "app", "Cmd": ["id"]}' >/dev/null
"${MKIMAGE[@]}" --tag run-env --from test/busybox:1 --config '{
  "Entrypoint": ["/bin/sh", "-c"],
  "Cmd": ["echo \"$GREETING from $(pwd) home=$HOME\"; grep -c \" /data tmpfs \" /proc/mounts; hostname; grep NoNewPrivs /proc/self/status; unshare -U true || echo unshare-denied; mount -t tmpfs t /mnt || echo mount-denied"],
  "Env": ["PATH=/bin", "GREETING=hello"], "WorkingDir": "/tmp", "Volumes": {"/data": {}}}' >/dev/null

EXPECT_ID="uid=1000(app) gid=1000(app) groups=50(staff)"
EXPECT_ENV="hello from /tmp home=/root
1
ociimg
NoNewPrivs:	1
unshare-denied
mount-denied"

# crun on a hybrid cgroup host: see tests/lib/crun.sh.
. "$OCIIMG_SRCDIR/tests/lib/crun.sh"

# run_bundle RUNTIME NAME EXPECTED
run_bundle() {
    local rt=$1 name=$2 want=$3 b=$T/b-$1-$2 id
    id=ociimg-test-$$-$rt-$name
    expect_ok "$OCIIMG" unpack -q "$L:$name" "$b" || return
    local wrap=()
    [ "$rt" = crun ] && wrap=(crun_wrap)
    set +e
    "${wrap[@]}" timeout 60 "$rt" --root "$T/state-$rt" run --bundle "$b" "$id" >"$T/rt.out" 2>"$T/rt.err" </dev/null
    local rc=$?
    set -e
    "$rt" --root "$T/state-$rt" delete -f "$id" >/dev/null 2>&1 || true
    if [ "$rc" -ne 0 ]; then
        fail "$rt run $name: exit $rc: $(head -5 "$T/rt.err")"
        return
    fi
    [ "$(cat "$T/rt.out")" = "$want" ] ||
        fail "$rt run $name printed:$(sed 's/^/\n    /' "$T/rt.out")
  expected:$(sed 's/^/\n    /' <<<"$want")"
}

for rt in runc crun; do
    note "$rt: id as a non-root user with a supplementary group"
    run_bundle "$rt" run-id "$EXPECT_ID"
    note "$rt: args, env, cwd, volume, hostname, no_new_privs, seccomp"
    run_bundle "$rt" run-env "$EXPECT_ENV"
done

finish
