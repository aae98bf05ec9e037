#!/bin/bash
# `ociimg unpack` against `umoci unpack` on the same layouts: the rootfs must be
# equal (tests/lib/treecmp.py: type, mode, owner, size, content, link target,
# xattrs, mtime, hard links) and config.json must agree on process (args, env,
# user, cwd) and annotations, up to the differences tests/lib/cmpconfig.py
# documents (umoci's TERM, HOME and empty annotations; Labels winning; ...).
# Every config.json also validates against the runtime-spec v1.3.0 schema.
#
# Images: testdata/make-images.py's (hello, busybox, multi), images made here
# from busybox with User/Labels/Volumes/ports, the whiteout fixtures of
# ../shared/fixtures (go-containerregistry docker-save archives through skopeo,
# regclient's raw whiteout layers), and when ../shared/bench/make-images.sh has
# been run ($OCIBENCH, default /var/tmp/ocibench), bench/busybox:1 and
# bench/debian:multi-gz (bench/debian:multi, whose third layer is zstd, which
# umoci 0.4 cannot read, is compared with multi-gz instead: same diff_ids).
source "$(dirname "$0")/../lib/common.sh"
need_shared
need_ociimg
need_jsonschema
need_cmd umoci skopeo
[ "$(id -u)" = 0 ] || skip "umoci unpack needs root to keep owners (run as root)"

L=$T/L
"$PY" "$OCIIMG_SRCDIR/testdata/make-images.py" build --out "$L" >/dev/null 2>"$T/mk.err" ||
    die "make-images.py build failed: $(tail -3 "$T/mk.err")"
MKIMAGE=("$PY" "$TESTS_LIB/mkimage.py" --layout "$L")
: >"$T/notes"
FIX=$OCIIMG_SHARED/fixtures
export TMPDIR=$T

note "images with users, labels, volumes, ports (from test/busybox:1)"
"${MKIMAGE[@]}" --tag conf-full --from test/busybox:1 --config '{
  "User": "app", "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["id"], "WorkingDir": "/home/app",
  "Env": ["PATH=/bin:/usr/bin", "HOME=/custom", "LANG=C.UTF-8"],
  "Labels": {"org.opencontainers.image.os": "plan9", "com.example.x": "y",
             "run.oci.handler": "krun"},
  "ExposedPorts": {"8080/tcp": {}, "53/udp": {}}, "Volumes": {"/data": {}},
  "StopSignal": "SIGQUIT"}' >/dev/null
"${MKIMAGE[@]}" --tag conf-numeric --from test/busybox:1 --config '{"User": "1000"}' >/dev/null
"${MKIMAGE[@]}" --tag conf-usergroup --from test/busybox:1 --config '{"User": "app:root"}' >/dev/null
"${MKIMAGE[@]}" --tag conf-noenv --from test/busybox:1 --config '{"Env": null, "Cmd": null}' >/dev/null

note "whiteout fixtures"
GCR=$FIX/google-go-containerregistry/pkg/v1/mutate/testdata
skopeo copy --quiet "docker-archive:$GCR/whiteout_image.tar" "oci:$L:wh-image" ||
    die "skopeo copy whiteout_image.tar failed"
skopeo copy --quiet "docker-archive:$GCR/whiteout_dir.tar" "oci:$L:wh-dir" ||
    die "skopeo copy whiteout_dir.tar failed"
RC=$FIX/regclient-regclient/testdata
"${MKIMAGE[@]}" --tag wh-regclient --from test/busybox:1 --layer "$RC/layer.tar" \
    --layer "$RC/layer-wh.tar" >/dev/null

# compare NAME LAYOUT [EXPECT-FILE...]: ociimg vs umoci on LAYOUT:NAME
compare() {
    local name=$1 lay=$2 o=$T/o-${1//[\/:]/_} u=$T/u-${1//[\/:]/_}
    shift 2
    if ! "$OCIIMG" unpack -q "$lay:$name" "$o" 2>"$T/err"; then
        fail "ociimg unpack $name: $(cat "$T/err")"
        return
    fi
    if ! umoci unpack --image "$lay:$name" "$u" >"$T/uout" 2>&1; then
        fail "umoci unpack $name: $(tail -2 "$T/uout")"
        return
    fi
    # The roots are made by each tool at unpack time.
    touch -h -d @0 "$o/rootfs" "$u/rootfs"
    "$PY" "$TESTS_LIB/treecmp.py" "$u/rootfs" "$o/rootfs" >"$T/cmp" ||
        fail "$name: rootfs differs from umoci's:$(sed 's/^/\n    /' "$T/cmp" | head -20)"
    "$OCIIMG" inspect --raw --config "$lay:$name" >"$T/image-config.json"
    if ! "$PY" "$TESTS_LIB/cmpconfig.py" "$o/config.json" "$u/config.json" "$T/image-config.json" \
        >"$T/cc"; then
        fail "$name: config.json disagrees with umoci's:$(sed 's/^/\n    /' "$T/cc")"
    else
        cat "$T/cc" >>"$T/notes"
    fi
    "$PY" "$TESTS_LIB/schema_validate.py" -q --runtime "$o/config.json" >"$T/sv" 2>&1 ||
        fail "$name: config.json is not valid: $(cat "$T/sv")"
    local f
    for f in "$@"; do
        case $f in
        !*) [ -e "$o/rootfs/${f#!}" ] && fail "$name: /${f#!} should be gone" ;;
        *) [ -e "$o/rootfs/$f" ] || fail "$name: /$f is missing" ;;
        esac
    done
    rm -rf "$u"
}

note "ociimg vs umoci"
compare test/hello:1 "$L" etc/hello.txt '!etc/remove-me.txt'
compare test/busybox:1 "$L" bin/busybox etc/passwd
# umoci 0.4 cannot choose from an index: name the host's manifest for it
amd64=$("$OCIIMG" inspect --platform linux/amd64 "$L:test/multi:1" |
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)["digest"])')
"$OCIIMG" tag "$L@$amd64" multi-amd64 || die "ociimg tag multi-amd64 failed"
compare multi-amd64 "$L" platform.txt
compare conf-full "$L" bin/busybox
compare conf-numeric "$L"
compare conf-usergroup "$L"
compare conf-noenv "$L"
compare wh-image "$L" bar.txt '!foo.txt' '!.wh.foo.txt'
compare wh-dir "$L" a/baz b/bar '!a/foo'
compare wh-regclient "$L" layer1.txt layer3.txt '!layer2.txt' '!.wh.layer2.txt'

note "documented differences seen (count: note)"
LC_ALL=C sort "$T/notes" | uniq -c | sed 's/^/   /'

note "conversion details umoci does not share"
"$PY" - "$T/o-conf-full/config.json" <<'EOF' || fail "conf-full: config.json details"
import json, sys
c = json.load(open(sys.argv[1]))
p, a = c["process"], c["annotations"]
assert p["user"] == {"uid": 1000, "gid": 1000}, p["user"]
assert "HOME=/custom" in p["env"] and "TERM=xterm" not in p["env"], p["env"]
assert a["org.opencontainers.image.os"] == "plan9", a          # the Label wins
assert a["org.opencontainers.image.exposedPorts"] == "53/udp,8080/tcp", a
assert a["org.opencontainers.image.stopSignal"] == "SIGQUIT", a
assert "run.oci.handler" not in a, a                             # left out
vol = [m for m in c["mounts"] if m["destination"] == "/data"]
assert vol and vol[0]["type"] == "tmpfs", c["mounts"]
assert p["capabilities"]["effective"] == [] and p["capabilities"]["bounding"], p["capabilities"]
EOF
grep -q "run.oci.handler" <("$OCIIMG" unpack -q "$L:conf-full" "$T/o-warn" 2>&1) ||
    fail "no warning about the run.oci.handler label"

OCIBENCH=${OCIBENCH:-/var/tmp/ocibench}
BL=$OCIBENCH/layouts
if [ -f "$BL/busybox/index.json" ] && [ -f "$BL/debian/index.json" ]; then
    note "bench images ($BL)"
    compare 1 "$BL/busybox" bin/busybox
    : >"$T/notes"
    compare multi-gz "$BL/debian" opt/bench/random-64MiB.bin '!usr/share/doc' '!opt/bench/small/d00/f0000.txt'
    if "$OCIIMG" unpack -q "$BL/debian:multi" "$T/o-multi" 2>"$T/err"; then
        touch -h -d @0 "$T/o-multi/rootfs"
        "$PY" "$TESTS_LIB/treecmp.py" "$T/o-multi-gz/rootfs" "$T/o-multi/rootfs" >"$T/cmp" ||
            fail "bench/debian:multi (zstd) differs from multi-gz:$(head "$T/cmp")"
    else
        fail "ociimg unpack bench/debian:multi: $(cat "$T/err")"
    fi
else
    note "no bench layouts in $BL (run ../shared/bench/make-images.sh): bench images not compared"
fi

finish
