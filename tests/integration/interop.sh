#!/bin/bash
# Interop with skopeo and umoci:
#  - a layout written by `skopeo copy` (docker-archive and oci sources, one
#    multi-platform) is read correctly by ociimg ls/inspect/verify;
#  - after ociimg tag/untag/gc, skopeo and umoci still accept the layout;
#  - after umoci tag/gc, ociimg still reads and verifies it.
source "$(dirname "$0")/../lib/common.sh"
need_shared
need_ociimg
need_cmd skopeo umoci
[ -x "$PY" ] || skip "$PY not found"

FIX=$OCIIMG_SHARED/fixtures
FXPY=$TESTS_LIB/fixtures.py
GCR=$FIX/google-go-containerregistry/pkg/v1
L=$T/layout

entry_digest() { # entry_digest DIR NAME
    "$PY" "$FXPY" index-entry "$1" "$2" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["digest"])'
}

# skopeo keeps its temporary files out of the test tree and never asks.
export TMPDIR=$T

note "skopeo copy into $L"
skopeo copy --quiet "docker-archive:$GCR/tarball/testdata/test_image_1.tar" "oci:$L:src" ||
    die "skopeo copy docker-archive -> oci failed"
skopeo copy --quiet "docker-archive:$GCR/mutate/testdata/whiteout_image.tar" "oci:$L:wh" ||
    die "skopeo copy of whiteout_image failed"
copy_layout "$FIX/anchore-stereoscope/pkg/image/oci/testdata/multiplatform_oci_dir" "$T/mp"
skopeo copy --quiet --all "oci:$T/mp:latest" "oci:$L:multi" ||
    die "skopeo copy --all of a multi-platform index failed"

src=$(entry_digest "$L" src)
wh=$(entry_digest "$L" wh)
multi=$(entry_digest "$L" multi)
arm64=$("$PY" -c '
import json, sys
idx = json.load(open(sys.argv[1] + "/blobs/" + sys.argv[2].replace(":", "/")))
print([m["digest"] for m in idx["manifests"] if m["platform"]["architecture"] == "arm64"][0])' "$L" "$multi")

note "ociimg reads what skopeo wrote"
if expect_ok "$OCIIMG" ls "$L"; then
    for n in src wh multi; do
        grep -qw -- "$n" "$T/out" || fail "ls does not list $n"
    done
    for d in "$src" "$wh" "$multi"; do
        grep -qF -- "${d:7:12}" "$T/out" || fail "ls does not show digest ${d:0:19}"
    done
    grep -q 'linux/arm64' "$T/out" || fail "ls does not show the platforms of multi (linux/arm64)"
fi
if expect_ok "$OCIIMG" inspect "$L:src"; then
    "$PY" "$FXPY" json "$T/out" || fail "inspect $L:src: not JSON"
    grep -q '"amd64"' "$T/out" || fail "inspect $L:src does not show the config (architecture amd64)"
fi
expect_ok "$OCIIMG" inspect --raw "$L:src" &&
    { [ "sha256:$(sha256_of "$T/out")" = "$src" ] || fail "inspect --raw $L:src is not the stored manifest"; }
expect_ok "$OCIIMG" inspect --raw "$L@$src" &&
    { [ "sha256:$(sha256_of "$T/out")" = "$src" ] || fail "inspect --raw $L@$src is not the stored manifest"; }
expect_ok "$OCIIMG" inspect --raw "$L:multi" &&
    { [ "sha256:$(sha256_of "$T/out")" = "$multi" ] || fail "inspect --raw $L:multi is not the stored index"; }
expect_ok "$OCIIMG" inspect --raw --platform linux/arm64 "$L:multi" &&
    { [ "sha256:$(sha256_of "$T/out")" = "$arm64" ] ||
        fail "inspect --raw --platform linux/arm64 $L:multi is not the arm64 manifest ${arm64:0:19}"; }
if expect_ok "$OCIIMG" inspect --platform linux/arm64 "$L:multi"; then
    grep -q '"arm64"' "$T/out" || fail "inspect --platform linux/arm64 does not show the arm64 config"
fi
expect_exit 3 "$OCIIMG" inspect "$L:no-such-name" || true
expect_ok "$OCIIMG" verify "$L" || true
expect_ok "$OCIIMG" verify --all "$L" || true

note "ociimg tag/untag/gc, then skopeo and umoci"
expect_ok "$OCIIMG" tag "$L:src" newname || true
expect_ok "$OCIIMG" tag "$L@$arm64" arm64-only || true
expect_ok "$OCIIMG" untag "$L:wh" || true
"$PY" "$FXPY" blobs "$L" | LC_ALL=C sort >"$T/before"
expect_ok "$OCIIMG" gc "$L" || true
"$PY" "$FXPY" blobs "$L" | LC_ALL=C sort >"$T/after"
"$PY" "$FXPY" reachable "$L" | LC_ALL=C sort >"$T/reach"
[ -z "$(LC_ALL=C comm -23 "$T/reach" "$T/after")" ] || fail "gc removed reachable blobs"
[ -z "$(LC_ALL=C comm -23 "$T/after" "$T/reach")" ] || fail "gc left unreachable blobs (whiteout_image's)"
[ -f "$L/blobs/sha256/${wh#sha256:}" ] && fail "gc kept the untagged manifest ${wh:0:19}"
expect_ok "$OCIIMG" verify "$L" || true

if skopeo inspect "oci:$L:newname" >"$T/sk.json" 2>"$T/sk.err"; then
    got=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["Digest"])' "$T/sk.json")
    [ "$got" = "$src" ] || fail "skopeo inspect oci:$L:newname: digest $got, expected $src"
else
    fail "skopeo inspect oci:$L:newname failed: $(cat "$T/sk.err")"
fi
skopeo inspect "oci:$L:arm64-only" >/dev/null 2>"$T/sk.err" ||
    fail "skopeo inspect oci:$L:arm64-only failed: $(cat "$T/sk.err")"
skopeo inspect --raw "oci:$L:multi" >/dev/null 2>"$T/sk.err" ||
    fail "skopeo inspect --raw oci:$L:multi failed: $(cat "$T/sk.err")"
skopeo copy --quiet --all "oci:$L:multi" "oci:$T/again:multi" 2>"$T/sk.err" ||
    fail "skopeo copy out of the gc'ed layout failed (a blob must be missing): $(cat "$T/sk.err")"
skopeo copy --quiet "oci:$L:newname" "oci:$T/again:newname" 2>"$T/sk.err" ||
    fail "skopeo copy of newname out of the gc'ed layout failed: $(cat "$T/sk.err")"

if umoci ls --layout "$L" >"$T/umoci.out" 2>"$T/umoci.err"; then
    for n in src newname multi arm64-only; do
        grep -qx -- "$n" "$T/umoci.out" || fail "umoci ls does not list $n: $(tr '\n' ' ' <"$T/umoci.out")"
    done
    grep -qx wh "$T/umoci.out" && fail "umoci ls still lists the untagged wh"
else
    fail "umoci ls --layout $L failed: $(cat "$T/umoci.err")"
fi
umoci stat --image "$L:newname" >/dev/null 2>"$T/umoci.err" ||
    fail "umoci stat --image $L:newname failed: $(cat "$T/umoci.err")"

note "umoci writes, ociimg reads"
umoci tag --image "$L:src" by-umoci 2>"$T/umoci.err" || fail "umoci tag failed: $(cat "$T/umoci.err")"
umoci rm --image "$L:arm64-only" 2>"$T/umoci.err" || fail "umoci rm failed: $(cat "$T/umoci.err")"
umoci gc --layout "$L" 2>"$T/umoci.err" || fail "umoci gc failed: $(cat "$T/umoci.err")"
if expect_ok "$OCIIMG" ls "$L"; then
    grep -qw by-umoci "$T/out" || fail "ls does not list by-umoci (written by umoci tag)"
    grep -qw arm64-only "$T/out" && fail "ls still lists arm64-only after umoci rm"
fi
expect_ok "$OCIIMG" inspect --raw "$L:by-umoci" &&
    { [ "sha256:$(sha256_of "$T/out")" = "$src" ] || fail "inspect --raw $L:by-umoci is not the src manifest"; }
expect_ok "$OCIIMG" verify --all "$L" || true

finish
