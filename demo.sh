#!/bin/bash
# The ociimg demo: pull an image from a registry into an OCI layout, unpack it
# into a runtime bundle, and run it -- with ociimg's own runtime and, when
# installed, with runc.
#
#   sudo bash demo.sh            offline: a local docker-registry on loopback,
#                                seeded with testdata's generated busybox image
#   OCIIMG_ONLINE=1 sudo bash demo.sh   pulls docker.io/library/busybox instead
#
# It installs what it needs (Debian 12, as root), builds into build-demo/, prints
# each step, and stops everything it started.  Set OCIIMG_DEMO_NO_DEPS=1 to
# skip the package installation.
set -euo pipefail
exec </dev/null
cd "$(dirname "${BASH_SOURCE[0]}")"
SRC=$PWD
PY=/usr/bin/python3

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it installs packages and runs containers)" >&2; exit 1; }

if [ "${OCIIMG_DEMO_NO_DEPS:-0}" != 1 ]; then
    step "install the build and runtime dependencies (apt-get)"
    bash .ci/run --deps-only
fi

step "build ociimg and ocirun"
cmake -S "$SRC" -B build-demo -DOCIIMG_TESTS=OFF >/dev/null
cmake --build build-demo -j2 >/dev/null
OCIIMG=$SRC/build-demo/cmd/ociimg
OCIRUN=$SRC/build-demo/cmd/ocirun/ocirun
echo "built $OCIIMG and $OCIRUN"

# The layout and bundle stay in build-demo/ for the "what to try next";
# the registry and runtime state go away at the end.
D=$SRC/build-demo/demo
rm -rf "$D" && mkdir -p "$D"
W=$(mktemp -d /tmp/ociimg-demo.XXXXXX)
cleanup() {
    [ -f "$W/reg/state.json" ] && "$PY" "$SRC/tests/registry/harness.py" stop --state-dir "$W/reg" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT

if [ "${OCIIMG_ONLINE:-0}" = 1 ]; then
    REF=docker.io/library/busybox:latest
    PULL_OPTS=()
    NAME=busybox
else
    step "start a local registry (Debian's docker-registry on loopback) seeded from testdata/"
    "$PY" "$SRC/tests/registry/harness.py" start --variant plain --state-dir "$W/reg" --seed \
        --parent-pid $$ >"$W/reg.json"
    HOSTPORT=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["host"])' "$W/reg.json")
    echo "registry at http://$HOSTPORT"
    REF=$HOSTPORT/test/busybox:1
    PULL_OPTS=(--tls-verify=false) # a plain-HTTP registry on loopback
    NAME=busybox
fi

step "pull $REF into the OCI image layout $D/images"
show "$OCIIMG" pull "${PULL_OPTS[@]}" "$REF" "$D/images:$NAME"
show "$OCIIMG" ls "$D/images"
show "$OCIIMG" verify "$D/images"

step "unpack it into a runtime bundle (rootfs + config.json)"
show "$OCIIMG" unpack "$D/images:$NAME" "$D/bundle"
ls "$D/bundle"
"$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); print("process.args:", c["process"]["args"])' "$D/bundle/config.json"

step "run the bundle with ocirun (ociimg's runc-compatible runtime)"
"$PY" - "$D/bundle/config.json" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["sh", "-c", "echo hello from a container: $(hostname), pid $$; id"]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PYEOF
show "$OCIRUN" --root "$W/state" run --bundle "$D/bundle" demo-$$

if command -v runc >/dev/null; then
    step "the same bundle under runc"
    show runc --root "$W/runc" run --bundle "$D/bundle" demo-runc-$$
fi

step "or all in one: ociimg run"
show "$OCIIMG" run --rm --root "$W/state" "$D/images:$NAME" -- sh -c 'echo hi from ociimg run; uname -s'

step "or straight from the registry: ociimg run REF (pulled into a store and unpacked while it downloads)"
show "$OCIIMG" run --rm --root "$W/state" --store "$D/store" "${PULL_OPTS[@]}" "$REF" -- \
    sh -c 'echo hi from ociimg run REF'
echo "(again: the store has it, so no pull and no unpack)"
show "$OCIIMG" run --rm --root "$W/state" --store "$D/store" --pull=never "$REF" -- echo second run
show "$OCIIMG" images --store "$D/store"

cat <<EOF2

What to try next:
  $OCIIMG inspect $D/images:$NAME          the manifest and config as JSON
  $OCIIMG export $D/images:$NAME - | tar -t   the flattened rootfs as a tar stream
  $OCIIMG pull --platform linux/arm64 alpine:3.19 ./images   (with network access)
  $OCIRUN run -b $D/bundle c1    runc's workflow with ocirun
  $OCIIMG pull --unpack ./bundle2 busybox ./images   pull and unpack in one streamed pass (with network access)
  $OCIIMG images --store $D/store; $OCIIMG prune --store $D/store   the store of \`ociimg run REF\`
  bash tests/run.sh                          the whole test suite
(The registry is stopped; the layout and the bundle stay in $D.)
EOF2
