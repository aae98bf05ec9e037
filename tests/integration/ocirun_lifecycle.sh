#!/bin/bash
# ocirun's lifecycle (runtime.md): create/state/start/state/kill/delete with
# every transition and every wrong-state error, run's exit codes and signal
# forwarding, two containers at once, errors from inside the init reported
# with their cause, and nothing left on the host afterwards.
. "$(dirname "$0")/../../testdata/rootfs/testlib.sh"

make_rootfs

# ---- create -> created -> start -> running -> kill -> stopped -> delete ----
bundle life "$(args '["sh", "-c", "echo started >/dev/shm/x; sleep 30"]')"
A=$P-life
oci create --bundle "$T/life" --pid-file "$T/life.pid" "$A" </dev/null >"$T/life.out" 2>&1
expect_eq "create exits 0" "$?" 0
expect_eq "state after create" "$(status_of "$A")" created
pid=$(cat "$T/life.pid" 2>/dev/null)
state_pid=$(oci state "$A" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
expect_eq "--pid-file holds the init's pid" "$pid" "$state_pid"
check "the init exists on the host" test -d "/proc/$pid"
check "exec.fifo exists while created" test -p "$ROOT/$A/exec.fifo"
ocap create --bundle "$T/life" "$A"; out=$OUT
expect_eq "create of an existing id fails" "$RC" 1
expect_match "... saying it exists" "$out" "already exists"
oci start "$A"
expect_eq "start exits 0" "$?" 0
sleep 0.2
expect_eq "state after start" "$(status_of "$A")" running
check "exec.fifo is gone after start" test ! -e "$ROOT/$A/exec.fifo"
ocap start "$A"; out=$OUT
expect_eq "start of a running container fails" "$RC" 1
expect_match "... naming the state" "$out" "is running, not created"
ocap delete "$A"; out=$OUT
expect_eq "delete of a running container fails" "$RC" 1
expect_match "... suggesting --force" "$out" "running.*--force"
oci kill "$A" KILL
expect_eq "kill KILL exits 0" "$?" 0
for _ in $(seq 50); do [ "$(status_of "$A")" = stopped ] && break; sleep 0.05; done
expect_eq "state after kill" "$(status_of "$A")" stopped
state=$(oci state "$A")
expect_match "a stopped container's pid is 0" "$state" '"pid": ?0'
ocap kill "$A" TERM; out=$OUT
expect_eq "kill of a stopped container fails" "$RC" 1
expect_match "... saying it is not running" "$out" "stopped, not running"
ocap start "$A"; out=$OUT
expect_eq "start of a stopped container fails" "$RC" 1
oci delete "$A"
expect_eq "delete of a stopped container" "$?" 0
check "the state directory is gone" test ! -e "$ROOT/$A"
ocap state "$A"; out=$OUT
expect_eq "state of a deleted container fails" "$RC" 1
expect_match "... does not exist" "$out" "does not exist"
for cmd in start delete kill; do
    ocap $cmd "$A"; out=$OUT
    expect_eq "$cmd of a missing container fails" "$RC" 1
done
ocap create --bundle "$T/life" "bad/id"; out=$OUT
expect_match "an id with a slash is refused" "$out" "invalid container id"

# ---- delete of a created container kills its init; delete --force a running one ----
oci create --bundle "$T/life" "$A-c" </dev/null >/dev/null 2>&1
cpid=$(oci state "$A-c" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
oci delete "$A-c"
expect_eq "delete of a created container" "$?" 0
check "... killed its init" dead "$cpid"
oci run -d --bundle "$T/life" "$A-f" </dev/null >/dev/null 2>&1
expect_eq "run --detach" "$(status_of "$A-f")" running
oci delete --force "$A-f"
expect_eq "delete --force of a running container" "$?" 0
check "... removed it" test ! -e "$ROOT/$A-f"

# ---- kill by name and number, --all ----
oci run -d --bundle "$T/life" "$A-k" </dev/null >/dev/null 2>&1
ocap kill "$A-k" NOSUCHSIG; out=$OUT
expect_match "an unknown signal is refused" "$out" "unknown signal"
oci kill --all "$A-k" 9
expect_eq "kill --all 9" "$?" 0
for _ in $(seq 50); do [ "$(status_of "$A-k")" = stopped ] && break; sleep 0.05; done
expect_eq "... stopped it" "$(status_of "$A-k")" stopped
oci delete "$A-k"

# ---- run: exit codes and signals ----
bundle code "$(args '["sh", "-c", "exit 3"]')"
oci run --bundle "$T/code" "$P-code" </dev/null
expect_eq "run exits with the container's status" "$?" 3
check "run deleted the container" test ! -e "$ROOT/$P-code"
bundle sig "$(args '["sh", "-c", "kill -TERM $$; sleep 5"]')" \
    "c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'pid']"
oci run --bundle "$T/sig" "$P-sig" </dev/null
expect_eq "a container killed by SIGTERM: run exits 128+15" "$?" 143
bundle fwd "$(args '["sh", "-c", "trap \"echo trapped; exit 42\" TERM; echo ready; while true; do sleep 0.05; done"]')"
"$OCIRUN" --root "$ROOT" run --bundle "$T/fwd" "$P-fwd" </dev/null >"$T/fwd.out" 2>&1 &
rpid=$!
for _ in $(seq 100); do grep -q ready "$T/fwd.out" 2>/dev/null && break; sleep 0.05; done
kill -TERM "$rpid"
wait "$rpid"
expect_eq "SIGTERM to run is forwarded (the trap exits 42)" "$?" 42
expect_match "... the container saw it" "$(cat "$T/fwd.out")" trapped
bundle k9 "$(args '["sleep", "30"]')"
"$OCIRUN" --root "$ROOT" run --bundle "$T/k9" "$P-k9" </dev/null &
rpid=$!
for _ in $(seq 100); do [ "$(status_of "$P-k9")" = running ] && break; sleep 0.05; done
oci kill "$P-k9" KILL
wait "$rpid"
expect_eq "run of a container killed by SIGKILL exits 137" "$?" 137

# ---- two containers at once ----
bundle two "$(args '["sleep", "30"]')"
oci run -d --bundle "$T/two" "$P-one" </dev/null
oci run -d --bundle "$T/two" "$P-two" </dev/null
expect_eq "first of two is running" "$(status_of "$P-one")" running
expect_eq "second of two is running" "$(status_of "$P-two")" running
list=$(oci list -q | sort | tr '\n' ' ')
expect_eq "list shows both" "$list" "$P-one $P-two "
json=$(oci list --format json)
expect_match "list --format json" "$json" "\"id\":\"$P-one\".*\"status\":\"running\""
oci delete -f "$P-one"
expect_eq "deleting one leaves the other running" "$(status_of "$P-two")" running
oci delete -f "$P-two"

# ---- commands racing on one container: the lock lets exactly one win ----
oci create --bundle "$T/two" "$P-race" </dev/null
for i in 1 2 3 4 5; do
    ("$OCIRUN" --root "$ROOT" start "$P-race" >/dev/null 2>&1 && echo won >"$T/start.$i") &
done
wait
expect_eq "five concurrent starts: one succeeds" "$(ls "$T"/start.* 2>/dev/null | wc -l)" 1
oci kill "$P-race" KILL
for _ in $(seq 50); do [ "$(status_of "$P-race")" = stopped ] && break; sleep 0.05; done
for i in 1 2 3 4 5; do
    ("$OCIRUN" --root "$ROOT" delete "$P-race" >/dev/null 2>&1 && echo won >"$T/del.$i") &
done
wait
expect_eq "five concurrent deletes: one succeeds" "$(ls "$T"/del.* 2>/dev/null | wc -l)" 1
for i in 1 2 3; do
    ("$OCIRUN" --root "$ROOT" create --bundle "$T/two" "$P-race2" </dev/null >/dev/null 2>&1 &&
        echo won >"$T/create.$i") &
done
wait
expect_eq "three concurrent creates of one id: one succeeds" \
    "$(ls "$T"/create.* 2>/dev/null | wc -l)" 1
oci delete -f "$P-race2"

# ---- errors raised inside the init come back with their cause ----
bundle noexec "$(args '["/no/such/binary"]')"
ocap run --bundle "$T/noexec" "$P-noexec"; out=$OUT
expect_eq "run of a missing binary fails" "$RC" 1
expect_match "... with the cause" "$out" "^ocirun: exec: \"/no/such/binary\": No such file"
bundle nopath "$(args '["no-such-command"]')"
ocap create --bundle "$T/nopath" "$P-nopath"; out=$OUT
expect_match "create reports a command missing from PATH" "$out" "executable file not found in \\\$PATH"
bundle badmount "c['mounts'].append({'destination': '/mnt', 'type': 'bind', 'source': '/no/such/dir', 'options': ['rbind']})"
ocap create --bundle "$T/badmount" "$P-badmount"; out=$OUT
expect_match "create reports a mount failure" "$out" "bind mount source /no/such/dir: No such file"
bundle badfs "c['mounts'].append({'destination': '/mnt', 'type': 'nosuchfs', 'source': 'x'})"
ocap create --bundle "$T/badfs" "$P-badfs"; out=$OUT
expect_match "create reports an unknown filesystem" "$out" "mount x \\(nosuchfs\\) on /mnt: No such device"
bundle baduser "c['linux']['namespaces'].append({'type': 'user'})" \
    "c['linux']['uidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 1000}]" \
    "c['linux']['gidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 1000}]" \
    "c['process']['user'] = {'uid': 5000, 'gid': 0}" "del c['linux']['resources']"
ocap create --bundle "$T/baduser" "$P-baduser"; out=$OUT
expect_match "create reports a user the namespace does not map" "$out" "setuid 5000: Invalid argument"
bundle nofile "c['process']['rlimits'] = [{'type': 'RLIMIT_NOFILE', 'soft': 1048576, 'hard': 1048576}]"
ocap create --bundle "$T/nofile" "$P-nofile"; out=$OUT
expect_match "an RLIMIT_NOFILE above the hard limit fails clearly" "$out" \
    "setrlimit RLIMIT_NOFILE \\(soft 1048576, hard 1048576\\): Operation not permitted"
bundle badrl "c['process']['rlimits'] = [{'type': 'RLIMIT_NOPE', 'soft': 1, 'hard': 1}]"
ocap create --bundle "$T/badrl" "$P-badrl"; out=$OUT
expect_match "an unknown rlimit type is an error" "$out" "unknown type RLIMIT_NOPE"
bundle rdt "c['linux']['intelRdt'] = {'closID': 'x'}"
ocap create --bundle "$T/rdt" "$P-rdt"; out=$OUT
expect_eq "intelRdt is refused by name" "$out" "ocirun: unsupported: linux.intelRdt"
bundle dupns "c['linux']['namespaces'].append({'type': 'pid'})"
ocap create --bundle "$T/dupns" "$P-dupns"; out=$OUT
expect_match "duplicate namespace types are an error" "$out" 'duplicate namespace type "pid"'
check "failed creates left no state" test -z "$(ls -A "$ROOT")"

finish
