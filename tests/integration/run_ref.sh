#!/bin/bash
# `ociimg run REF` through the default store, `images`, `rmi`, `prune`, against Debian's
# docker-registry with the fault proxy in front (to count requests), in a store under $T
# (OCIIMG_STORE, never /var/lib/ociimg):
#  - the first run pulls, unpacks and prints; a second run makes no request at all and does
#    not unpack again (the cache entry keeps its inode and mtime); --pull=always|never;
#  - a container's writes go to its own layer (overlay, and --copy): the cached rootfs and a
#    second container do not see them; --rm leaves no directory and no mount;
#  - the container's exit status is ociimg's; a running container survives prune;
#  - images (table, --json), rmi (untag, rootfs, blobs), prune (stopped containers);
#  - two concurrent runs of an image not in the store both succeed with one cache entry;
#  - prune fails when it cannot list the containers; --copy keeps hard links;
#  - the global --log-level=warn and --quiet silence run's and pull's notes; --store DIR/ is 0700.
# Ends with "N passed, M failed".  Exit 77 without docker-registry, busybox or root.
source "$(dirname "$0")/../lib/common.sh"
[ "$(id -u)" = 0 ] || skip "running containers needs root"
[ -x /bin/busybox ] || skip "busybox-static not installed (apt-get install busybox-static)"
source "$OCIIMG_SRCDIR/tests/lib/registry.sh"

start plain plain --seed --proxy || die "harness did not start"
P=$REG_PROXY_HOST
REF=$P/test/busybox:1
export OCIIMG_STORE=$T/store
S=$OCIIMG_STORE
mkdir -p "$T/state"
RUN=("$O" run --root "$T/state" --tls-verify=false)
MANIFEST=$(img "d['images']['test/busybox:1']['digest']")
HEX=${MANIFEST#sha256:}
CACHE=$S/rootfs/$HEX
requests() { stats "$T/stats" && jget "$T/stats" "d['requests']"; }
no_store_mounts() { ! grep -qF "$S" /proc/self/mountinfo; }
containers() { ls -A "$S/containers" 2>/dev/null | tr '\n' ' '; }

note "the first run pulls, unpacks and runs"
reset_stats
run "${RUN[@]}" --rm "$REF" -- echo hi
eq "run REF -- echo hi" "$RC" 0
eq "prints hi" "$(cat "$T/out")" hi
check "it pulled" grep -q "^Pulled $REF" "$T/err"
check "it unpacked" grep -qE "^Unpack(ing|ed) ${MANIFEST:0:19}" "$T/err"
check "it asked the registry" test "$(requests)" -gt 0
check "one cache entry, by manifest digest" test -f "$CACHE/config.json" -a -x "$CACHE/rootfs/bin/busybox"
eq "nothing else in rootfs/" "$(ls -A "$S/rootfs")" "$HEX"
eq "the layout names it by its reference" \
    "$(jget "$S/layout/index.json" "[m['annotations']['org.opencontainers.image.ref.name'] for m in d['manifests']]")" \
    "[\"$REF\"]"
eq "--rm: no container directory left" "$(containers)" ""
check "--rm: no mount left" no_store_mounts

note "a second run neither pulls nor unpacks"
before=$(stat -c '%i %Y' "$CACHE" "$CACHE/rootfs")
reset_stats
run "${RUN[@]}" --rm "$REF" -- echo again
eq "second run" "$RC" 0
eq "prints again" "$(cat "$T/out")" again
eq "no request reached the registry" "$(requests)" 0
check "no pull or unpack message" test ! -s "$T/err"
eq "cache entry untouched (inode, mtime)" "$(stat -c '%i %Y' "$CACHE" "$CACHE/rootfs")" "$before"

note "--pull=always asks the registry, --pull=never does not"
reset_stats
run "${RUN[@]}" --rm -q --pull=always "$REF" -- true
eq "--pull=always" "$RC" 0
stats "$T/stats"
eq "one manifest GET, no blob GET" "$(jget "$T/stats" "[d['manifest_gets'], d['blob_gets']]")" "[1, 0]"
eq "still unpacked once" "$(stat -c '%i %Y' "$CACHE" "$CACHE/rootfs")" "$before"
reset_stats
run "${RUN[@]}" --rm --pull=never "$P/test/hello:1" -- true
eq "--pull=never, not in the store: exit 3" "$RC" 3
check "it says so" grep -q "not in the store" "$T/err"
eq "no request" "$(requests)" 0
run "${RUN[@]}" --pull=sometimes "$REF"
eq "bad --pull: usage error" "$RC" 2

note "exit status"
run "${RUN[@]}" --rm "$REF" -- sh -c 'exit 7'
eq "the container's exit status is ociimg's" "$RC" 7
run "${RUN[@]}" --rm "$REF" -- /no/such/binary
eq "an exec failure: exit 1" "$RC" 1

note "each container has its own writable layer"
run "${RUN[@]}" --name w1 "$REF" -- sh -c 'echo data >/etc/written; rm /bin/ls; cat /etc/written'
eq "a container writes a file" "$RC" 0
eq "it reads it back" "$(cat "$T/out")" data
check "the container is kept without --rm" test -d "$S/containers/w1"
check "the message names prune" grep -q "ociimg prune" "$T/err"
check "its write is in its own layer" test -f "$S/containers/w1/upper/etc/written"
check "the cached rootfs did not change" test ! -e "$CACHE/rootfs/etc/written" -a -e "$CACHE/rootfs/bin/ls"
run "${RUN[@]}" --rm "$REF" -- sh -c 'test ! -e /etc/written && test -e /bin/ls && echo clean'
eq "a second container does not see it" "$(cat "$T/out")" clean
check "no mount left" no_store_mounts
run "${RUN[@]}" --name w1 "$REF" -- true
eq "a name in use: refused" "$RC" 1
check "the error names the container" grep -q "container w1" "$T/err"

note "--copy: a full copy instead of an overlay"
run "${RUN[@]}" --rm --copy --name c1 "$REF" -- sh -c 'echo x >/etc/copied; rm /bin/ls; ls -l /bin/busybox >/dev/null && echo ok'
eq "run --copy" "$RC:$(cat "$T/out")" 0:ok
check "the cached rootfs did not change" test ! -e "$CACHE/rootfs/etc/copied" -a -e "$CACHE/rootfs/bin/ls"
check "--rm removed the copy" test ! -e "$S/containers/c1"
# Hard links survive the copy, also past the link table's growth (64, 128, ... slots).
mkdir "$CACHE/rootfs/hl"
for i in $(seq 150); do echo "$i" >"$CACHE/rootfs/hl/f$i" && ln "$CACHE/rootfs/hl/f$i" "$CACHE/rootfs/hl/g$i"; done
run "${RUN[@]}" --rm --copy "$REF" -- sh -c 'n=0 i=1; while [ $i -le 150 ]; do
    [ "$(stat -c "%i %h" /hl/f$i)" = "$(stat -c "%i %h" /hl/g$i)" ] && [ "$(stat -c %h /hl/f$i)" = 2 ] &&
        [ "$(cat /hl/g$i)" = $i ] && n=$((n + 1)); i=$((i + 1)); done; echo $n'
eq "--copy keeps 150 hard-linked pairs" "$RC:$(cat "$T/out")" "0:150"
rm -rf "$CACHE/rootfs/hl"

note "images"
run "$O" images
eq "images" "$RC" 0
check "lists the reference, unpacked" grep -Eq "^$REF +sha256:${HEX:0:12} .* yes " "$T/out"
run "$O" images --json
eq "images --json" "$RC" 0
eq "--json: reference, digest, unpacked" \
    "$(jget "$T/out" "[(i['reference'], i['digest'], i['unpacked']) for i in d]")" \
    "[[\"$REF\", \"$MANIFEST\", true]]"
check "--json: size and created" jget "$T/out" "d[0]['size'] > 0 and d[0]['created'] or exit(1)"
run "$O" images -q
eq "images -q" "$(cat "$T/out")" "$REF"

note "prune leaves running containers alone, removes stopped ones"
"${RUN[@]}" --name live "$REF" -- sh -c 'echo ready; sleep 2' >"$T/live.out" 2>&1 &
live=$!
for _ in $(seq 100); do grep -q ready "$T/live.out" 2>/dev/null && break; sleep 0.1; done
run "$O" prune --dry-run
check "prune --dry-run names the stopped container" grep -q "^Would remove container w1" "$T/out"
check "and leaves it" test -d "$S/containers/w1"
# What an unpack killed before its rename leaves (oimg_unpack's temp dir beside the entry).
mkdir -p "$S/rootfs/.$HEX.ociimg-Xk1lld/rootfs/bin"
run "$O" prune
eq "prune" "$RC" 0
check "it removed a killed unpack's temp dir" grep -q "^Removed unfinished unpack rootfs/.$HEX.ociimg-Xk1lld" "$T/out"
eq "rootfs/ holds only the entry" "$(ls -A "$S/rootfs")" "$HEX"
check "it removed the stopped container" grep -q "^Removed container w1" "$T/out"
check "it prints what was freed" grep -q "^Total freed: " "$T/out"
check "the running one is still there" test -d "$S/containers/live"
check "the image's rootfs is kept (tagged)" test -d "$CACHE/rootfs"
wait "$live"
eq "the running container finished normally" "$?" 0
run "$O" prune -q
eq "prune again" "$RC:$(containers)" "0:"
check "no mount left" no_store_mounts

OCIRUN=${OCIIMG_BUILDDIR:-}/cmd/ocirun/ocirun
if [ -x "$OCIRUN" ]; then
    note "a container whose run was killed: prune asks the runtime"
    "${RUN[@]}" --name orphan "$REF" -- sh -c 'echo ready; exec sleep 30' >"$T/orphan.out" 2>&1 &
    orphan=$!
    for _ in $(seq 100); do grep -q ready "$T/orphan.out" 2>/dev/null && break; sleep 0.1; done
    kill -KILL "$orphan"
    wait "$orphan" 2>/dev/null
    if "$OCIRUN" --root "$T/state" state orphan 2>/dev/null | grep -q '"running"'; then
        run "$O" prune
        check "a running container of a killed run is left alone" test -d "$S/containers/orphan"
        check "prune says why" grep -q "container orphan is running" "$T/err"
        "$OCIRUN" --root "$T/state" kill orphan KILL
        for _ in $(seq 50); do
            "$OCIRUN" --root "$T/state" state orphan 2>/dev/null | grep -q '"stopped"' && break
            sleep 0.1
        done
    else
        note "the container died with its run; nothing to leave alone"
    fi
    run "$O" prune
    eq "once stopped, prune removes it" "$RC:$(containers)" "0:"
    check "and deletes it from the runtime" test -z "$(ls -A "$T/state")"
fi

note "rmi"
"${RUN[@]}" -q --name keep "$REF" -- true >/dev/null 2>&1
run "$O" rmi "$REF"
eq "rmi REF" "$RC" 0
check "untagged" grep -q "^Untagged $REF" "$T/out"
check "a container still uses the rootfs: kept" test -d "$CACHE/rootfs"
run "$O" prune
check "prune removes the container, then the rootfs" test ! -e "$CACHE" -a ! -e "$S/containers/keep"
check "prune removed the blobs" test -z "$(ls -A "$S/layout/blobs/sha256")"
"${RUN[@]}" -q --rm "$REF" -- true >/dev/null 2>&1
run "$O" rmi "$REF"
eq "rmi REF (no container)" "$RC" 0
check "the rootfs is gone" test ! -e "$CACHE"
check "it says what was freed" grep -q "^Total freed: " "$T/out"
eq "the blobs are gone" "$(ls -A "$S/layout/blobs/sha256" | wc -l)" 0
run "$O" images -q
eq "images: empty" "$RC:$(cat "$T/out")" "0:"
run "$O" rmi "$REF"
eq "rmi of an image not in the store: exit 3" "$RC" 3

note "two concurrent runs of an image not in the store"
reset_stats
"${RUN[@]}" --rm "$REF" -- echo one >"$T/c1.out" 2>"$T/c1.err" &
a=$!
"${RUN[@]}" --rm "$REF" -- echo two >"$T/c2.out" 2>"$T/c2.err" &
b=$!
wait "$a"
ra=$?
wait "$b"
rb=$?
eq "both succeed" "$ra $rb $(cat "$T/c1.out") $(cat "$T/c2.out")" "0 0 one two"
eq "one cache entry, no temp dir" "$(ls -A "$S/rootfs")" "$HEX"
eq "unpacked once" "$(cat "$T/c1.err" "$T/c2.err" | grep -cE '^Unpack(ing|ed)')" 1
stats "$T/stats"
eq "blobs fetched once (layer and config)" "$(jget "$T/stats" "d['blob_gets']")" 2
eq "no container left" "$(containers)" ""
check "no mount left" no_store_mounts

note "a layout directory still runs as before"
"$O" pull -q --tls-verify=false "$REG_HOST/test/busybox:1" "$T/L:bb" 2>/dev/null
run "${RUN[@]}" --rm "$T/L:bb" -- echo from-layout
eq "run DIR:NAME" "$RC:$(cat "$T/out")" "0:from-layout"

note "prune does not guess when it cannot list the containers"
mv "$S/containers" "$S/containers.aside" && touch "$S/containers"
run "$O" prune --dry-run
eq "containers/ not a directory: prune fails" "$RC" 1
check "it names containers/" grep -q "containers" "$T/err"
rm "$S/containers" && mv "$S/containers.aside" "$S/containers"

note "the global --log-level and --quiet"
run "$O" --log-level=warn run --root "$T/state" --tls-verify=false --rm --pull=always "$REF" -- echo lw
eq "--log-level=warn run --pull=always" "$RC:$(cat "$T/out")" "0:lw"
check "--log-level=warn: no pull message" test ! -s "$T/err"
run "$O" --quiet pull --tls-verify=false "$REF" "$T/Lq"
eq "--quiet pull" "$RC" 0
check "--quiet pull: no progress or summary" test ! -s "$T/err"
run "${RUN[@]}" --store "$T/store2/" --pull=never "$REF" -- true
eq "--store DIR/, image missing: exit 3" "$RC" 3
eq "a store made from DIR/ is private" "$(stat -c %a "$T/store2")" 700

summary
