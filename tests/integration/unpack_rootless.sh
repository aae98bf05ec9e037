#!/bin/bash
# Rootless unpack: `ociimg unpack` run as an unprivileged user (nobody, via
# setpriv) is rootless on its own: no chown, real owners in the
# user.rootlesscontainers xattr (as umoci), a config.json with a user namespace
# mapping the caller to root, no network namespace, /sys bind-mounted, no
# cgroup mount; runc and crun run that bundle as the same user.  An export made
# rootless is byte-identical to one made as root.  And as root, --uid-map and
# --gid-map chown through the maps and put them into config.json.
source "$(dirname "$0")/../lib/common.sh"
need_ociimg
[ -x "$PY" ] || skip "$PY not found"
[ -x /bin/busybox ] || skip "busybox-static not installed (apt-get install busybox-static)"
[ "$(id -u)" = 0 ] || skip "switching to an unprivileged user needs root"
need_cmd setpriv runc crun

NOBODY=65534
AS_NOBODY=(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups env HOME=/ TMPDIR="$T/tmp")
# Everything nobody touches lives in a world-readable part of $T.
chmod 755 "$T"
mkdir -m 1777 "$T/tmp"
install -m 0755 "$OCIIMG" "$T/ociimg"
L=$T/L
"$PY" "$OCIIMG_SRCDIR/testdata/make-images.py" build --out "$L" >/dev/null 2>"$T/mk.err" ||
    die "make-images.py build failed: $(tail -3 "$T/mk.err")"
chmod -R a+rX "$L"
mkdir "$T/nb" && chown $NOBODY:$NOBODY "$T/nb"

note "unpack as nobody: rootless by itself"
B=$T/nb/bundle
if expect_ok "${AS_NOBODY[@]}" "$T/ociimg" unpack -q "$L:test/busybox:1" "$B"; then
    [ "$(stat -c %u:%g "$B/rootfs/bin/busybox")" = "$NOBODY:$NOBODY" ] ||
        fail "rootless files are owned by $(stat -c %u:%g "$B/rootfs/bin/busybox")"
    "$PY" - "$B" "$NOBODY" <<'EOF' || fail "rootless bundle: owners or config.json wrong"
import json, os, sys
b, me = sys.argv[1], int(sys.argv[2])
# home/app is 1000:1000 in the image: recorded in the xattr (protobuf varints)
x = os.getxattr(b + "/rootfs/home/app", "user.rootlesscontainers")
assert x == bytes([0x08, 0xe8, 0x07, 0x10, 0xe8, 0x07]), x
# root-owned entries need no xattr
try:
    os.getxattr(b + "/rootfs/bin/busybox", "user.rootlesscontainers")
    raise AssertionError("xattr on a root-owned file")
except OSError:
    pass
c = json.load(open(b + "/config.json"))
ns = [n["type"] for n in c["linux"]["namespaces"]]
assert "user" in ns and "network" not in ns, ns
assert c["linux"]["uidMappings"] == [{"containerID": 0, "hostID": me, "size": 1}], c["linux"]
assert c["linux"]["gidMappings"] == [{"containerID": 0, "hostID": me, "size": 1}], c["linux"]
m = {x["destination"]: x for x in c["mounts"]}
assert m["/sys"]["type"] == "none" and "rbind" in m["/sys"]["options"], m["/sys"]
assert "/sys/fs/cgroup" not in m, m
assert not any(o.startswith(("gid=", "uid=")) for x in c["mounts"] for o in x.get("options", [])), m
assert "resources" not in c["linux"], c["linux"]
EOF
fi

. "$OCIIMG_SRCDIR/tests/lib/crun.sh"
note "a rootless run prints root inside, the caller outside"
python_edit() { # python_edit CONFIG ARGS-JSON
    "$PY" -c 'import json, sys
c = json.load(open(sys.argv[1])); c["process"]["args"] = json.loads(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"))' "$1" "$2"
}
if [ -f "$B/config.json" ]; then
    python_edit "$B/config.json" '["sh", "-c", "id; cat /proc/self/uid_map"]'
    for rt in runc crun; do
        set +e
        wrap=()
        [ "$rt" = crun ] && wrap=(crun_wrap)
        "${wrap[@]}" "${AS_NOBODY[@]}" XDG_RUNTIME_DIR="$T/nb/state-$rt" timeout 60 \
            "$rt" --root "$T/nb/state-$rt" run --bundle "$B" "ociimg-rl2-$$-$rt" >"$T/rt.out" 2>"$T/rt.err" </dev/null
        rc=$?
        set -e
        if [ "$rc" != 0 ]; then
            fail "$rt rootless run: exit $rc: $(head -3 "$T/rt.err")"
            continue
        fi
        grep -q '^uid=0(root) gid=0(root)' "$T/rt.out" || fail "$rt: $(cat "$T/rt.out")"
        grep -Eq "^ +0 +$NOBODY +1$" "$T/rt.out" || fail "$rt: uid_map: $(cat "$T/rt.out")"
    done
fi

note "export as nobody = export as root"
if expect_ok "${AS_NOBODY[@]}" "$T/ociimg" export "$L:test/hello:1" "$T/nb/rl.tar"; then
    expect_ok "$OCIIMG" export "$L:test/hello:1" "$T/root.tar" &&
        { cmp -s "$T/nb/rl.tar" "$T/root.tar" || fail "rootless export differs from the rootful one"; }
fi

note "as root with --uid-map/--gid-map: chowned through the maps, maps in config.json"
M=$T/mapped
if expect_ok "$OCIIMG" unpack -q --uid-map 0:100000:65536 --gid-map 0:200000:65536 "$L:test/busybox:1" "$M"; then
    [ "$(stat -c %u:%g "$M/rootfs/bin/busybox")" = 100000:200000 ] ||
        fail "mapped owner of /bin/busybox: $(stat -c %u:%g "$M/rootfs/bin/busybox")"
    [ "$(stat -c %u:%g "$M/rootfs/home/app")" = 101000:201000 ] ||
        fail "mapped owner of /home/app: $(stat -c %u:%g "$M/rootfs/home/app")"
    "$PY" - "$M/config.json" <<'EOF' || fail "mapped config.json"
import json, sys
c = json.load(open(sys.argv[1]))
ns = [n["type"] for n in c["linux"]["namespaces"]]
assert "user" in ns and "network" in ns, ns
assert c["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]
assert c["linux"]["gidMappings"] == [{"containerID": 0, "hostID": 200000, "size": 65536}]
EOF
    python_edit "$M/config.json" '["sh", "-c", "id; stat -c %u:%g /home/app"]'
    set +e
    timeout 60 runc --root "$T/state-mapped" run --bundle "$M" "ociimg-map-$$" >"$T/rt.out" 2>"$T/rt.err" </dev/null
    rc=$?
    set -e
    if [ "$rc" = 0 ]; then
        [ "$(cat "$T/rt.out")" = "uid=0(root) gid=0(root)
1000:1000" ] || fail "runc in the mapped bundle printed: $(cat "$T/rt.out")"
    else
        fail "runc run of the mapped bundle: exit $rc: $(head -3 "$T/rt.err")"
    fi
fi

finish
