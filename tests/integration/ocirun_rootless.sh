#!/bin/bash
# Rootless ocirun, as runc and crun do it: an unprivileged user (a uid with no
# passwd entry, reached with setpriv) runs a bundle from `ociimg unpack
# --rootless`: root inside a user namespace mapping only the caller (setgroups
# denied), the host's network, /sys and the default devices bind-mounted, no
# cgroup where the user may not create one - unless the config asks for a
# limit, which fails naming it.  A delegated cgroup2 directory (owned by the
# user) is used when there is one.  `ociimg run` works the same way.
source "$(dirname "$0")/../lib/common.sh"
need_ociimg
OCIRUN=${OCIRUN:-$(dirname "$OCIIMG")/ocirun/ocirun}
[ -x "$OCIRUN" ] || die "ocirun not found at $OCIRUN"
[ -x "$PY" ] || skip "$PY not found"
[ -x /bin/busybox ] || skip "busybox-static not installed (apt-get install busybox-static)"
[ "$(id -u)" = 0 ] || skip "switching to an unprivileged user needs root"
need_cmd setpriv unshare timeout
if [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ]; then
    skip "unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone=0)"
fi
if [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" = 0 ]; then
    skip "user namespaces are disabled (sysctl user.max_user_namespaces=0)"
fi

# A uid nobody else uses: no passwd entry, nothing to create or remove.
U=
for cand in $((200000 + $$ % 50000)) $((250000 + $$ % 50000)) 299999; do
    if ! getent passwd "$cand" >/dev/null && ! getent group "$cand" >/dev/null &&
        ! pgrep -u "$cand" >/dev/null; then
        U=$cand
        break
    fi
done
[ -n "$U" ] || skip "no free uid for the unprivileged user"

chmod 755 "$T"
H=$T/home # everything the user writes
mkdir -p "$H/tmp" "$H/run" "$H/data"
chmod 700 "$H/run"
chown -R "$U:$U" "$H"
AS_USER=(setpriv --reuid="$U" --regid="$U" --clear-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin
    HOME="$H" TMPDIR="$H/tmp" XDG_RUNTIME_DIR="$H/run" XDG_DATA_HOME="$H/data")
"${AS_USER[@]}" unshare -U true 2>/dev/null ||
    skip "this user cannot create a user namespace (unshare -U fails: a sysctl or LSM forbids it)"

# Copies the user may execute: the build tree may be closed to others.
install -m 0755 "$OCIIMG" "$T/ociimg"
install -m 0755 "$OCIRUN" "$T/ocirun"
L=$T/L
"$PY" "$OCIIMG_SRCDIR/testdata/make-images.py" build --out "$L" >/dev/null 2>"$T/mk.err" ||
    die "make-images.py build failed: $(tail -3 "$T/mk.err")"
chmod -R a+rX "$L"

ID=ocirl-$$
DELEGATED=
on_exit() {
    local rc=$?
    # Containers this test may have left (a failure half-way): by id only.
    for id in "$ID" "$ID-d" "$ID-g" "$ID-m" "$ID-p"; do
        for root in "$H/state" "$H/run/ocirun"; do
            [ -d "$root/$id" ] &&
                "${AS_USER[@]}" timeout 20 "$T/ocirun" --root "$root" delete --force "$id" >/dev/null 2>&1
        done
    done
    if [ -n "$DELEGATED" ] && [ -d "$DELEGATED" ]; then
        # Our helper shell moved in there has exited; children first.
        find "$DELEGATED" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
        rmdir "$DELEGATED" 2>/dev/null || echo "warning: could not remove $DELEGATED" >&2
    fi
    cleanup
    exit $rc
}
trap on_exit EXIT

# edit BUNDLE PYTHON... : edits config.json (c) as root, keeps the user's owner.
edit() {
    local b=$1
    shift
    "$PY" - "$b/config.json" "$@" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
for stmt in sys.argv[2:]:
    exec(stmt)
json.dump(c, open(p, "w"))
EOF
    chown "$U:$U" "$b/config.json"
}

note "unpack --rootless as uid $U"
B=$H/bundle
expect_ok "${AS_USER[@]}" "$T/ociimg" unpack -q --rootless "$L:test/busybox:1" "$B" ||
    die "rootless unpack failed"

note "ocirun run as uid $U: root inside, only the caller mapped"
edit "$B" 'c["process"]["args"] = ["sh", "-c", "id; cat /proc/self/uid_map /proc/self/gid_map; cat /proc/self/setgroups; readlink /proc/self/ns/net; grep -E \" /sys \" /proc/self/mounts; echo x >/dev/null && head -c 4 /dev/zero | wc -c; cat /proc/1/cmdline | tr \"\\\\0\" \" \"; echo"]'
if expect_ok "${AS_USER[@]}" timeout 60 "$T/ocirun" --root "$H/state" run --bundle "$B" "$ID"; then
    out=$(cat "$T/out")
    grep -q '^uid=0(root) gid=0(root)' <<<"$out" || fail "id inside: $out"
    [ "$(grep -Ec "^ +0 +$U +1$" <<<"$out")" = 2 ] || fail "uid_map/gid_map inside: $out"
    grep -qx deny <<<"$out" || fail "setgroups is not denied: $out"
    grep -qxF "$(readlink /proc/self/ns/net)" <<<"$out" ||
        fail "a rootless container shares the host's network namespace: $out"
    grep -Eq '^[^ ]+ /sys sysfs ro,' <<<"$out" || fail "/sys is not the host's, read-only: $out"
    grep -qx 4 <<<"$out" || fail "/dev/null or /dev/zero unusable: $out"
    grep -q '^sh -c id' <<<"$out" || fail "the container's pid 1 is not its process: $out"
fi
check_gone() { # check_gone ID ROOT: nothing of the container is left
    [ ! -e "$2/$1" ] || fail "state of $1 left in $2"
    local m
    m=$(grep -c "$B/rootfs" /proc/self/mountinfo || true)
    [ "$m" = 0 ] || fail "$m mounts of the rootfs left on the host"
}
check_gone "$ID" "$H/state"

note "create/start/kill --all/delete as uid $U, state below \$XDG_RUNTIME_DIR"
edit "$B" 'c["process"]["args"] = ["sleep", "30"]'
expect_ok "${AS_USER[@]}" timeout 60 "$T/ocirun" create --bundle "$B" "$ID-d" </dev/null
[ -d "$H/run/ocirun/$ID-d" ] || fail "no state in \$XDG_RUNTIME_DIR/ocirun"
expect_ok "${AS_USER[@]}" timeout 20 "$T/ocirun" start "$ID-d"
expect_ok "${AS_USER[@]}" timeout 20 "$T/ocirun" state "$ID-d"
grep -q '"status": *"running"' "$T/out" || fail "state after start: $(cat "$T/out")"
expect_ok "${AS_USER[@]}" timeout 20 "$T/ocirun" kill --all "$ID-d" KILL
for _ in $(seq 100); do
    "${AS_USER[@]}" "$T/ocirun" state "$ID-d" 2>/dev/null | grep -q '"stopped"' && break
    sleep 0.05
done
expect_ok "${AS_USER[@]}" timeout 20 "$T/ocirun" delete "$ID-d"
check_gone "$ID-d" "$H/run/ocirun"

note "a memory limit without a writable cgroup fails, naming it"
edit "$B" 'c["linux"]["resources"] = {"memory": {"limit": 67108864}}'
# (the user's cgroup belongs to root: the limit has nowhere to go)
expect_exit 1 "${AS_USER[@]}" timeout 60 "$T/ocirun" --root "$H/state" run --bundle "$B" "$ID-m"
grep -q 'rootless container: linux.resources.memory needs the memory controller' "$T/err" ||
    fail "no clear refusal of the memory limit: $(cat "$T/err")"
check_gone "$ID-m" "$H/state"
edit "$B" 'c["linux"].pop("resources", None)'

note "a delegated cgroup2 directory is used"
CG2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
if [ -z "$CG2" ]; then
    note "(no cgroup2 mounted: skipped)"
else
    DELEGATED=$CG2/ocirun-rootless-$$
    mkdir "$DELEGATED"
    chown -R "$U:$U" "$DELEGATED"
    edit "$B" 'c["process"]["args"] = ["sleep", "30"]'
    # The user's shell sits in the delegated directory, as systemd puts a
    # user's session in its delegated scope.
    bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$DELEGATED" \
        "${AS_USER[@]}" timeout 60 "$T/ocirun" run -d --bundle "$B" "$ID-g" </dev/null >"$T/g.out" 2>&1 ||
        fail "run -d in a delegated cgroup: $(cat "$T/g.out")"
    pid=$("${AS_USER[@]}" "$T/ocirun" state "$ID-g" 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])' || true)
    if [ -n "$pid" ] && [ "$pid" != 0 ]; then
        cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
        [ "$cg" = "${DELEGATED#"$CG2"}/$ID-g" ] || fail "container's cgroup2 path: $cg"
        [ -d "$DELEGATED/$ID-g" ] || fail "no $DELEGATED/$ID-g"
    else
        fail "no pid for the delegated container"
    fi
    expect_ok "${AS_USER[@]}" timeout 20 "$T/ocirun" delete --force "$ID-g"
    [ ! -d "$DELEGATED/$ID-g" ] || fail "delete left $DELEGATED/$ID-g"

    # A limit in the delegated subtree: the user's shell in a leaf (cgroup2
    # allows no processes where controllers are enabled for children), the
    # container beside it by an absolute cgroupsPath.
    mkdir "$DELEGATED/shell"
    chown -R "$U:$U" "$DELEGATED"
    edit "$B" 'c["linux"]["resources"] = {"pids": {"limit": 16}}' \
        "c['linux']['cgroupsPath'] = '${DELEGATED#"$CG2"}/$ID-p'"
    run bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$DELEGATED/shell" \
        "${AS_USER[@]}" timeout 60 "$T/ocirun" run -d --bundle "$B" "$ID-p" </dev/null
    if grep -qw pids "$DELEGATED/cgroup.controllers"; then
        if [ "$RC" = 0 ]; then
            [ "$(cat "$DELEGATED/$ID-p/pids.max" 2>/dev/null)" = 16 ] ||
                fail "pids.max in the delegated cgroup: $(cat "$DELEGATED/$ID-p/pids.max" 2>&1)"
            expect_ok "${AS_USER[@]}" timeout 20 "$T/ocirun" delete --force "$ID-p"
        else
            fail "a pids limit in a delegated cgroup with pids: exit $RC: $(cat "$T/err")"
        fi
    else
        note "(pids is not offered to the delegated cgroup2 directory here: the limit must fail)"
        [ "$RC" = 1 ] || fail "a pids limit the delegated cgroup cannot enforce: exit $RC"
        grep -q 'rootless container: linux.resources.pids needs the pids controller' "$T/err" ||
            fail "no clear refusal of the pids limit: $(cat "$T/err")"
    fi
    [ ! -d "$DELEGATED/$ID-p" ] || fail "$DELEGATED/$ID-p left behind"
    edit "$B" 'c["linux"].pop("resources", None)' 'c["linux"].pop("cgroupsPath", None)'
fi

note "ociimg run --store as uid $U"
if expect_ok "${AS_USER[@]}" timeout 120 "$T/ociimg" run --rm --store "$H/store" "$L:test/busybox:1" -- id; then
    grep -q '^uid=0(root) gid=0(root)' "$T/out" || fail "ociimg run --store: $(cat "$T/out")"
fi
note "ociimg run with the default store (\$XDG_DATA_HOME/ociimg)"
if expect_ok "${AS_USER[@]}" timeout 120 "$T/ociimg" run --rm "$L:test/busybox:1" -- id; then
    grep -q '^uid=0(root) gid=0(root)' "$T/out" || fail "ociimg run: $(cat "$T/out")"
fi
note "no XDG_RUNTIME_DIR (su, cron): /run/user/$U if it is the user's, else a clear error"
NOXDG=(setpriv --reuid="$U" --regid="$U" --clear-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin
    HOME="$H" TMPDIR="$H/tmp" XDG_DATA_HOME="$H/data")
# /run/user is replaced by a tmpfs in a private mount namespace: the host's is not touched.
if expect_exit 1 unshare -m --propagation private sh -c 'mount -t tmpfs -o mode=755 tmpfs /run/user &&
        exec "$@"' sh "${NOXDG[@]}" "$T/ociimg" run --rm --store "$H/store" "$L:test/busybox:1" -- id; then
    grep -q 'XDG_RUNTIME_DIR' "$T/err" || fail "no hint at XDG_RUNTIME_DIR: $(cat "$T/err")"
fi
if expect_ok unshare -m --propagation private sh -c 'mount -t tmpfs -o mode=755 tmpfs /run/user &&
        u=$1 && shift && install -d -m 0700 -o "$u" -g "$u" "/run/user/$u" &&
        "$@" && test -d "/run/user/$u/ocirun" && echo state-in-run-user' sh "$U" \
    "${NOXDG[@]}" "$T/ociimg" run --rm --store "$H/store" "$L:test/busybox:1" -- id; then
    grep -q '^uid=0(root) gid=0(root)' "$T/out" || fail "run with /run/user/$U: $(cat "$T/out")"
    grep -q state-in-run-user "$T/out" || fail "the state was not in /run/user/$U/ocirun"
fi
left=$(ls -A "$H/run/ocirun" 2>/dev/null || true)
[ -z "$left" ] || fail "containers left in \$XDG_RUNTIME_DIR/ocirun: $left"

finish
