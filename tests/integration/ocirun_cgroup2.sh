#!/bin/bash
# ocirun on a pure cgroup v2 layout, whatever the host has: inside a private
# mount namespace (`unshare -m`, the host's mounts are never touched) the
# cgroup mounts are replaced by one cgroup2 at /sys/fs/cgroup.  ocirun must
# see v2 mode, create the container's cgroup there, enforce
# linux.resources.devices with its eBPF program, enforce pids.max when the
# pids controller is in cgroup2 (on a hybrid host it is bound to v1: that
# check is skipped with a message), refuse a limit whose controller cgroup2
# lacks, and leave no cgroup directory after delete.
set -uo pipefail

if [ "${1:-}" != --inner ]; then
    # The outer half: start the inner one in a private mount namespace and
    # clean up whatever it could not.
    say_skip() {
        if [ "${OCIIMG_NO_SKIP:-0}" = 1 ]; then
            echo "FAIL: ocirun_cgroup2: would skip, but OCIIMG_NO_SKIP=1: $*" >&2
            exit 1
        fi
        echo "SKIP: ocirun_cgroup2: $*" >&2
        exit 77
    }
    [ "$(id -u)" = 0 ] || say_skip "needs root (mount namespaces, cgroups)"
    command -v unshare >/dev/null || say_skip "unshare not installed (util-linux)"
    grep -qw cgroup2 /proc/filesystems || say_skip "the kernel has no cgroup2"
    # The same hierarchy, as the host sees it: where leftovers would be.
    HOST_CG2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
    inner=
    on_exit() {
        if [ -n "$inner" ] && kill -0 "$inner" 2>/dev/null; then
            kill -KILL "$inner" 2>/dev/null
            wait "$inner" 2>/dev/null
        fi
        if [ -n "$HOST_CG2" ] && [ -n "$inner" ]; then
            for d in "$HOST_CG2"/t"$inner"-*; do
                [ -d "$d" ] || continue
                echo "FAIL: cgroup directory left behind: $d" >&2
                [ -e "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill" 2>/dev/null
                sleep 0.2
                rmdir "$d" 2>/dev/null
            done
        fi
    }
    trap on_exit EXIT
    unshare -m --propagation private bash "$0" --inner &
    inner=$!
    wait "$inner"
    rc=$?
    on_exit
    inner=
    exit $rc
fi

# ---- the inner half: in our own mount namespace ----
if [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]; then
    umount -R -l /sys/fs/cgroup 2>/dev/null
    if ! mount -t cgroup2 cgroup2 /sys/fs/cgroup; then
        echo "SKIP: ocirun_cgroup2: cannot mount cgroup2 on /sys/fs/cgroup" >&2
        exit 77
    fi
    echo "--- cgroup v1 mounts replaced by cgroup2 at /sys/fs/cgroup (private mount namespace)"
fi
# After the remount: testlib counts the mounts from here on.
. "$(dirname "$0")/../../testdata/rootfs/testlib.sh"

make_rootfs
CG=/sys/fs/cgroup
CTRL=$(cat "$CG/cgroup.controllers")
echo "--- cgroup2 controllers here: ${CTRL:-(none)}"

# A bind-mounted directory with two device nodes: c 1:11 (kmsg, not in the
# default allow list) and c 1:5 (zero, allowed by default).
mkdir -p "$T/devs"
mknod "$T/devs/kmsg2" c 1 11
mknod "$T/devs/zero2" c 1 5
DEVMOUNT="c['mounts'].append({'destination': '/mnt/d', 'type': 'bind', 'source': '$T/devs', 'options': ['bind', 'ro']})"

state_json() {
    cat "$ROOT/$1/state.json"
}
init_pid() {
    oci state "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])'
}

# ---- v2 mode: one cgroup2 entry, the container's cgroup below /sys/fs/cgroup ----
bundle sleeper "$(args '["sleep", "30"]')"
A=$P-v2
oci run -d --bundle "$T/sleeper" "$A" </dev/null >"$T/v2.out" 2>&1
expect_eq "run -d on pure cgroup2" "$?" 0
modes=$(state_json "$A" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
print(" ".join("%s:%s" % ("v2" if c.get("v2") else "v1", c["mount"]) for c in s.get("cgroups", [])))' 2>/dev/null)
expect_eq "ocirun sees one cgroup2 hierarchy" "$modes" "v2:$CG"
check "the container's cgroup exists: $CG/$A" test -d "$CG/$A"
pid=$(init_pid "$A")
expect_eq "the init is in it" "$(sed -n 's/^0:://p' "/proc/$pid/cgroup")" "/$A"
oci delete --force "$A"
expect_eq "delete --force" "$?" 0
check "delete removed $CG/$A" test ! -e "$CG/$A"

# ---- devices: the eBPF program decides ----
devrun() { # devrun NAME RULES-PY SCRIPT: runs the script, output in $OUT
    bundle "$1" "$(args "['sh', '-c', '''$3''']")" "$DEVMOUNT" \
        "c['linux'].setdefault('resources', {})['devices'] = $2"
    ocap run --bundle "$T/$1" "$P-$1"
}
DEVSCRIPT='for f in /dev/null /dev/zero /mnt/d/zero2; do head -c 1 $f >/dev/null 2>&1 && echo "$f ok" || echo "$f denied"; done
if (exec 3>/mnt/d/kmsg2) 2>/dev/shm/e; then echo "kmsg2 ok"; else echo "kmsg2 $(cat /dev/shm/e)"; fi'
devrun denyall "[{'allow': False, 'access': 'rwm'}]" "$DEVSCRIPT"
expect_eq "deny-all: run exits 0" "$RC" 0
expect_match "deny-all: /dev/null is allowed (a default device)" "$OUT" "/dev/null ok"
expect_match "deny-all: /dev/zero is allowed (a default device)" "$OUT" "/dev/zero ok"
expect_match "deny-all: another c 1:5 node is allowed (rules go by number)" "$OUT" "zero2 ok"
expect_match "deny-all: c 1:11 cannot be opened: EPERM" "$OUT" "kmsg2 .*Operation not permitted"
devrun allowall "[{'allow': True, 'access': 'rwm'}]" "$DEVSCRIPT"
expect_match "allow-all: c 1:11 opens (so the eBPF program made the difference)" "$OUT" "kmsg2 ok"
devrun denyzero "[{'allow': False, 'access': 'rwm'}, {'allow': False, 'type': 'c', 'major': 1, 'minor': 5, 'access': 'rwm'}]" "$DEVSCRIPT"
# runc's order: the default devices are allowed after the config's rules.
expect_match "denying c 1:5 does not take away /dev/zero (defaults come last, as runc)" \
    "$OUT" "/dev/zero ok"
devrun deny11 "[{'allow': True, 'access': 'rwm'}, {'allow': False, 'type': 'c', 'major': 1, 'minor': 11, 'access': 'w'}]" "$DEVSCRIPT"
expect_match "allow all but c 1:11 w: kmsg2 write denied" "$OUT" "kmsg2 .*Operation not permitted"
expect_match "... other nodes still allowed" "$OUT" "zero2 ok"
# The program's id is recorded while the container lives.
bundle devsleep "$(args '["sleep", "30"]')" "c['linux'].setdefault('resources', {})['devices'] = [{'allow': False, 'access': 'rwm'}]"
oci run -d --bundle "$T/devsleep" "$P-devsleep" </dev/null >/dev/null 2>&1
prog=$(state_json "$P-devsleep" | "$PY" -c '
import json, sys
print(sum(c.get("bpfDeviceProg", 0) for c in json.load(sys.stdin).get("cgroups", [])))' 2>/dev/null)
check "state.json records the attached device program" test "${prog:-0}" -gt 0
oci delete --force "$P-devsleep" >/dev/null 2>&1
check "delete removed $CG/$P-devsleep" test ! -e "$CG/$P-devsleep"

# ---- pids.max ----
if grep -qw pids <<<"$CTRL"; then
    bundle pids "$(args '["sh", "-c", "cat /sys/fs/cgroup/pids.max; n=0; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done 2>/dev/null; jobs -p | wc -l"]')" \
        "c['linux']['resources'] = {'pids': {'limit': 5}}"
    ocap run --bundle "$T/pids" "$P-pids"
    expect_match "pids.max is 5 inside" "$OUT" "^5$"
    expect_match "fork fails past the limit" "$OUT" "(can't fork|Resource temporarily unavailable|^[1-4]$)"
else
    echo "skip pids.max check: the pids controller is not in cgroup2 here (bound to a v1 hierarchy)"
    # A limit cgroup2 cannot enforce is refused, naming it.
    bundle pids "$(args '["true"]')" "c['linux']['resources'] = {'pids': {'limit': 5}}"
    ocap run --bundle "$T/pids" "$P-pids"
    expect_eq "a pids limit without the pids controller fails" "$RC" 1
    expect_match "... naming the limit" "$OUT" "linux.resources.pids: the pids controller is not available"
    check "... leaving no cgroup directory" test ! -e "$CG/$P-pids"
fi

# ---- nothing left ----
left=$(find "$CG" -maxdepth 3 -type d -name "$P-*" 2>/dev/null)
expect_eq "no cgroup directory of ours in $CG" "$left" ""
finish
