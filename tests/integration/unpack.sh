#!/bin/bash
# `ociimg unpack` and `ociimg export` on the command line, with the test images
# of testdata/make-images.py (built offline into a layout here):
#  - bundles: rootfs as the layers say (treecmp against the layers' own file
#    lists), config.json valid against the runtime-spec schema, mode 0700;
#  - all-or-nothing: a diff_id mismatch leaves no bundle and no temp dir; an
#    existing non-empty BUNDLE is refused and left untouched; --force replaces
#    it; an empty directory is replaced; --rootfs-only;
#  - export: GNU tar and libarchive (bsdtar, if present) read it, its tree
#    equals the unpacked rootfs, and it is the same bytes every time.
source "$(dirname "$0")/../lib/common.sh"
need_ociimg
[ -x "$PY" ] || skip "$PY not found"
need_cmd tar

L=$T/L
"$PY" "$OCIIMG_SRCDIR/testdata/make-images.py" build --out "$L" >/dev/null 2>"$T/mk.err" ||
    die "make-images.py build failed: $(tail -3 "$T/mk.err")"
MKIMAGE=("$PY" "$TESTS_LIB/mkimage.py" --layout "$L")
TREECMP=("$PY" "$TESTS_LIB/treecmp.py")

# rootfs_files DIR : the rootfs as "path type" lines, root excluded
rootfs_files() {
    (cd "$1" && find . -mindepth 1 -printf '%P %y\n' | LC_ALL=C sort)
}

note "unpack test/hello:1 (2 gzip layers: whiteout, opaque dir, hardlink, symlink)"
B=$T/b-hello
if expect_ok "$OCIIMG" unpack "$L:test/hello:1" "$B"; then
    grep -q "^$B: sha256:[0-9a-f]\{64\}, 2 layers" "$T/out" || fail "unpack summary: $(cat "$T/out")"
    [ "$(stat -c %a "$B")" = 700 ] || fail "bundle mode is $(stat -c %a "$B"), expected 700"
    [ -f "$B/config.json" ] && [ -d "$B/rootfs" ] || fail "no config.json or rootfs in $B"
    [ -e "$B/rootfs/etc/remove-me.txt" ] && fail "whiteout: etc/remove-me.txt survived"
    ls -A "$B/rootfs" | grep -q '^\.wh\.' && fail "a whiteout file is in the rootfs"
    find "$B/rootfs" -name '.wh.*' | grep -q . && fail "whiteout files in the rootfs"
    if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import jsonschema' 2>/dev/null &&
        [ -d "$OCIIMG_SHARED/spec/runtime-spec" ]; then
        "$PY" "$TESTS_LIB/schema_validate.py" -q --runtime "$B/config.json" >"$T/sv" 2>&1 ||
            fail "config.json is not valid: $(cat "$T/sv")"
    else
        note "no runtime-spec schema (../shared) or jsonschema: schema check left to unpack_interop"
    fi
    "$PY" - "$B/config.json" <<'EOF' || fail "config.json of test/hello:1 is not what the image says"
import json, sys
c = json.load(open(sys.argv[1]))
p = c["process"]
assert p["args"] == ["/usr/bin/hello.sh"], p["args"]
assert p["cwd"] == "/", p["cwd"]
assert p["user"]["uid"] == 0 and p["user"]["gid"] == 0, p["user"]
assert "HOME=/" in p["env"] or any(e.startswith("HOME=") for e in p["env"]), p["env"]
a = c["annotations"]
assert a["org.opencontainers.image.title"] == "ociimg test hello", a
assert a["org.opencontainers.image.os"] == "linux", a
assert c["root"] == {"path": "rootfs", "readonly": False}, c["root"]
EOF
fi

note "every test image unpacks (busybox, docker schema2, zstd, index)"
for name in test/busybox:1 test/docker:1 test/zstd:1 test/multi:1; do
    grep -q "\"$name\"" "$L/index.json" || { note "$name not built here (tool missing)"; continue; }
    expect_ok "$OCIIMG" unpack -q "$L:$name" "$T/b-${name//[\/:]/_}" || continue
done
# test/multi:1 picks this host's platform; --platform picks another
expect_ok "$OCIIMG" unpack -q --platform linux/arm64 --rootfs-only "$L:test/multi:1" "$T/r-arm64" &&
    { grep -qx 'linux/arm64/v8' "$T/r-arm64/platform.txt" || fail "arm64 rootfs: $(cat "$T/r-arm64/platform.txt")"; }
expect_exit 3 "$OCIIMG" unpack --platform linux/s390x "$L:test/multi:1" "$T/b-s390x" || true
[ -e "$T/b-s390x" ] && fail "a bundle appeared for a platform that is not there"

note "all or nothing: a diff_id mismatch leaves no bundle and no temp dir"
"${MKIMAGE[@]}" --tag bad-diff --from test/hello:1 --bad-diff-id -1 >/dev/null
mkdir "$T/fail"
if expect_exit 4 "$OCIIMG" unpack "$L:bad-diff" "$T/fail/bundle"; then
    grep -q "diff_id" "$T/err" || fail "the error does not mention the diff_id: $(cat "$T/err")"
fi
[ -z "$(ls -A "$T/fail")" ] || fail "left behind after a failed unpack: $(ls -A "$T/fail")"
expect_exit 4 "$OCIIMG" unpack --rootfs-only "$L:bad-diff" "$T/fail/rootfs" || true
[ -z "$(ls -A "$T/fail")" ] || fail "left behind after a failed --rootfs-only: $(ls -A "$T/fail")"

note "an existing non-empty BUNDLE: refused and untouched; --force replaces it"
mkdir -p "$T/exist/bundle/rootfs"
echo precious >"$T/exist/bundle/keep.txt"
tree_state "$T/exist" >"$T/before"
if expect_exit 1 "$OCIIMG" unpack "$L:test/hello:1" "$T/exist/bundle"; then
    grep -q -- "--force" "$T/err" || fail "the error does not suggest --force: $(cat "$T/err")"
fi
tree_state "$T/exist" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "a refused unpack changed the existing bundle"
if expect_ok "$OCIIMG" unpack -q --force "$L:test/hello:1" "$T/exist/bundle"; then
    [ -e "$T/exist/bundle/keep.txt" ] && fail "--force kept the old content"
    [ -f "$T/exist/bundle/config.json" ] || fail "--force: no config.json"
    [ "$(ls -A "$T/exist")" = bundle ] || fail "--force left: $(ls -A "$T/exist")"
fi
# --force never replaces the layout it reads, or a directory holding it
cp -R "$L" "$T/exist/L2"
expect_exit 4 "$OCIIMG" unpack --force "$T/exist/L2:test/hello:1" "$T/exist/L2" || true
expect_exit 4 "$OCIIMG" unpack --force "$T/exist/L2:test/hello:1" "$T/exist" || true
[ -f "$T/exist/L2/index.json" ] || fail "--force replaced the layout it was reading"
rm -rf "$T/exist/L2"
mkdir "$T/empty"
expect_ok "$OCIIMG" unpack -q "$L:test/hello:1" "$T/empty" &&
    { [ -f "$T/empty/config.json" ] || fail "an empty directory was not used"; }

note "--rootfs-only: the same tree as the bundle's rootfs, no config.json"
if expect_ok "$OCIIMG" unpack -q --rootfs-only "$L:test/hello:1" "$T/rootfs-only"; then
    [ -e "$T/rootfs-only/config.json" ] && fail "--rootfs-only wrote config.json"
    touch -h -d @0 "$T/rootfs-only" "$B/rootfs"
    "${TREECMP[@]}" "$B/rootfs" "$T/rootfs-only" >"$T/cmp" || fail "--rootfs-only differs: $(head "$T/cmp")"
fi

note "usage errors"
expect_exit 2 "$OCIIMG" unpack "$L:test/hello:1" || true
expect_exit 2 "$OCIIMG" unpack --uid-map 0:1000 "$L:test/hello:1" "$T/x" || true
expect_exit 2 "$OCIIMG" unpack --uid-map 0:100000:65536 "$L:test/hello:1" "$T/x" || true
expect_exit 2 "$OCIIMG" unpack --bogus "$L:test/hello:1" "$T/x" || true
expect_exit 3 "$OCIIMG" unpack "$L:no-such" "$T/x" || true
run "$OCIIMG" unpack --help
[ "$RC" = 0 ] && grep -q "Examples:" "$T/out" || fail "unpack --help"
run "$OCIIMG" export --help
[ "$RC" = 0 ] && grep -q "Examples:" "$T/out" || fail "export --help"

note "export: a tar of the same tree, deterministic, to a file or stdout"
if expect_ok "$OCIIMG" export "$L:test/hello:1" "$T/hello.tar"; then
    tar -tvf "$T/hello.tar" >"$T/list" 2>"$T/tarerr" || fail "GNU tar cannot list the export: $(cat "$T/tarerr")"
    [ -s "$T/tarerr" ] && fail "GNU tar complains: $(cat "$T/tarerr")"
    grep -q '\.wh\.' "$T/list" && fail "the export has whiteout entries"
    mkdir "$T/x-gnu"
    tar --xattrs --xattrs-include='*' --numeric-owner -xpf "$T/hello.tar" -C "$T/x-gnu" ||
        fail "GNU tar cannot extract the export"
    touch -h -d @0 "$T/x-gnu"
    "${TREECMP[@]}" "$B/rootfs" "$T/x-gnu" >"$T/cmp" || fail "export != unpack: $(head "$T/cmp")"
    if command -v bsdtar >/dev/null; then
        bsdtar -tf "$T/hello.tar" >/dev/null 2>"$T/bsd" || fail "bsdtar: $(cat "$T/bsd")"
    fi
    "$OCIIMG" export "$L:test/hello:1" - >"$T/hello2.tar" 2>"$T/err" || fail "export to stdout: $(cat "$T/err")"
    cmp -s "$T/hello.tar" "$T/hello2.tar" || fail "two exports of one image differ"
    [ "$(ls -A "$T" | grep -c '^\.ociimg')" = 0 ] || fail "export left temp files: $(ls -A "$T")"
fi
expect_exit 4 "$OCIIMG" export "$L:bad-diff" "$T/bad.tar" || true
[ -e "$T/bad.tar" ] && fail "a failed export left its output file"
expect_exit 1 "$OCIIMG" export "$L:test/hello:1" "$T" || true

finish
