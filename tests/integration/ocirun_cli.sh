#!/bin/bash
# ocirun's command line: runc's global options and commands, the documents
# users parse (features, state, spec output) against the runtime-spec
# schemas, --log in text and json, usage errors, --preserve-fds.
. "$(dirname "$0")/../../testdata/rootfs/testlib.sh"

make_rootfs
VALIDATE="$SRCDIR/tests/lib/schema_validate.py"
SHARED=${OCIIMG_SHARED:-$SRCDIR/../shared}
have_schemas=0
if [ -d "$SHARED/spec/runtime-spec" ] && "$PY" -c 'import jsonschema' 2>/dev/null; then
    have_schemas=1
elif [ "${OCIIMG_NO_SKIP:-0}" = 1 ] && [ -d "$SHARED/spec" ]; then
    bad "runtime-spec schemas or python3-jsonschema missing"
else
    echo "note: no ../shared or jsonschema: schema checks skipped"
fi

# schema_ok DESC SCHEMA FILE
schema_ok() {
    [ "$have_schemas" = 1 ] || return 0
    if "$PY" "$VALIDATE" --runtime --schema "$2" "$3" >"$T/schema.out" 2>&1; then
        ok "$1"
    else
        bad "$1: $(cat "$T/schema.out")"
    fi
}

ocap --version
expect_match "--version" "$OUT" "^ocirun version .*"
ocap features
expect_eq "features exits 0" "$RC" 0
echo "$OUT" >"$T/features.json"
schema_ok "features validates against features-schema.json" features-schema.json "$T/features.json"
expect_match "features names the hooks" "$OUT" '"startContainer"'

mkdir -p "$T/specdir"
ocap spec --bundle "$T/specdir"
expect_eq "spec writes config.json" "$RC" 0
schema_ok "spec output validates against config-schema.json" config-schema.json "$T/specdir/config.json"
ocap spec --bundle "$T/specdir"
expect_match "spec refuses to overwrite" "$OUT" "exists; remove it first"
mkdir -p "$T/rootless"
ocap spec --rootless --bundle "$T/rootless"
schema_ok "spec --rootless validates" config-schema.json "$T/rootless/config.json"
expect_match "spec --rootless maps the caller" "$(cat "$T/rootless/config.json")" "\"hostID\": $(id -u)"

bundle st "$(args '["sleep", "10"]')" "c['annotations'] = {'org.example.k': 'v'}"
oci create --bundle "$T/st" "$P-st" </dev/null
oci state "$P-st" >"$T/state.json"
schema_ok "state validates against state-schema.json" state-schema.json "$T/state.json"
expect_match "state carries the annotations" "$(cat "$T/state.json")" '"org.example.k": ?"v"'
expect_match "state carries the bundle" "$(cat "$T/state.json")" "\"bundle\": ?\"$T/st\""
oci delete "$P-st"

ocap
expect_eq "no command: usage error, exit 2" "$RC" 2
ocap frobnicate
expect_eq "unknown command: exit 2" "$RC" 2
ocap --log-format xml list
expect_eq "bad --log-format: exit 2" "$RC" 2
ocap --systemd-cgroup list
expect_match "--systemd-cgroup is refused by name" "$OUT" "unsupported: --systemd-cgroup"
ocap create "$P-x" extra
expect_eq "create with two ids: exit 2" "$RC" 2

ocap --log "$T/log.json" --log-format json state "$P-nope"
expect_eq "an error exits 1" "$RC" 1
expect_eq "... printing one line" "$OUT" "ocirun: container \`$P-nope\` does not exist"
expect_match "--log json records it" "$(cat "$T/log.json")" \
    '^\{"level":"error","msg":"container `'"$P"'-nope` does not exist","time":"[0-9T:.-]+Z"\}$'
ocap --log "$T/log.txt" state "$P-nope"
expect_match "--log text records it" "$(cat "$T/log.txt")" 'level=error msg="container'

bundle fds "$(args '["sh", "-c", "cat <&3; ls /proc/self/fd | tr \"\\n\" \" \""]')"
echo preserved >"$T/fd3"
"$OCIRUN" --root "$ROOT" run --preserve-fds 1 --bundle "$T/fds" "$P-fds" 3<"$T/fd3" \
    </dev/null >"$T/fds.out" 2>&1
expect_match "--preserve-fds 1 passes fd 3" "$(cat "$T/fds.out")" "^preserved"
expect_match "... and no other descriptor leaks in" "$(tail -1 "$T/fds.out")" "^0 1 2 3 4 $"
"$OCIRUN" --root "$ROOT" run --bundle "$T/fds" "$P-fds2" 3<"$T/fd3" </dev/null >"$T/fds2.out" 2>&1
expect_match "without it fd 3 is closed" "$(cat "$T/fds2.out")" "can't|Bad file"

# process.terminal: run relays the pty; create hands its master to --console-socket.
TERM_SCRIPT="c['process']['terminal'] = True"
bundle term "$(args '["sh", "-c", "tty; stty size; echo hi"]')" "$TERM_SCRIPT" \
    "c['process']['consoleSize'] = {'height': 30, 'width': 100}"
ocap run --bundle "$T/term" "$P-term"
expect_eq "run with a terminal exits 0" "$RC" 0
expect_eq "... the process has a pty (CRLF from the line discipline), consoleSize applied" \
    "$(echo "$OUT" | tr -d '\r' | tr '\n' ' ')" "/dev/pts/0 30 100 hi "
cat >"$T/recv.py" <<'EOF2'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(1)
open(sys.argv[2] + ".ready", "w").close()
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 1024, 1)
with open(sys.argv[2], "wb") as f:
    f.write(msg + b"\n")
    while True:
        try:
            d = os.read(fds[0], 4096)
        except OSError:
            break
        if not d:
            break
        f.write(d)
EOF2
"$PY" "$T/recv.py" "$T/console.sock" "$T/console.out" &
recv=$!
for _ in $(seq 100); do [ -e "$T/console.out.ready" ] && break; sleep 0.05; done
ocap create --console-socket "$T/console.sock" --bundle "$T/term" "$P-term2"
expect_eq "create --console-socket" "$RC" 0
oci start "$P-term2"
wait "$recv"
expect_eq "... the socket got the pty master and the output" \
    "$(tr -d '\r' <"$T/console.out" | tr '\n' ' ')" "/dev/ptmx /dev/pts/0 30 100 hi "
oci delete -f "$P-term2"
ocap create --bundle "$T/term" "$P-term3"
expect_match "create with a terminal but no --console-socket is refused" "$OUT" "needs --console-socket"
bundle noterm "$(args '["true"]')"
ocap create --console-socket "$T/console.sock" --bundle "$T/noterm" "$P-term4"
expect_match "--console-socket without a terminal is refused" "$OUT" "there is no terminal"

finish
