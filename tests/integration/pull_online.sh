#!/bin/bash
# The real thing: Docker Hub (registry-1.docker.io, auth.docker.io) with library/busybox.
# Runs only with OCIIMG_ONLINE=1 (network access; counts against Hub's anonymous rate limit:
# about 4 manifest requests).  Checks pull by tag for two platforms, verify, skopeo inspect,
# inspect docker://, and the error for a repository that does not exist (Hub answers 401).
# Ends with "N passed, M failed".
source "$(dirname "$0")/../lib/common.sh"
set +e
set -u
[ "${OCIIMG_ONLINE:-0}" = 1 ] || { echo "SKIP: $TEST_NAME: set OCIIMG_ONLINE=1 to run it (needs Docker Hub)" >&2; exit 77; }
need_ociimg
O=$OCIIMG
PASS=0 FAILED=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
bad() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }
eq() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
export HOME=$T/home
mkdir -p "$HOME"
unset DOCKER_CONFIG REGISTRY_AUTH_FILE

timeout 300 "$O" pull --json busybox:latest "$T/l:bb" >"$T/json" 2>"$T/err"
eq "pull busybox:latest from Docker Hub" "$?" 0
sed -n '1,20s/^/    | /p' "$T/err"
check "verify" "$O" verify "$T/l"
check "linux/amd64 or the host's platform" test -n "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["platforms"][0])' "$T/json")"
if command -v skopeo >/dev/null; then
    check "skopeo inspect oci:DIR:bb" bash -c "skopeo inspect oci:$T/l:bb >/dev/null"
fi
timeout 300 "$O" pull -q --platform linux/arm64 docker.io/library/busybox:latest "$T/l:arm64" 2>"$T/err"
eq "pull --platform linux/arm64" "$?" 0
timeout 120 "$O" inspect --raw docker://busybox:latest >"$T/raw" 2>"$T/err"
eq "inspect --raw docker://busybox:latest" "$?" 0
check "an index or manifest list" grep -q '"manifests"' "$T/raw"
timeout 120 "$O" pull -q docker.io/ociimg-no-such-user/no-such-repo:1 "$T/l:x" 2>"$T/err"
eq "a repository that does not exist: exit 1" "$?" 1
check "the error explains Docker Hub's 401" grep -q "Docker Hub answers 401 for repositories that do not exist" "$T/err"
echo "$PASS passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
