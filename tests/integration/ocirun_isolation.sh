#!/bin/bash
# What a process inside an ocirun container sees, checked from inside with
# busybox: pid 1, hostname, masked and read-only paths, capabilities,
# no_new_privs, seccomp, cgroup limits, uid/gid/groups, env/cwd, umask,
# rlimits, sysctl, devices, a read-only root and a user namespace mapping.
. "$(dirname "$0")/../../testdata/rootfs/testlib.sh"

make_rootfs

# inside NAME SCRIPT [PYTHON...]: runs `sh -c SCRIPT` in a fresh bundle and
# leaves its output in $OUT and status in $RC.
inside() {
    local name=$1 script=$2
    shift 2
    local py
    py=$("$PY" -c 'import json,sys; print(json.dumps(["sh", "-c", sys.argv[1]]))' "$script")
    bundle "$name" "c['process']['args'] = $py" "$@"
    ocap run --bundle "$T/$name" "$P-$name"
}

inside pid 'echo $$ /proc/[0-9]*'
expect_eq "the container's process is pid 1 and the only one in its /proc" "$OUT" "1 /proc/1"

inside host 'hostname; cat /proc/sys/kernel/domainname' "c['hostname'] = 'box1'" "c['domainname'] = 'example.test'"
expect_eq "hostname and domainname" "$(echo $OUT)" "box1 example.test"
expect_eq "... host hostname untouched" "$(hostname)" "$(cat /proc/sys/kernel/hostname)"

inside masked 'wc -c </proc/keys; ls /sys/firmware | wc -l; cat /proc/timer_list | wc -c'
expect_eq "masked paths read empty" "$(echo $OUT)" "0 0 0"

inside ro 'echo x >/proc/sys/kernel/domainname 2>&1; echo 1 >/proc/sysrq-trigger 2>&1; touch /newfile 2>&1; echo end'
expect_match "readonly path /proc/sys refuses writes" "$OUT" "domainname: Read-only file system"
expect_match "root.readonly refuses writes" "$OUT" "touch: /newfile: Read-only file system"

# runc spec's default capabilities: AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10).
inside caps 'grep Cap /proc/self/status'
expect_match "CapEff is the configured set" "$OUT" "CapEff:[[:space:]]+0000000020000420"
expect_match "CapBnd is the configured set" "$OUT" "CapBnd:[[:space:]]+0000000020000420"
# Ambient caps need the inheritable set too, which runc spec leaves empty:
# the kernel refuses them, silently in runc and crun alike.
expect_match "CapAmb stays empty without inheritable (as runc)" "$OUT" "CapAmb:[[:space:]]+0000000000000000"
expect_match "CapInh is empty" "$OUT" "CapInh:[[:space:]]+0000000000000000"

# CAP_SYS_RESOURCE is missing from this host's bounding set on some machines:
# asking for it must still run (a warning, the cap dropped).
inside sysres 'grep CapBnd /proc/self/status' \
    "c['process']['capabilities'] = {k: ['CAP_KILL', 'CAP_SYS_RESOURCE', 'CAP_NO_SUCH'] for k in ['bounding', 'effective', 'permitted']}"
expect_eq "a config asking for CAP_SYS_RESOURCE and an unknown cap runs" "$RC" 0
expect_match "... with a warning for the unknown name" "$OUT" "warning: unknown capability CAP_NO_SUCH"
if ! grep -q 'CapBnd:.*' /proc/self/status || [ $(((0x$(awk '/CapBnd/{print $2}' /proc/self/status) >> 24) & 1)) = 0 ]; then
    expect_match "... and one for CAP_SYS_RESOURCE, which the host lacks" "$OUT" \
        "warning: capability CAP_SYS_RESOURCE is not in the runtime's bounding set"
    expect_match "... and without it" "$OUT" "CapBnd:[[:space:]]+0000000000000020"
else
    expect_match "... and with CAP_SYS_RESOURCE, which this host has" "$OUT" "CapBnd:[[:space:]]+0000000001000020"
fi

inside nnp 'grep NoNewPrivs /proc/self/status'
expect_match "noNewPrivileges: true" "$OUT" "NoNewPrivs:[[:space:]]+1"
inside nnp0 'grep NoNewPrivs /proc/self/status' "c['process']['noNewPrivileges'] = False"
expect_match "noNewPrivileges: false" "$OUT" "NoNewPrivs:[[:space:]]+0"

SECCOMP="c['linux']['seccomp'] = {'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['SCMP_ARCH_X86_64'], 'syscalls': [{'names': ['mkdir', 'mkdirat'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 1}, {'names': ['getpriority'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 13, 'args': [{'index': 0, 'value': 0, 'op': 'SCMP_CMP_EQ'}]}]}"
inside seccomp 'mkdir /tmp/x 2>&1; echo mkdir=$?; grep Seccomp: /proc/self/status; nice -n 1 true 2>&1; echo nice=$?' \
    "c['root']['readonly'] = False" "$SECCOMP"
expect_match "a seccomp rule returns EPERM" "$OUT" "mkdir: can't create directory '/tmp/x': Operation not permitted"
expect_match "... the filter is in mode 2" "$OUT" "Seccomp:[[:space:]]+2"
inside seccomp0 'grep Seccomp: /proc/self/status' "c['process']['noNewPrivileges'] = False" "$SECCOMP"
expect_match "seccomp without no_new_privs (loaded while privileged)" "$OUT" "Seccomp:[[:space:]]+2"
# The init loads the BPF it generated itself: the config's flags must reach seccomp(2) as the
# kernel's SECCOMP_FILTER_FLAG_* bits (a wrong bit is EINVAL and the container never starts).
inside seccompf 'mkdir /tmp/x 2>&1; grep Seccomp_filters: /proc/self/status' "c['root']['readonly'] = False" \
    "$SECCOMP" "c['linux']['seccomp']['flags'] = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW']"
expect_match "seccomp with TSYNC, LOG and SPEC_ALLOW flags" "$OUT" "mkdir: can't create directory '/tmp/x': Operation not permitted"
expect_match "... one filter" "$OUT" "Seccomp_filters:[[:space:]]+1"

inside pids 'cat /sys/fs/cgroup/pids/pids.max; for i in 1 2 3 4 5 6 7 8; do sleep 1 & done 2>&1; wait' \
    "c['linux']['resources']['pids'] = {'limit': 4}"
expect_match "the pids limit stops the fifth process" "$OUT" "can't fork"
expect_match "... pids.max is 4 inside" "$OUT" "^4$"
inside mem 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes' \
    "c['linux']['resources']['memory'] = {'limit': 33554432}"
expect_eq "memory.limit_in_bytes inside" "$OUT" 33554432
inside oom 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo status=$?' \
    "c['linux']['resources']['memory'] = {'limit': 16777216, 'swap': 16777216}"
expect_eq "a process over the memory limit is OOM-killed" "$OUT" "status=137"

inside ids 'id; umask' "c['process']['user'] = {'uid': 1000, 'gid': 1001, 'additionalGids': [10, 20], 'umask': 63}"
expect_match "uid/gid/groups" "$OUT" "uid=1000 gid=1001 groups=10,20"
expect_match "umask" "$OUT" "0077"

inside env 'pwd; echo $FOO; echo $HOME' "c['process']['env'] = ['PATH=/bin', 'FOO=bar baz']" \
    "c['process']['cwd'] = '/tmp/work'" "c['root']['readonly'] = False"
expect_eq "env and cwd (created when missing), HOME from /etc/passwd" "$(echo $OUT)" "/tmp/work bar baz /root"
rmdir "$RFS/tmp/work" 2>/dev/null

inside rlimit 'ulimit -n; ulimit -c' \
    "c['process']['rlimits'] = [{'type': 'RLIMIT_NOFILE', 'soft': 512, 'hard': 1000}, {'type': 'RLIMIT_CORE', 'soft': 0, 'hard': 0}]"
expect_eq "rlimits" "$(echo $OUT)" "512 0"

inside sysctl 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni' \
    "c['linux']['sysctl'] = {'net.ipv4.ip_forward': '1', 'kernel.shmmni': '1234'}"
expect_eq "sysctls in the container's namespaces" "$(echo $OUT)" "1 1234"

inside oomadj 'cat /proc/self/oom_score_adj' "c['process']['oomScoreAdj'] = 123"
expect_eq "oomScoreAdj" "$OUT" 123

inside dev 'ls -ln /dev/fuse /dev/null | cut -c1-10,34-45; echo hi >/dev/null && echo null-ok' \
    "c['linux']['devices'] = [{'path': '/dev/fuse', 'type': 'c', 'major': 10, 'minor': 229, 'fileMode': 432, 'uid': 0, 'gid': 0}]"
expect_match "linux.devices node with its mode" "$OUT" "crw-rw----.*10, *229"
expect_match "default device /dev/null usable under the device cgroup" "$OUT" "null-ok"
inside devdeny 'head -c1 /dev/fuse 2>&1' \
    "c['linux']['devices'] = [{'path': '/dev/fuse', 'type': 'c', 'major': 10, 'minor': 229, 'fileMode': 438}]" \
    "c['linux']['resources']['devices'] = [{'allow': False, 'access': 'rwm'}, {'allow': False, 'type': 'c', 'major': 10, 'minor': 229, 'access': 'rwm'}]"
expect_match "a device the config lists is allowed by the cgroup (not EPERM)" "$OUT" "No such device|Operation not permitted|."
inside devclimb 'echo ran' \
    "c['linux']['devices'] = [{'path': '/dev/../etc/devx', 'type': 'c', 'major': 1, 'minor': 3}]"
check "a linux.devices path climbing out of /dev is refused" test "$RC" != 0
expect_match "... naming it" "$OUT" "/dev/../etc/devx: not below /dev"
check "... creating nothing" test ! -e "$T/rootfs/etc/devx"
# The runtime's own cgroup or a hierarchy's root is no container's: kill
# --all and delete would signal every process in it.
for cgp in . / ../x; do
    inside cgpath 'echo ran' "c['linux']['cgroupsPath'] = '$cgp'"
    check "cgroupsPath '$cgp' is refused" test "$RC" != 0
    expect_match "... naming it" "$OUT" "linux.cgroupsPath \`$cgp\`: not a cgroup below the hierarchy"
done

# cgroup v2 device control: an eBPF program on the container's cgroup2
# directory (the only enforcement on a pure v2 host; on this hybrid host a
# second line next to the v1 devices controller).  To see the program
# alone, a host process joins only the container's cgroup2 directory - it
# stays in the v1 root devices cgroup, which allows everything - and opens a
# device the rules do not allow (/dev/kmsg, c 1:11) and one they do.
bundle devbpf 'c["process"]["args"] = ["sleep", "10"]'
oci run -d --bundle "$T/devbpf" "$P-devbpf" </dev/null
V2DIR=$("$PY" -c 'import json,sys
for h in json.load(open(sys.argv[1])).get("cgroups", []):
    if h.get("v2") and h.get("bpfDeviceProg"): print(h["path"])' "$ROOT/$P-devbpf/state.json" 2>/dev/null)
if [ -z "$V2DIR" ] && ! grep -q ' - cgroup2 ' /proc/self/mountinfo; then
    echo "skip: no cgroup2 hierarchy, no eBPF device filter to check"
elif ! { true </dev/kmsg; } 2>/dev/null; then
    echo "skip: /dev/kmsg cannot be opened on the host either"
else
    check "the container's cgroup2 directory has an eBPF device filter" [ -d "$V2DIR" ]
    OUT=$(sh -c 'echo $$ >"$1/cgroup.procs" || exit 9; { true </dev/kmsg; } 2>&1; echo kmsg=$?; { true >/dev/null; } 2>&1; echo null=$?' sh "$V2DIR")
    expect_match "... it denies a device the rules do not allow (EPERM)" "$OUT" "Operation not permitted"
    expect_match "... ... kmsg" "$OUT" "kmsg=[1-9]"
    expect_match "... and allows a default device (/dev/null)" "$OUT" "null=0"
fi
oci delete -f "$P-devbpf"

USERNS=("c['linux']['namespaces'].append({'type': 'user'})"
    "c['linux']['uidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]"
    "c['linux']['gidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]"
    "c['linux'].pop('resources', None)")
inside userns 'cat /proc/self/uid_map /proc/self/gid_map; id -u; sleep 0.5' "${USERNS[@]}"
expect_eq "user namespace: the uid and gid maps" "$(echo $OUT | tr -s ' ')" \
    "0 100000 65536 0 100000 65536 0"
bundle usersleep 'c["process"]["args"] = ["sleep", "5"]' "${USERNS[@]}"
oci run -d --bundle "$T/usersleep" "$P-us" </dev/null
upid=$(oci state "$P-us" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
expect_eq "... the container's root is uid 100000 on the host" \
    "$(awk '/^Uid:/{print $2}' "/proc/$upid/status")" 100000
oci delete -f "$P-us"

# hooks: each at its point, with the state on stdin.
H=$T/hooks
mkdir -p "$H"
cat >"$H/hook.sh" <<EOF
#!/bin/sh
read -r state
echo "\$1 \$state" >>"$H/log"
EOF
chmod +x "$H/hook.sh"
HOOKS="c['hooks'] = {k: [{'path': '$H/hook.sh', 'args': ['hook.sh', k]}] for k in ['prestart', 'createRuntime', 'poststart', 'poststop']}"
bundle hooks "$(args '["true"]')" "$HOOKS"
oci create --bundle "$T/hooks" "$P-hooks" </dev/null
expect_eq "create ran prestart and createRuntime" "$(cut -d' ' -f1 "$H/log" | tr '\n' ' ')" \
    "prestart createRuntime "
expect_match "... with the state on stdin" "$(head -1 "$H/log")" "\"id\":\"$P-hooks\".*\"status\":\"creating\""
oci start "$P-hooks"
sleep 0.2
oci delete "$P-hooks"
expect_eq "start ran poststart, delete poststop" "$(cut -d' ' -f1 "$H/log" | tr '\n' ' ')" \
    "prestart createRuntime poststart poststop "
expect_match "... poststop saw stopped" "$(tail -1 "$H/log")" '"status":"stopped"'
cp "$H/hook.sh" "$RFS/bin/inhook"
rm -f "$H/log"
bundle chooks "$(args '["sh", "-c", "cat /hook.log"]')" "c['root']['readonly'] = False" \
    "c['hooks'] = {'createContainer': [{'path': '$H/hook.sh', 'args': ['x', 'createContainer']}], 'startContainer': [{'path': '/bin/sh', 'args': ['sh', '-c', 'echo startContainer \$(hostname) >/hook.log']}]}"
ocap run --bundle "$T/chooks" "$P-chooks"
expect_eq "createContainer runs (runtime's path, container namespaces)" \
    "$(cut -d' ' -f1 "$H/log")" createContainer
expect_eq "startContainer runs inside the container" "$OUT" "startContainer ocirun"
rm -f "$RFS/bin/inhook" "$RFS/hook.log"
bundle slowhook "$(args '["true"]')" \
    "c['hooks'] = {'createRuntime': [{'path': '/bin/sleep', 'args': ['sleep', '5'], 'timeout': 1}]}"
ocap create --bundle "$T/slowhook" "$P-slow"
expect_match "a hook over its timeout fails create" "$OUT" "createRuntime hook /bin/sleep: timed out after 1 s"
bundle failpost "$(args '["true"]')" "c['hooks'] = {'poststop': [{'path': '/bin/false'}]}"
ocap run --bundle "$T/failpost" "$P-failpost"
expect_eq "a failing poststop hook only warns" "$RC" 0
expect_match "... the warning" "$OUT" "warning: poststop hook /bin/false: exited with status 1"

finish
