#!/bin/bash
# Namespace combinations that need care in the order of setns/unshare:
#   - a new user namespace with a network namespace joined by path (the
#     runtime joins it before the clone that creates the user namespace);
#   - a user namespace joined by path with a new pid namespace (the init
#     joins, then clones the real init into the new pid namespace);
# each checked from inside with busybox, through run and through
# create/start/kill/delete, plus an error from inside reaching `run`.
# Everything made here (a network namespace bind-mounted on a temp file, a
# process holding a user namespace) is removed on exit, even on failure.
. "$(dirname "$0")/../../testdata/rootfs/testlib.sh"

command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
NETNS=
HOLDER=
ns_cleanup() {
    [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null && wait "$HOLDER" 2>/dev/null
    HOLDER=
    [ -n "$NETNS" ] && umount "$NETNS" 2>/dev/null
    NETNS=
}
trap 'ns_cleanup; cleanup' EXIT

make_rootfs

# ins CMD: process.args = sh -c CMD
ins() {
    "$PY" -c 'import json,sys; print("c[\"process\"][\"args\"] = " + json.dumps(["sh", "-c", sys.argv[1]]))' "$1"
}
NO_RES="c['linux'].pop('resources', None)"
# The default /dev/pts mount asks for gid 5, which a user namespace mapping
# only root does not have.
NO_GID5="[m.__setitem__('options', [o for o in m['options'] if o != 'gid=5']) for m in c['mounts'] if m['destination'] == '/dev/pts']"
NEW_USERNS=("c['linux']['namespaces'].append({'type': 'user'})"
    "c['linux']['uidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]"
    "c['linux']['gidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]")

# ---- a new user namespace + a network namespace joined by path ----
NETNS=$T/netns
touch "$NETNS"
if ! unshare --net="$NETNS" true; then
    NETNS=
    skip "cannot create a persistent network namespace (unshare --net=FILE)"
fi
want_net=$(stat -L -c %i "$NETNS")
JOIN_NET="c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'network'] + [{'type': 'network', 'path': '$NETNS'}]"

bundle usernet "$(ins 'readlink /proc/self/ns/net; cat /proc/self/uid_map; id -u; echo $$')" \
    "$JOIN_NET" "${NEW_USERNS[@]}" "$NO_RES"
ocap run --bundle "$T/usernet" "$P-usernet"
expect_eq "new userns + netns by path: run succeeds" "$RC" 0
expect_match "... the container is in the joined network namespace" "$OUT" "^net:\[$want_net\]$"
expect_match "... and in its own user namespace with the mapping" "$OUT" "^ +0 +100000 +65536$"
expect_match "... as root there, pid 1" "$(echo $OUT)" " 0 1$"
# A createRuntime hook runs in the runtime's namespaces, after the clone.
bundle usernethook 'c["process"]["args"] = ["true"]' "$JOIN_NET" "${NEW_USERNS[@]}" "$NO_RES" \
    "c['hooks'] = {'createRuntime': [{'path': '/bin/sh', 'args': ['sh', '-c', 'readlink /proc/\$\$/ns/net >$T/hooknet']}]}"
ocap run --bundle "$T/usernethook" "$P-unhook"
expect_eq "... the runtime is back in its own network namespace after the clone" \
    "$(cat "$T/hooknet" 2>/dev/null)" "$(readlink /proc/self/ns/net)"

# The same through create/start: the init waits in the joined namespace.
bundle usernet2 'c["process"]["args"] = ["sleep", "10"]' "$JOIN_NET" "${NEW_USERNS[@]}" "$NO_RES"
oci create --bundle "$T/usernet2" "$P-un2" </dev/null >/dev/null 2>&1
pid=$(oci state "$P-un2" 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null)
if [ -n "$pid" ]; then
    expect_eq "create: the waiting init is in the joined netns" \
        "$(stat -L -c %i /proc/$pid/ns/net)" "$want_net"
    expect_eq "... and its user namespace is not the host's" \
        "$([ "$(readlink /proc/$pid/ns/user)" != "$(readlink /proc/1/ns/user)" ] && echo own)" own
    expect_eq "... uid 0 inside is 100000 on the host" "$(awk '/^Uid:/{print $2}' /proc/$pid/status)" 100000
    oci start "$P-un2"
    expect_eq "... start runs it" "$(status_of "$P-un2")" running
    oci delete -f "$P-un2"
else
    bad "create with a new userns and a joined netns"
fi

# A joined mount-less combination the runtime cannot join is an error, not a hang.
bundle usernetbad 'c["process"]["args"] = ["true"]' \
    "c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'network'] + [{'type': 'network', 'path': '/proc/self/ns/ipc'}]" \
    "${NEW_USERNS[@]}" "$NO_RES"
ocap run --bundle "$T/usernetbad" "$P-unbad"
expect_match "a path of the wrong namespace type is refused" "$OUT" "is not a network namespace"
umount "$NETNS"
NETNS=

# ---- a user namespace joined by path + a new pid namespace ----
# Bounded: the holder sleeps 60 s at most, and is killed on exit.
unshare --user --map-root-user sleep 60 &
HOLDER=$!
for _ in $(seq 50); do
    [ "$(readlink /proc/$HOLDER/ns/user 2>/dev/null)" != "$(readlink /proc/self/ns/user)" ] && break
    sleep 0.1
done
want_user=$(stat -L -c %i /proc/$HOLDER/ns/user)
[ "$want_user" != "$(stat -L -c %i /proc/self/ns/user)" ] || skip "unshare --user did not make a user namespace"
JOIN_USER="c['linux']['namespaces'].append({'type': 'user', 'path': '/proc/$HOLDER/ns/user'})"

bundle userpid "$(ins 'readlink /proc/self/ns/user; echo pid=$$; id -u; cat /proc/self/uid_map; ls -d /proc/[0-9]*')" \
    "$JOIN_USER" "$NO_RES" "$NO_GID5"
ocap run --bundle "$T/userpid" "$P-userpid"
expect_eq "userns by path + new pidns: run succeeds" "$RC" 0
expect_match "... the container is in the joined user namespace" "$OUT" "^user:\[$want_user\]$"
expect_match "... and is pid 1 of its own pid namespace" "$OUT" "^pid=1$"
expect_match "... root through the joined mapping" "$OUT" "^ +0 +0 +1$"
expect_eq "... its /proc shows its pid namespace only" "$(grep '^/proc/[0-9]' <<<"$OUT")" /proc/1

bundle userpid2 'c["process"]["args"] = ["sleep", "10"]' "$JOIN_USER" "$NO_RES" "$NO_GID5"
oci create --bundle "$T/userpid2" "$P-up2" </dev/null >/dev/null 2>&1
pid=$(oci state "$P-up2" 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null)
if [ -n "$pid" ]; then
    expect_eq "create: state's pid is the init in the joined userns" \
        "$(stat -L -c %i /proc/$pid/ns/user)" "$want_user"
    expect_eq "... in a new pid namespace where it is 1" "$(awk '/^NSpid:/{print $NF}' /proc/$pid/status)" 1
    expect_eq "... created" "$(status_of "$P-up2")" created
    oci start "$P-up2"
    sleep 0.2
    expect_eq "... start execs the process" "$(tr '\0' ' ' </proc/$pid/cmdline)" "sleep 10 "
    oci kill "$P-up2" KILL
    for _ in $(seq 50); do dead "$pid" && break; sleep 0.1; done
    expect_eq "... kill stops it" "$(status_of "$P-up2")" stopped
    oci delete "$P-up2"
    expect_eq "... delete removes it" "$(status_of "$P-up2")" none
else
    bad "create with a joined userns and a new pidns"
fi

bundle userpidbad 'c["process"]["args"] = ["/no/such/program"]' "$JOIN_USER" "$NO_RES" "$NO_GID5"
ocap run --bundle "$T/userpidbad" "$P-upbad"
expect_eq "an error inside the new pid namespace fails run" "$RC" 1
expect_match "... with its cause" "$OUT" 'exec: "/no/such/program": No such file or directory'
expect_eq "... and leaves no state" "$(status_of "$P-upbad")" none

ns_cleanup
finish
