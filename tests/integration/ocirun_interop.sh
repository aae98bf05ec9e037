#!/bin/bash
# Interop: bundles made by `runc spec` (+ a busybox rootfs) and by `umoci
# unpack` run under ocirun, and the container's view - id, capabilities,
# no_new_privs, hostname, the mount table - matches what runc and crun show
# for the same bundle.  Differences that are by design are filtered out and
# listed below.
#
# crun refuses this machine's hybrid cgroup layout unless a v1 hugetlb
# hierarchy is mounted, so the whole test runs in a private mount namespace
# (unshare -m) with its own /sys/fs/cgroup: nothing is mounted on the host.
if [ -z "${OCIRUN_INTEROP_SANDBOX:-}" ]; then
    [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
        exec unshare -m env OCIRUN_INTEROP_SANDBOX=1 bash "$0" "$@"
fi
if [ "$(id -u)" = 0 ] && [ -n "${OCIRUN_INTEROP_SANDBOX:-}" ]; then
    . "$(dirname "$0")/../lib/crun.sh"
    crun_cgroup_view
fi
. "$(dirname "$0")/../../testdata/rootfs/testlib.sh"

command -v runc >/dev/null || skip "runc is not installed"
command -v crun >/dev/null || skip "crun is not installed"
command -v umoci >/dev/null || skip "umoci is not installed"
make_rootfs

VIEW='id; hostname; grep -E "^(Cap|NoNewPrivs)" /proc/self/status; ls /dev | tr "\n" " "; echo;
awk "{ for (i = 7; \$i != \"-\"; i++) ; print \$5, \$(i + 1), \$6 }" /proc/self/mountinfo | sort'

# view RUNTIME BUNDLE ID: the container's view under one runtime.
view() {
    local rt=$1 b=$2 id=$3
    case $rt in
    ocirun) "$OCIRUN" --root "$ROOT" run --bundle "$b" "$id" ;;
    runc) runc --root "$T/runc-state" run --bundle "$b" "$id" ;;
    crun) crun --root "$T/crun-state" run --bundle "$b" "$id" ;;
    esac </dev/null 2>&1
}

# What differs by design, removed before comparing:
# - crun adds /dev/core -> /proc/kcore (only where /proc/kcore exists) and
#   net_cls/net_prio symlinks in /sys/fs/cgroup; ocirun, like runc, does not.
# - crun mounts the masked-path tmpfs/devnull binds read-only and the
#   /sys/fs/cgroup tmpfs with size=1024k: option lists of those lines differ.
# - crun bind-mounts the host's /dev/null (devtmpfs) over masked files;
#   ocirun, like runc, the container's own /dev/null (tmpfs).
normalize() {
    sed -E -e 's/^core //' -e 's/ core / /' -e 's/^(\/proc\/[a-z_]+) devtmpfs /\1 tmpfs /' "$1"
}

# ---- runc spec + busybox rootfs ----
mkdir -p "$T/rs"
cp -a "$RFS" "$T/rs/rootfs" # runc refuses a symlinked rootfs
(cd "$T/rs" && runc spec)
"$PY" - "$T/rs/config.json" "$VIEW" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", sys.argv[2]]
json.dump(c, open(sys.argv[1], "w"), indent=1)
EOF
view ocirun "$T/rs" "$P-rs" >"$T/rs.ocirun"
expect_eq "ocirun runs the runc spec bundle" "$?" 0
view runc "$T/rs" "$P-rsr" >"$T/rs.runc"
view crun "$T/rs" "$P-rsc" >"$T/rs.crun"
if diff -u <(normalize "$T/rs.runc") <(normalize "$T/rs.ocirun") >"$T/rs.diff"; then
    ok "runc spec bundle: ocirun's view equals runc's (id, caps, nnp, hostname, /dev, mounts)"
else
    bad "runc spec bundle: ocirun's view differs from runc's"
    cat "$T/rs.diff"
fi
# crun: identity, capabilities, hostname and the list of mount points.
for f in ocirun crun; do
    normalize "$T/rs.$f" | head -9 >"$T/rs.$f.head"
    normalize "$T/rs.$f" | awk 'NR > 10 { print $1, $2 }' >"$T/rs.$f.mounts"
done
if diff -u "$T/rs.crun.head" "$T/rs.ocirun.head" >"$T/rs.crun.diff"; then
    ok "runc spec bundle: id, caps, nnp, hostname equal crun's"
else
    bad "runc spec bundle: id/caps/hostname differ from crun's"
    cat "$T/rs.crun.diff"
fi
if diff -u "$T/rs.crun.mounts" "$T/rs.ocirun.mounts" >"$T/rs.crunm.diff"; then
    ok "runc spec bundle: mount points and types equal crun's"
else
    bad "runc spec bundle: mount points differ from crun's"
    cat "$T/rs.crunm.diff"
fi

# ---- umoci unpack ----
umoci init --layout "$T/oci" >/dev/null 2>&1
umoci new --image "$T/oci:bb" >/dev/null 2>&1
umoci unpack --image "$T/oci:bb" "$T/u0" >/dev/null 2>&1
cp -a "$RFS/." "$T/u0/rootfs/"
umoci repack --image "$T/oci:bb" "$T/u0" >/dev/null 2>&1
umoci config --image "$T/oci:bb" --config.cmd sh --config.cmd -c --config.cmd "$VIEW" >/dev/null 2>&1
umoci unpack --image "$T/oci:bb" "$T/ub" >/dev/null 2>&1
check "umoci unpack made a bundle" test -f "$T/ub/config.json"
# umoci asks for a terminal; the comparison runs without one (runc would
# want a tty on stdin to relay), ocirun_cli.sh covers terminals.
"$PY" - "$T/ub/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
json.dump(c, open(sys.argv[1], "w"), indent=1)
EOF
view ocirun "$T/ub" "$P-ub" >"$T/ub.ocirun"
expect_eq "ocirun runs the umoci bundle" "$?" 0
view runc "$T/ub" "$P-ubr" >"$T/ub.runc"
if diff -u <(normalize "$T/ub.runc") <(normalize "$T/ub.ocirun") >"$T/ub.diff"; then
    ok "umoci bundle: ocirun's view equals runc's"
else
    bad "umoci bundle: ocirun's view differs from runc's"
    cat "$T/ub.diff"
fi
expect_match "umoci bundle: ambient caps granted (umoci sets inheritable)" \
    "$(cat "$T/ub.ocirun")" "CapAmb:[[:space:]]+0000000020000420"
# ---- ociimg unpack (the same image) ----
if [ -x "${OCIIMG:-}" ]; then
    "$OCIIMG" unpack -q --no-sync "$T/oci:bb" "$T/ob" >"$T/ob.err" 2>&1
    expect_eq "ociimg unpack made a bundle of the umoci image" "$?" 0
    view ocirun "$T/ob" "$P-ob" >"$T/ob.ocirun"
    expect_eq "ocirun runs the ociimg bundle" "$?" 0
    view runc "$T/ob" "$P-obr" >"$T/ob.runc"
    if diff -u <(normalize "$T/ob.runc") <(normalize "$T/ob.ocirun") >"$T/ob.diff"; then
        ok "ociimg bundle: ocirun's view equals runc's (id, caps, nnp, hostname, /dev, mounts)"
    else
        bad "ociimg bundle: ocirun's view differs from runc's"
        cat "$T/ob.diff"
    fi
else
    bad "OCIIMG is not set: the ociimg unpack bundle was not compared"
fi
check "runc and crun cleaned up" test -z "$(ls "$T/runc-state" "$T/crun-state" 2>/dev/null | grep -v :)"

finish
