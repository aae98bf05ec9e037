#!/bin/bash
# `ociimg pull`, `inspect docker://`, `tags` against Debian's docker-registry (plain HTTP, with
# the fault proxy in front for request counting and tag pagination):
#  - by tag, by digest (the name is then the digest), Docker schema2 and manifest lists, zstd
#    layers, a foreign layer fetched from its urls, an index by platform (variants and their
#    fallback), --all-platforms; every layout passes `ociimg verify` and `skopeo inspect`;
#  - a second pull makes no blob request; --json; progress lines; --quiet;
#  - inspect docker:// (JSON, --raw, --config, --platform), tags over three pages;
#  - clear errors: unknown tag/repository, no such platform, connection refused, TLS to plain
#    HTTP.
# Ends with "N passed, M failed".  Exit 77 without docker-registry.
source "$(dirname "$0")/../lib/common.sh"
source "$OCIIMG_SRCDIR/tests/lib/registry.sh"

start plain plain --seed --proxy || die "harness did not start"
R=$REG_HOST P=$REG_PROXY_HOST
HAVE_SKOPEO=0
command -v skopeo >/dev/null && HAVE_SKOPEO=1
skopeo_ok() { [ "$HAVE_SKOPEO" = 0 ] || skopeo inspect "oci:$1" >/dev/null 2>&1; }

note "by tag"
D=$T/l1
"$O" pull --tls-verify=false "$R/test/hello:1" "$D" >"$T/out" 2>"$T/err"
eq "pull test/hello:1" "$?" 0
check "verify passes" verify_ok "$D"
eq "index.json names it 1, pointing at the manifest" \
    "$(jget "$D/index.json" "[m['digest'] for m in d['manifests'] if m['annotations']['org.opencontainers.image.ref.name']=='1'][0]")" \
    "$(img "d['images']['test/hello:1']['digest']")"
check "skopeo inspect oci:DIR:1" skopeo_ok "$D:1"
eq "non-TTY progress: one line per blob" "$(grep -c ': pulled ' "$T/err")" 3
check "a summary line names the reference" grep -q "^Pulled $R/test/hello:1 into $D:1" "$T/err"
eq "nothing on stdout without --json" "$(wc -c <"$T/out")" 0

note "a second pull makes no blob request"
reset_stats
"$O" pull --json --tls-verify=false "$P/test/hello:1" "$D:again" >"$T/json" 2>"$T/err"
eq "second pull through the proxy" "$?" 0
stats "$T/stats"
eq "no blob GET" "$(jget "$T/stats" "d['blob_gets']")" 0
eq "one manifest GET" "$(jget "$T/stats" "d['manifest_gets']")" 1
eq "--json: blobs present" "$(jget "$T/json" "d['blobs']['present']")" 3
eq "--json: nothing fetched" "$(jget "$T/json" "d['bytes']['fetched']")" 0
eq "--json: name" "$(jget "$T/json" "d['name']")" again
eq "--json: platforms" "$(jget "$T/json" "d['platforms']")" '["linux/amd64"]'
"$O" pull -q --tls-verify=false "$R/test/hello:1" "$D:quiet" >"$T/out" 2>"$T/err"
eq "--quiet: no output at all" "$(cat "$T/out" "$T/err" | wc -c)" 0

note "RateLimit-Remaining is shown"
rules '[{"method":"GET","path":"/manifests/","action":"pass","set_headers":{"RateLimit-Remaining":"76;w=21600"},"times":-1}]'
"$O" pull --json --tls-verify=false "$P/test/hello:1" "$D:rl" >"$T/json" 2>"$T/err"
eq "pull with a RateLimit-Remaining header" "$?" 0
check "progress shows it" grep -q "RateLimit-Remaining: 76;w=21600" "$T/err"
eq "--json has it" "$(jget "$T/json" "d['rateLimitRemaining']")" "76;w=21600"
rules '[]'

if command -v script >/dev/null; then
    note "progress on a terminal"
    script -qec "'$O' pull --tls-verify=false '$R/test/zstd:1' '$T/tty'" /dev/null >"$T/tty.out" 2>&1
    eq "pull under a pseudo-terminal" "$?" 0
    check "one row per layer, redrawn in place (cursor-up sequences)" grep -q $'\033\[[0-9]*A' "$T/tty.out"
    check "rows end as 'Pull complete'" grep -q "Pull complete" "$T/tty.out"
fi

note "by digest"
HD=$(img "d['images']['test/hello:1']['digest']")
D=$T/l2
"$O" pull -q --tls-verify=false "$R/test/hello@$HD" "$D" 2>"$T/err"
eq "pull test/hello@digest" "$?" 0
eq "the name is the digest" "$(jget "$D/index.json" "d['manifests'][0]['annotations']['org.opencontainers.image.ref.name']")" "$HD"
check "verify" verify_ok "$D"
check "skopeo inspect oci:DIR:sha256:..." skopeo_ok "$D:$HD"
check "ociimg inspect DIR@digest" bash -c "'$O' inspect '$D@$HD' >/dev/null"
"$O" pull -q --tls-verify=false "$R/test/hello:1@$HD" "$D" 2>"$T/err"
eq "name:tag@digest: the tag names it" "$(jget "$D/index.json" "sorted(m['annotations']['org.opencontainers.image.ref.name'] for m in d['manifests'])")" "[\"1\", \"$HD\"]"
BAD=sha256:0000000000000000000000000000000000000000000000000000000000000000
"$O" pull -q --tls-verify=false "$R/test/hello@$BAD" "$D" 2>"$T/err"
eq "unknown digest: exit 3" "$?" 3

note "index: platforms and variants"
D=$T/l3
want() { img "[m['digest'] for m in d['images']['test/multi:1']['manifests'] if m['platform'].get('architecture')=='$1' and m['platform'].get('variant','')=='$2'][0]"; }
pulled() { jget "$D/index.json" "[m['digest'] for m in d['manifests'] if m['annotations']['org.opencontainers.image.ref.name']=='$1'][0]"; }
"$O" pull -q --tls-verify=false --platform linux/arm64 "$R/test/multi:1" "$D:arm64" &&
    eq "linux/arm64 -> the arm64/v8 manifest" "$(pulled arm64)" "$(want arm64 v8)"
eq "the index.json entry carries the platform" \
    "$(jget "$D/index.json" "[m['platform']['architecture'] for m in d['manifests'] if m['annotations']['org.opencontainers.image.ref.name']=='arm64'][0]")" arm64
"$O" pull -q --tls-verify=false --platform linux/arm/v7 "$R/test/multi:1" "$D:v7" &&
    eq "linux/arm/v7 -> v7" "$(pulled v7)" "$(want arm v7)"
"$O" pull -q --tls-verify=false --platform linux/arm/v6 "$R/test/multi:1" "$D:v6" &&
    eq "linux/arm/v6 -> v6" "$(pulled v6)" "$(want arm v6)"
"$O" pull -q --tls-verify=false --platform linux/arm/v8 "$R/test/multi:1" "$D:v8" &&
    eq "linux/arm/v8 (absent) falls back to the best below: v7" "$(pulled v8)" "$(want arm v7)"
"$O" pull -q --tls-verify=false --platform linux/amd64 "$R/test/multi:1" "$D:amd64" &&
    eq "linux/amd64" "$(pulled amd64)" "$(want amd64 '')"
check "verify" verify_ok "$D"
check "skopeo inspect the arm64 pick" skopeo_ok "$D:arm64"
expect_exit 3 "$O" pull -q --tls-verify=false --platform linux/s390x "$R/test/multi:1" "$D:s390x" &&
    check "no match: the error lists the platforms" \
        grep -q "no manifest for linux/s390x; available: linux/amd64, linux/arm64/v8, linux/arm/v7, linux/arm/v6" "$T/err"
expect_exit 2 "$O" pull --platform linux/arm64 --all-platforms "$R/test/multi:1" "$D"

note "--all-platforms"
D=$T/l4
"$O" pull --json -q --all-platforms --tls-verify=false "$R/test/multi:1" "$D:all" >"$T/json"
eq "pull --all-platforms" "$?" 0
eq "the index is what index.json names" "$(jget "$T/json" "d['digest']")" "$(img "d['images']['test/multi:1']['digest']")"
eq "four platforms" "$(jget "$T/json" "len(d['platforms'])")" 4
eq "five documents (index + 4 manifests)" "$(jget "$T/json" "d['manifests']")" 5
check "verify (every manifest and blob present)" verify_ok "$D"
check "skopeo inspect --raw" bash -c "[ $HAVE_SKOPEO = 0 ] || skopeo inspect --raw oci:$D:all >/dev/null"

note "media types: Docker schema2, manifest list, zstd, foreign layer"
D=$T/l5
for r in test/docker:1 test/zstd:1 test/busybox:1; do
    if [ "$(img "'$r' in d['images']")" = True ]; then
        "$O" pull -q --tls-verify=false "$R/$r" "$D:${r//[\/:]/-}" 2>"$T/err"
        eq "pull $r" "$?" 0
    fi
done
"$O" pull -q --tls-verify=false --platform linux/arm64 "$R/test/dockerlist:1" "$D:dl" 2>"$T/err"
eq "pull test/dockerlist:1 (linux/arm64)" "$?" 0
check "verify" verify_ok "$D"
# Docker media types are kept as served (the digest is the registry's); skopeo 1.9 reads only
# OCI-typed index.json entries, so ociimg checks this one.
check "inspect the Docker image" bash -c "'$O' inspect '$D:test-docker-1' >/dev/null"
if [ "$(img "'test/foreign:1' in d['images']")" = True ]; then
    before=$(curl -s "$REG_FOREIGN_URL/__blobserver__/stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
    "$O" pull -q --tls-verify=false "$R/test/foreign:1" "$D:foreign" 2>"$T/err"
    eq "pull test/foreign:1 (a layer only at its urls)" "$?" 0
    curl -s "$REG_FOREIGN_URL/__blobserver__/stats" >"$T/fs"
    check "the foreign layer came from its URL" test "$(jget "$T/fs" "d['requests']")" -gt "$before"
    eq "without Authorization" "$(jget "$T/fs" "d['saw_authorization']")" False
    check "verify" verify_ok "$D"
fi

note "inspect docker://"
"$O" inspect --tls-verify=false "docker://$R/test/hello:1" >"$T/json" 2>"$T/err"
eq "inspect docker://" "$?" 0
eq "digest" "$(jget "$T/json" "d['digest']")" "$HD"
eq "config digest" "$(jget "$T/json" "d['manifest']['config']['digest']")" "$(img "d['images']['test/hello:1']['config']['digest']")"
eq "platform from the config" "$(jget "$T/json" "d['platform']")" linux/amd64
"$O" inspect --raw --tls-verify=false "docker://$R/test/multi:1" >"$T/raw"
eq "--raw: the stored bytes of the index" "sha256:$(sha256_of "$T/raw")" "$(img "d['images']['test/multi:1']['digest']")"
"$O" inspect --raw --config --platform linux/arm/v6 --tls-verify=false "docker://$R/test/multi:1" >"$T/raw"
eq "--raw --config --platform" "sha256:$(sha256_of "$T/raw")" \
    "$(img "[m['config']['digest'] for m in d['images']['test/multi:1']['manifests'] if m['platform'].get('variant')=='v6'][0]")"
"$O" inspect --platform linux/arm64 --tls-verify=false "docker://$R/test/multi:1" >"$T/json"
eq "--platform: the chosen manifest, the index beside it" "$(jget "$T/json" "(d['digest'], d['index']['digest'])")" \
    "$(want arm64 v8 | sed "s/.*/('&', '$(img "d['images']['test/multi:1']['digest']")')/")"
expect_exit 2 "$O" inspect --tls-verify=false "$T/l1:1"

note "tags, paginated by the proxy"
rules '[{"method":"GET","path":"/tags/list","action":"paginate","page_size":10,"times":-1}]'
reset_stats
"$O" tags --tls-verify=false "$P/test/tags" >"$T/tags" 2>"$T/err"
eq "tags" "$?" 0
eq "all 25 tags" "$(wc -l <"$T/tags")" 25
eq "in order" "$(head -1 "$T/tags") $(tail -1 "$T/tags")" "t00 t24"
stats "$T/stats"
eq "three pages" "$(jget "$T/stats" "sum(1 for l in d['log'] if '/tags/list' in l['path'])")" 3
"$O" tags --json --page-size 7 --tls-verify=false "$P/test/tags" >"$T/tags.json"
eq "--json --page-size 7" "$(jget "$T/tags.json" "len(d)")" 25
rules '[]'

note "errors"
expect_exit 3 "$O" pull -q --tls-verify=false "$R/test/hello:nope" "$T/l6" &&
    check "unknown tag: names host, tag and what to do" \
        grep -q "$R: tag nope of test/hello: manifest not found .*ociimg tags $R/test/hello:nope" "$T/err"
expect_exit 3 "$O" pull -q --tls-verify=false "$R/no/such-repo:1" "$T/l6"
expect_exit 1 "$O" pull -q --retry 0 --tls-verify=false "127.0.0.1:1/test/hello:1" "$T/l6" &&
    check "connection refused: says so" grep -q "cannot connect" "$T/err"
expect_exit 1 "$O" pull -q "$R/test/hello:1" "$T/l6" &&
    check "TLS to a plain-HTTP registry: hints --tls-verify=false" grep -q -- "--tls-verify=false" "$T/err"
expect_exit 2 "$O" pull --jobs 0 "$R/test/hello:1" "$T/l6"
expect_exit 4 "$O" pull -q "UPPER/case:1" "$T/l6"
expect_exit 2 "$O" pull --tls-verify=maybe "$R/test/hello:1" "$T/l6"

summary
