#!/bin/bash
# `ociimg pull` into a layout on a full filesystem: a 4 MiB tmpfs, mounted inside `unshare -m`
# (a private mount namespace: nothing is left mounted on the host, whatever happens), holding
# a layout with test/hello:1; pulling test/big:1 (an 8 MiB layer) fails with a clear message
# naming "No space left on device" (non-zero exit, no crash, one error line), and the layout
# stays valid: verify passes, index.json is unchanged, blobs/ holds only true blobs.  Then the
# tmpfs is remounted with 32 MiB and the rerun completes (the writer drops a partial download
# whose write failed, since the file may then hold bytes the hash has not seen: it starts over).
# Exit 77 without docker-registry, or when mount namespaces are not available (not root).
source "$(dirname "$0")/../lib/common.sh"
source "$OCIIMG_SRCDIR/tests/lib/registry.sh"
need_cmd unshare mount umount
[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs in a mount namespace"
unshare -m --propagation private true 2>/dev/null || skip "unshare -m does not work here"

start enospc plain --proxy || die "harness did not start"
"$PY" "$H" seed --state-dir "$T/s-enospc" --only test/hello,test/big >/dev/null 2>"$T/seed.err" || {
    show "$T/seed.err"
    die "seeding failed"
}
use enospc
BIG=$(jget "$T/s-enospc/images.json" "d['images']['test/big:1']['layers'][0]['digest']")

cat >"$T/inner.sh" <<'EOF'
# runs in the private mount namespace; prints "ok - ..." / "not ok - ..." lines
O=$1 M=$2 P=$3 CL=$4 BIG=$5
say() { if [ "$2" = 0 ]; then echo "ok - $1"; else echo "not ok - $1"; fi; }
mount -t tmpfs -o size=4m,mode=0755 ociimg-enospc "$M" || { echo "not ok - mount the tmpfs"; exit 1; }
L=$M/layout
"$O" pull -q --tls-verify=false "$P/test/hello:1" "$L:hello" >/dev/null 2>"$M.err1"
say "test/hello:1 fits" $?
before=$(sha256sum <"$L/index.json")
timeout 120 "$O" pull --tls-verify=false --retry 1 "$P/test/big:1" "$L:big" >/dev/null 2>"$M.err"
rc=$?
df -k "$M" | tail -1 | awk '{print "# tmpfs: " $3 " KiB used of " $2}'
sed 's/^/# stderr: /' "$M.err" | tail -3
[ "$rc" -ne 0 ] && [ "$rc" -lt 128 ]
say "the pull fails without crashing (exit $rc)" $?
grep -q "No space left on device" "$M.err"
say "the message says \"No space left on device\"" $?
[ "$(grep -c '^ociimg: pull: ' "$M.err")" = 1 ] && [ "$(tail -1 "$M.err" | grep -c '^ociimg: pull: ')" = 1 ]
say "one error line, last" $?
"$O" verify -q "$L" >"$M.verify" 2>&1
say "verify passes" $?
[ "$(sha256sum <"$L/index.json")" = "$before" ]
say "index.json is unchanged" $?
$CL check-blobs "$L" >"$M.blobs"
say "blobs/ holds only true blobs" $?
[ ! -e "$L/blobs/sha256/${BIG#sha256:}" ]
say "the big layer is not in blobs/" $?
part=$(stat -c %s "$L/.ociimg/partial/sha256-${BIG#sha256:}" 2>/dev/null || echo 0)
echo "# partial download kept: $part bytes"
mount -o remount,size=32m "$M"
say "remount with 32 MiB" $?
"$O" pull --json --tls-verify=false "$P/test/big:1" "$L:big" >"$M.json" 2>"$M.err2"
say "the rerun completes" $?
sed 's/^/# stderr: /' "$M.err2" | tail -3
"$O" verify -q "$L" >/dev/null 2>&1 && $CL check-blobs "$L" >/dev/null
say "verify passes, blobs are true" $?
names=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in json.load(open(sys.argv[1]))["manifests"])))' "$L/index.json")
[ "$names" = "big hello" ]
say "index.json names big and hello ($names)" $?
/usr/bin/python3 -c 'import json,sys; print("# resumed: %s bytes" % json.load(open(sys.argv[1]))["bytes"]["resumed"])' "$M.json" 2>/dev/null
umount "$M"
EOF
mkdir -p "$T/mnt"
timeout 300 unshare -m --propagation private bash "$T/inner.sh" "$O" "$T/mnt" "$REG_PROXY_HOST" \
    "$PY $OCIIMG_SRCDIR/tests/lib/crashlib.py" "$BIG" >"$T/inner.out" 2>&1
echo "inner exit $?"
cat "$T/inner.out"
PASS=$((PASS + $(grep -c '^ok - ' "$T/inner.out")))
FAILED=$((FAILED + $(grep -c '^not ok - ' "$T/inner.out")))
eq "all steps ran" "$(grep -c 'ok - ' "$T/inner.out")" 12
check "nothing stays mounted on the host" bash -c "! grep -q ' $T/mnt ' /proc/self/mounts"
summary
