#!/bin/bash
# `ociimg pull --unpack BUNDLE`: layers applied while they download (Debian's docker-registry,
# the fault proxy in front):
#  - the streamed bundle equals a plain `ociimg unpack` of the pulled layout (rootfs by treecmp,
#    config.json byte for byte) for test/hello:1 (two layers, whiteouts, an opaque dir),
#    test/multi:1 (an index; also --platform linux/arm64), test/zstd:1, test/docker:1 and
#    test/big:1; --rootfs-only too; the layout verifies and unpacks again without the registry;
#  - blobs already in the layout are read from there (a second pull --unpack, no blob GET);
#  - faults: a reset mid-layer (resumed with Range) and a 206 without Content-Range (the blob
#    starts over while its first bytes are already applied) complete with an equal tree; a byte
#    corrupted once ends in a correct bundle (if the applier had read the bad bytes, the
#    layout's verified blob is unpacked again); a byte corrupted always fails with exit 4,
#    no bundle, no temp dir, a valid layout;
#  - a pull --unpack killed mid-layer and run again: the partial download is replayed to the
#    applier, the rest fetched with Range, the tree equal;
#  - an existing non-empty BUNDLE is refused before any request, replaced with --force.
# Ends with "N passed, M failed".  Exit 77 without docker-registry.
source "$(dirname "$0")/../lib/common.sh"
source "$OCIIMG_SRCDIR/tests/lib/registry.sh"

start plain plain --seed --proxy || die "harness did not start"
R=$REG_HOST P=$REG_PROXY_HOST
TREECMP=("$PY" "$TESTS_LIB/treecmp.py")
BIG=$(img "d['images']['test/big:1']['layers'][0]['digest']")

# same NAME BUNDLE LAYOUTREF [unpack options] : BUNDLE equals `unpack LAYOUTREF` with the options
same() {
    local name=$1 b=$2 ref=$3
    shift 3
    local u=$T/u-${name//[\/:]/_}
    rm -rf "$u"
    if ! "$O" unpack -q "$@" "$ref" "$u" >"$T/uout" 2>&1; then
        bad "$name: plain unpack of $ref"
        show "$T/uout"
        return
    fi
    if [ -f "$u/config.json" ]; then
        # The rootfs directory itself was made, not unpacked: its mtime is now.
        "${TREECMP[@]}" "$u/rootfs" "$b/rootfs" 2>&1 | grep -v '^\.: mtime' >"$T/cmp"
        eq "$name: rootfs equals a plain unpack" "$(wc -l <"$T/cmp")" 0
        check "$name: config.json identical" cmp -s "$u/config.json" "$b/config.json"
    else
        "${TREECMP[@]}" "$u" "$b" 2>&1 | grep -v '^\.: mtime' >"$T/cmp"
        eq "$name: rootfs-only tree equals a plain unpack" "$(wc -l <"$T/cmp")" 0
    fi
    [ -s "$T/cmp" ] && show "$T/cmp"
}

# no_leftovers DIR : nothing but what was expected beside a bundle (no .NAME.ociimg-* temp dir)
no_leftovers() {
    local f
    for f in "$1"/.*.ociimg-*; do [ -e "$f" ] && return 1; done
    return 0
}

note "streamed bundles equal plain unpacks"
for ref in test/hello:1 test/multi:1 test/zstd:1 test/docker:1 test/big:1; do
    if [ "$(img "'$ref' in d['images']")" != True ]; then
        note "skip $ref: $(img "d.get('skipped', {}).get('$ref', 'not built')")"
        continue
    fi
    n=${ref//[\/:]/_}
    L=$T/l-$n B=$T/b-$n
    "$O" pull --tls-verify=false --unpack "$B" "$R/$ref" "$L:x" >"$T/out" 2>"$T/err"
    eq "$ref: pull --unpack" "$?" 0 || show "$T/err"
    check "$ref: the summary names the bundle" grep -q "^Unpacked .* into $B\$" "$T/err"
    check "$ref: the layout verifies" verify_ok "$L"
    check "$ref: bundle mode 0700" test "$(stat -c %a "$B")" = 700
    check "$ref: no temp dir left" no_leftovers "$T"
    same "$ref" "$B" "$L:x"
done

note "--platform, --rootfs-only, --json"
L=$T/l-arm B=$T/b-arm
"$O" pull -q --tls-verify=false --platform linux/arm64 --rootfs-only --unpack "$B" \
    "$R/test/multi:1" "$L:arm" >"$T/out" 2>"$T/err"
eq "multi arm64 --rootfs-only" "$?" 0 || show "$T/err"
eq "the arm64 layer" "$(cat "$B/platform.txt" 2>/dev/null)" "linux/arm64/v8"
check "no config.json" test ! -e "$B/config.json"
same arm64-rootfs "$B" "$L:arm" --rootfs-only
"$O" pull -q --json --tls-verify=false --unpack "$T/b-json" "$R/test/hello:1" "$T/l-json" \
    >"$T/json" 2>"$T/err"
eq "--json with --unpack" "$?" 0
eq "--json: unpacked.layers" "$(jget "$T/json" "d['unpacked']['layers']")" 2
eq "--json: unpacked.path" "$(jget "$T/json" "d['unpacked']['path']")" "$T/b-json"

note "blobs already in the layout"
L=$T/l-test_hello_1
reset_stats
"$O" pull -q --tls-verify=false --unpack "$T/b-again" "$P/test/hello:1" "$L:again" >"$T/out" 2>"$T/err"
eq "second pull --unpack into the same layout" "$?" 0 || show "$T/err"
stats "$T/stats"
eq "no blob GET" "$(jget "$T/stats" "d['blob_gets']")" 0
eq "one manifest GET (the pull hands it to the applier)" "$(jget "$T/stats" "d['manifest_gets']")" 1
same again "$T/b-again" "$L:x"
reset_stats
"$O" pull -q --tls-verify=false --platform linux/arm64 --unpack "$T/b-idx" "$P/test/multi:1" \
    "$T/l-idx:arm" >"$T/out" 2>"$T/err"
eq "an index through the proxy" "$?" 0 || show "$T/err"
stats "$T/stats"
eq "two manifest GETs: the index and arm64's manifest" "$(jget "$T/stats" "d['manifest_gets']")" 2
same idx-arm64 "$T/b-idx" "$T/l-idx:arm"
# Half of it present: the config and one layer only.
L=$T/l-half
"$O" pull -q --tls-verify=false "$R/test/hello:1" "$L:x" >/dev/null 2>&1
rm -f "$L/blobs/sha256/$(img "d['images']['test/hello:1']['layers'][1]['digest'][7:]")"
"$O" pull -q --tls-verify=false --unpack "$T/b-half" "$R/test/hello:1" "$L:x" >"$T/out" 2>"$T/err"
eq "one layer present, one fetched" "$?" 0 || show "$T/err"
same half "$T/b-half" "$L:x"

note "existing destination"
mkdir -p "$T/full" && echo keep >"$T/full/file"
reset_stats
"$O" pull -q --tls-verify=false --unpack "$T/full" "$P/test/hello:1" "$T/l-full" >"$T/out" 2>"$T/err"
eq "a non-empty BUNDLE: exit 1" "$?" 1
check "the error says --force" grep -q -- "--force" "$T/err"
eq "the old content is untouched" "$(cat "$T/full/file")" keep
stats "$T/stats"
eq "refused before any request" "$(jget "$T/stats" "d['requests']")" 0
"$O" pull -q --tls-verify=false --force --unpack "$T/full" "$R/test/hello:1" "$T/l-full" \
    >"$T/out" 2>"$T/err"
eq "--force replaces it" "$?" 0
check "--force: the old file is gone" test ! -e "$T/full/file"
same force "$T/full" "$T/l-full:1"
mkdir -p "$T/empty"
"$O" pull -q --tls-verify=false --unpack "$T/empty" "$R/test/hello:1" "$T/l-full" >"$T/out" 2>"$T/err"
eq "an empty BUNDLE directory is fine" "$?" 0
"$O" pull -q --tls-verify=false --rootfs-only "$R/test/hello:1" "$T/l-full" >"$T/out" 2>"$T/err"
eq "--rootfs-only without --unpack: usage error" "$?" 2

# fault NAME RULES WANT-EXIT : pull --unpack test/big:1 through the proxy with RULES
fault() {
    local name=$1 want=$3
    L=$T/f-$name B=$T/fb-$name
    seeded_layout "$L"
    rules "$2"
    reset_stats
    timeout 120 "$O" pull --tls-verify=false --unpack "$B" "$P/test/big:1" "$L:big" >"$T/out" 2>"$T/err"
    RC=$?
    stats "$T/stats"
    eq "$name: exit $want" "$RC" "$want"
    [ "$RC" = "$want" ] || show "$T/err"
    check "$name: the layout verifies" verify_ok "$L"
    check "$name: no temp dir left" no_leftovers "$T"
}
ranges() { jget "$T/stats" "[l['range'] for l in d['log'] if '$BIG' in l['path']]"; }

note "faults"
fault reset "[{\"method\":\"GET\",\"path\":\"/blobs/$BIG\",\"action\":\"reset\",\"after_bytes\":3000000}]" 0
eq "reset: resumed with Range" "$(ranges)" '[null, "bytes=3000000-"]'
same reset "$B" "$T/l-test_big_1:x"
fault restart "[{\"method\":\"GET\",\"path\":\"/blobs/$BIG\",\"range\":false,\"action\":\"reset\",\"after_bytes\":2000000},
    {\"method\":\"GET\",\"path\":\"/blobs/$BIG\",\"range\":true,\"action\":\"pass\",\"remove_headers\":[\"Content-Range\"],\"times\":-1}]" 0
eq "restart: the blob started over" "$(ranges)" '[null, "bytes=2000000-", null]'
same restart "$B" "$T/l-test_big_1:x"
fault corrupt-once "[{\"method\":\"GET\",\"path\":\"/blobs/$BIG\",\"action\":\"corrupt\",\"offset\":5000}]" 0
same corrupt-once "$B" "$T/l-test_big_1:x"
fault corrupt-always "[{\"method\":\"GET\",\"path\":\"/blobs/$BIG\",\"action\":\"corrupt\",\"offset\":-3,\"times\":-1}]" 4
check "corrupt always: no bundle" test ! -e "$B"
check "corrupt always: digest mismatch" grep -q "digest mismatch" "$T/err"

# A pull --unpack SIGKILLed mid-layer, then run again: the partial download is replayed to the
# applier from byte 0, then the rest comes with Range.
L=$T/f-kill B=$T/fb-kill
seeded_layout "$L"
rules "[{\"method\":\"GET\",\"path\":\"/blobs/$BIG\",\"action\":\"trickle\",\"chunk\":65536,\"delay\":0.05,\"range\":false,\"times\":-1}]"
reset_stats
"$O" pull -q --tls-verify=false --unpack "$B" "$P/test/big:1" "$L:big" >/dev/null 2>&1 &
pid=$!
PART=$L/.ociimg/partial/sha256-${BIG#sha256:}
wait_size "$PART" 2000000 || true # the check below reports a short file
kill -KILL "$pid"
wait "$pid" 2>/dev/null
check "killed: part of the layer on disk" test -s "$PART"
check "killed: no bundle" test ! -e "$B"
rules '[]'
# The proxy logs the killed transfer once its writes fail; wait for that before counting.
for _ in $(seq 50); do
    stats "$T/stats"
    [ "$(jget "$T/stats" "sum(1 for l in d['log'] if '$BIG' in l['path'])")" -ge 1 ] && break
    sleep 0.1
done
reset_stats
"$O" pull --tls-verify=false --unpack "$B" "$P/test/big:1" "$L:big" >"$T/out" 2>"$T/err"
eq "rerun after the kill" "$?" 0
check "rerun: resumed" grep -q "resumed" "$T/err"
stats "$T/stats"
first=$(jget "$T/stats" "[l['range'] for l in d['log'] if '$BIG' in l['path']][-1]")
check "rerun: the rest with Range ($first)" test "$first" != None
same kill "$B" "$T/l-test_big_1:x"
check "killed: the layout verifies" verify_ok "$L"
# The SIGKILLed run left its temp dir beside the bundle: not ours to remove, but not the bundle.
rm -rf "$T"/.fb-kill.ociimg-*

note "without the registry: the layouts unpack again"
stop plain
"$O" unpack -q "$T/l-test_hello_1:x" "$T/offline" >"$T/out" 2>"$T/err"
eq "unpack after the registry stopped" "$?" 0
same offline "$T/offline" "$T/l-test_hello_1:x"

summary
