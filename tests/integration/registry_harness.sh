#!/bin/bash
# The registry test harness itself (tests/registry/, testdata/make-images.py), checked with curl and
# skopeo only, so that the registry client's tests can trust it:
#  - every variant starts (plain, tls, mtls, basic, basic-tls, token, token-tls, token with kid),
#    answers /v2/ and serves the seeded images with the right media types and digests;
#  - the token server behaves like auth.docker.io (anonymous / Basic / refresh token / password grant,
#    short expiry enforced by the registry, stats, injected failures);
#  - the fault proxy's actions and counters (reset, close, 503, 429 + Retry-After, truncate, corrupt,
#    trickle, stall, redirect to the blob server without Authorization, Range, rules file, skip/every);
#  - the image generator is deterministic; skopeo inspects and copies the seeded images;
#  - nothing outlives the test: stop, parent exit, SIGKILLed supervisor, max lifetime.
# Ends with "N passed, M failed". Exit 77 without docker-registry.
source "$(dirname "$0")/../lib/common.sh"
set +e
set -u

REGDIR=$OCIIMG_SRCDIR/tests/registry
H=$REGDIR/harness.py
MKI=$OCIIMG_SRCDIR/testdata/make-images.py
[ -x /usr/bin/docker-registry ] || skip "docker-registry not installed (apt-get install docker-registry)"
need_cmd curl openssl timeout
[ -x "$PY" ] || skip "$PY not found"

. "$(dirname "$0")/../lib/tap.sh"
jstr() { # jstr PYEXPR(d) < JSON
    "$PY" -c 'import json,sys; d=json.load(sys.stdin); r=eval(sys.argv[1]); print(r if not isinstance(r,(dict,list)) else json.dumps(r))' "$1"
}

WATCHDOG_SECS=${OCIIMG_HARNESS_WATCHDOG:-540}
. "$(dirname "$0")/../lib/registry_lifetime.sh"

# gone PID... : none of the pids runs any more (a zombie waiting for init to reap it counts as gone)
gone() {
    local p st
    for p in "$@"; do
        st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)
        [ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ] || return 1
    done
}

# start NAME VARIANT [ARGS...] : start a harness in $T/s-NAME and load its REG_* variables
start() {
    local name=$1 variant=$2
    shift 2
    unset "${!REG_@}"
    if "$PY" "$H" start --variant "$variant" --state-dir "$T/s-$name" --max-lifetime 600 --parent-pid $$ "$@" \
        >"$T/s-$name.json" 2>"$T/s-$name.err"; then
        eval "$("$PY" "$H" env --state-dir "$T/s-$name")"
        return 0
    fi
    sed 's/^/    /' "$T/s-$name.err" >&2
    tail -n 20 "$T/s-$name"/*.log 2>/dev/null | sed 's/^/    /' >&2
    return 1
}
stop() { "$PY" "$H" stop --state-dir "$T/s-$1" >/dev/null; }

OCI_M=application/vnd.oci.image.manifest.v1+json
OCI_I=application/vnd.oci.image.index.v1+json
DOCKER_M=application/vnd.docker.distribution.manifest.v2+json
DOCKER_L=application/vnd.docker.distribution.manifest.list.v2+json
ALL_ACCEPT="Accept: $OCI_I, $OCI_M, $DOCKER_L, $DOCKER_M"

# ---------------------------------------------------------------------------------------------------
note "pure-Python bcrypt (htpasswd entries)"
check "bcrypt known vectors" "$PY" -c "
import sys; sys.path.insert(0, '$REGDIR'); import pybcrypt as b
assert b.checkpw('U*U', '\$2a\$05\$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW')
assert b.checkpw('', '\$2a\$05\$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy')
h = b.hashpw('pw'); assert h.startswith('\$2y\$04\$') and b.checkpw('pw', h) and not b.checkpw('px', h)"

# ---------------------------------------------------------------------------------------------------
note "image generator: deterministic"
"$PY" "$MKI" build --out "$T/build1" >/dev/null 2>&1 && "$PY" "$MKI" build --out "$T/build2" >/dev/null 2>&1
check "two builds give identical images.json" cmp -s "$T/build1/images.json" "$T/build2/images.json"
check "two builds give identical blobs" diff -r "$T/build1/blobs" "$T/build2/blobs"
if [ -f "$OCIIMG_SRCDIR/testdata/images.json" ]; then
    # The committed file was made on Debian 12; digests of compressed blobs depend on zlib/zstd, the
    # config digests (uncompressed tar diff_ids) do not.
    cmpres=$("$PY" -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
same = lambda r: a["images"][r]["digest"] == b["images"].get(r, {}).get("digest")
cfg = lambda j, r: j["images"][r].get("config", {}).get("digest")
refs = [r for r in a["images"] if r != "test/busybox:1"]
if all(same(r) for r in refs): print("same")
elif all(cfg(a, r) == cfg(b, r) for r in refs if "config" in a["images"][r]): print("configs")
else: print("differ")' "$T/build1/images.json" "$OCIIMG_SRCDIR/testdata/images.json")
    case $cmpres in
    same) ok "digests match the committed testdata/images.json" ;;
    configs) ok "configs match testdata/images.json (compressed digests differ: other zlib/zstd?)" ;;
    *) bad "images differ from the committed testdata/images.json" ;;
    esac
fi
check "OCI layout validates with skopeo (test/multi:1, arm/v6)" \
    bash -c "command -v skopeo >/dev/null || exit 0; skopeo inspect --override-arch arm --override-variant v6 oci:$T/build1:test/multi:1 | grep -q '\"Architecture\": \"arm\"'"

# ---------------------------------------------------------------------------------------------------
note "plain variant, seeded, with the fault proxy"
if start plain plain --seed --proxy; then
    ok "plain: started at $REG_URL (proxy $REG_PROXY_URL)"
    IMG=$REG_IMAGES
    st=$(curl -s -o /dev/null -w '%{http_code}' "$REG_URL/v2/")
    eq "plain: /v2/ answers 200" "$st" 200
    check "plain: /v2/ sends Docker-Distribution-Api-Version" \
        bash -c "curl -sI '$REG_URL/v2/' | grep -qi '^Docker-Distribution-Api-Version: registry/2.0'"

    for ref in test/hello:1 test/hello:latest test/multi:1 test/docker:1 test/dockerlist:1 test/zstd:1 \
        test/big:1 test/busybox:1 test/foreign:1 private/hello:1 test/tags:t24; do
        want=$(jget "$IMG" "d['images'].get('$ref',{}).get('digest','')")
        if [ -z "$want" ]; then
            why=$(jget "$IMG" "d['skipped'].get('$ref', 'not made')")
            if [ "${OCIIMG_NO_SKIP:-0}" != 1 ] && [ "$why" != "not made" ]; then
                ok "# SKIP $ref: $why"
            else
                bad "seeded $ref: $why"
            fi
            continue
        fi
        repo=${ref%:*} tag=${ref##*:}
        curl -s -D "$T/h" -o "$T/m" -H "$ALL_ACCEPT" "$REG_URL/v2/$repo/manifests/$tag"
        got=$(tr -d '\r' <"$T/h" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
        body=sha256:$(sha256_of "$T/m")
        mt=$(tr -d '\r' <"$T/h" | sed -n 's/^[Cc]ontent-[Tt]ype: //p')
        wmt=$(jget "$IMG" "d['images']['$ref']['mediaType']")
        if [ "$got" = "$want" ] && [ "$body" = "$want" ] && [ "$mt" = "$wmt" ]; then
            ok "manifest $ref: digest + media type as in images.json"
        else
            bad "manifest $ref: header $got body $body type $mt, want $want $wmt"
        fi
    done

    # Only the media types the client accepts: distribution 2.8 answers 404 for an OCI index or
    # manifest the Accept header does not cover (and rewrites a Docker list to its amd64 manifest).
    st=$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $DOCKER_M" "$REG_URL/v2/test/multi/manifests/1")
    eq "OCI index without an OCI Accept: 404" "$st" 404
    mt=$(curl -s -o /dev/null -w '%{content_type}' -H "Accept: $OCI_I" "$REG_URL/v2/test/multi/manifests/1")
    eq "OCI index with Accept: $OCI_I" "$mt" "$OCI_I"
    n=$(curl -s -H "Accept: $OCI_I" "$REG_URL/v2/test/multi/manifests/1" |
        jstr '",".join(m["platform"]["architecture"]+"/"+m["platform"].get("variant","") for m in d["manifests"])')
    eq "test/multi:1 platforms" "$n" "amd64/,arm64/v8,arm/v7,arm/v6"
    mt=$(curl -s -o /dev/null -w '%{content_type}' -H "Accept: $DOCKER_M" "$REG_URL/v2/test/dockerlist/manifests/1")
    eq "Docker list without list Accept: rewritten to schema2" "$mt" "$DOCKER_M"
    hd=$(curl -sI -H "$ALL_ACCEPT" "$REG_URL/v2/test/hello/manifests/1" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
    eq "HEAD manifest gives Docker-Content-Digest" "$hd" "$(jget "$IMG" "d['images']['test/hello:1']['digest']")"

    BIG=$(jget "$IMG" "d['images']['test/big:1']['layers'][0]['digest']")
    BIGSIZE=$(jget "$IMG" "d['images']['test/big:1']['layers'][0]['size']")
    BIGFILE=$T/s-plain/layout/blobs/sha256/${BIG#sha256:}
    curl -s -o "$T/big" "$REG_URL/v2/test/big/blobs/$BIG"
    eq "test/big:1 layer digest from the registry" "sha256:$(sha256_of "$T/big")" "$BIG"
    check "test/big:1 layer is about 8 MiB" test "$BIGSIZE" -gt 8000000
    curl -s -H 'Range: bytes=1000-1999' -o "$T/r" "$REG_URL/v2/test/big/blobs/$BIG"
    check "registry honours Range on blobs" cmp -s "$T/r" <(tail -c +1001 "$BIGFILE" | head -c 1000)
    n=$(curl -s "$REG_URL/v2/test/tags/tags/list?n=10" | jstr 'len(d["tags"])')
    eq "distribution 2.8 ignores n on tags/list (the proxy's paginate action does it)" "$n" 25
    check "foreign layer is not in the registry" \
        test "$(curl -s -o /dev/null -w '%{http_code}' "$REG_URL/v2/test/foreign/blobs/$(jget "$IMG" "d['images']['test/foreign:1']['foreign_layers'][0]")")" = 404
    fu=$(jget "$IMG" "d['images']['test/foreign:1']['layers'][1]['urls'][0]")
    curl -s -o "$T/f" "$fu"
    eq "foreign layer served from its url" "sha256:$(sha256_of "$T/f")" "$(jget "$IMG" "d['images']['test/foreign:1']['layers'][1]['digest']")"

    # --- fault proxy ---------------------------------------------------------------------------------
    P=$REG_PROXY_URL C=$REG_PROXY_CONTROL
    U=$P/v2/test/big/blobs/$BIG
    rules() { curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "$1" "$C/rules" | grep -q 200; }
    reset_stats() { curl -s -X POST "$C/reset" >/dev/null; }
    stats() { curl -s "$C/stats" >"$T/stats"; }

    reset_stats
    curl -s -o "$T/p" "$U"
    stats
    check "proxy: clean pass-through" cmp -s "$T/p" "$BIGFILE"
    eq "proxy: stats count one blob GET" "$(jget "$T/stats" "d['blob_gets']")" 1
    eq "proxy: stats count the blob bytes" "$(jget "$T/stats" "d['blob_bytes']")" "$BIGSIZE"
    eq "proxy: per-path bytes" "$(jget "$T/stats" "d['paths']['/v2/test/big/blobs/$BIG']['bytes']")" "$BIGSIZE"

    rules '[{"method":"GET","path":"/blobs/","action":"reset","after_bytes":100000}]'
    curl -s -o "$T/p" "$U"
    rc=$?
    eq "reset after 100000 bytes: curl sees a reset (56)" "$rc" 56
    eq "reset after 100000 bytes: exactly that much arrived" "$(stat -c %s "$T/p")" 100000
    curl -s -o "$T/p" "$U"
    check "rule applies once by default (times=1)" cmp -s "$T/p" "$BIGFILE"

    reset_stats
    rules '[{"method":"GET","path":"/blobs/","action":"reset","after_bytes":3000000}]'
    curl -s -o "$T/part" "$U"
    curl -s -H 'Range: bytes=3000000-' -o "$T/rest" "$U"
    stats
    check "resume with Range through the proxy completes the blob" cmp -s <(cat "$T/part" "$T/rest") "$BIGFILE"
    eq "proxy counted partial + remainder bytes" "$(jget "$T/stats" "d['blob_bytes']")" "$BIGSIZE"
    eq "proxy log records the Range header" "$(jget "$T/stats" "d['log'][1]['range']")" "bytes=3000000-"

    rules '[{"method":"GET","path":"/blobs/","action":"reset","before_headers":true}]'
    curl -s -o /dev/null "$U"
    eq "reset before headers (56)" "$?" 56
    rules '[{"method":"GET","path":"/blobs/","action":"close"}]'
    curl -s -o /dev/null "$U"
    eq "close without answer: empty reply (52)" "$?" 52
    rules '[{"method":"GET","path":"/blobs/","action":"truncate","after_bytes":5000}]'
    curl -s -o "$T/p" "$U"
    rc=$?
    eq "truncate: curl reports a partial file (18)" "$rc" 18
    eq "truncate: 5000 bytes arrived" "$(stat -c %s "$T/p")" 5000
    rules '[{"method":"GET","path":"/blobs/","action":"status","status":503}]'
    eq "503 injected" "$(curl -s -o /dev/null -w '%{http_code}' "$U")" 503
    eq "then passes again" "$(curl -s -o /dev/null -w '%{http_code}' "$U")" 200
    rules '[{"method":"GET","path":"/blobs/","action":"status","status":500,"times":2}]'
    eq "500 injected (1/2)" "$(curl -s -o /dev/null -w '%{http_code}' "$U")" 500
    eq "500 injected (2/2)" "$(curl -s -o /dev/null -w '%{http_code}' "$U")" 500
    eq "times=2 exhausted" "$(curl -s -o /dev/null -w '%{http_code}' "$U")" 200
    rules '[{"method":"GET","path":"/manifests/","action":"status","status":429,"retry_after":7}]'
    ra=$(curl -s -D - -o /dev/null -H "$ALL_ACCEPT" "$P/v2/test/hello/manifests/1" | tr -d '\r')
    check "429 with Retry-After: 7" bash -c "grep -q '^HTTP/1.1 429' <<<'$ra' && grep -qi '^Retry-After: 7$' <<<'$ra'"
    rules '[{"method":"GET","path":"/manifests/","action":"status","status":429}]'
    ra=$(curl -s -D - -o /dev/null -H "$ALL_ACCEPT" "$P/v2/test/hello/manifests/1" | tr -d '\r')
    check "429 without Retry-After" bash -c "grep -q '^HTTP/1.1 429' <<<'$ra' && ! grep -qi '^Retry-After' <<<'$ra'"
    rules '[{"method":"GET","path":"/blobs/","action":"corrupt","offset":12345}]'
    curl -s -o "$T/p" "$U"
    cmpout=$(cmp "$T/p" "$BIGFILE" 2>&1)
    check "corrupt: same length, one byte differs at offset 12345" \
        bash -c "[ \$(stat -c %s '$T/p') = $BIGSIZE ] && [ \$(cmp -l '$T/p' '$BIGFILE' | wc -l) = 1 ] && grep -q 'byte 12346' <<<'$cmpout'"

    CFG=$(jget "$IMG" "d['images']['test/hello:1']['config']['digest']")
    CFGSIZE=$(jget "$IMG" "d['images']['test/hello:1']['config']['size']")
    rules '[{"method":"GET","path":"/blobs/","action":"trickle","chunk":100,"delay":0.2}]'
    t0=$(date +%s%N)
    curl -s -o "$T/p" "$P/v2/test/hello/blobs/$CFG"
    ms=$((($(date +%s%N) - t0) / 1000000))
    check "trickle: config blob ($CFGSIZE B) intact after ${ms} ms (>= 600)" \
        bash -c "[ $ms -ge 600 ] && [ \$(sha256sum <'$T/p' | cut -c1-64) = ${CFG#sha256:} ]"
    rules '[{"method":"GET","path":"/blobs/","action":"stall","seconds":3,"after_bytes":1000}]'
    t0=$(date +%s%N)
    curl -s -o "$T/p" "$U"
    ms=$((($(date +%s%N) - t0) / 1000000))
    check "stall 3 s then continue: intact after ${ms} ms" bash -c "[ $ms -ge 2900 ] && cmp -s '$T/p' '$BIGFILE'"
    rules '[{"method":"GET","path":"/blobs/","action":"stall","seconds":20,"after_bytes":1000}]'
    curl -s -y 2 -Y 100000 -o /dev/null "$U"
    eq "stall: a client with a low-speed limit gives up (28)" "$?" 28
    rules '[{"method":"GET","path":"/blobs/","action":"delay","seconds":1}]'
    t0=$(date +%s%N)
    curl -s -o /dev/null "$U"
    ms=$((($(date +%s%N) - t0) / 1000000))
    check "delay 1 s (${ms} ms)" test "$ms" -ge 950

    reset_stats
    rules '[{"method":"GET","path":"/blobs/","action":"redirect","times":-1}]'
    hdr=$(curl -s -D - -o "$T/p" -L -H "Authorization: Bearer secret-token" "$U" | tr -d '\r')
    stats
    check "redirect: 307 to the blob server" grep -q "^Location: $REG_BLOB_URL/v2/test/big/blobs/$BIG" <<<"$hdr"
    check "redirect: blob intact" cmp -s "$T/p" "$BIGFILE"
    eq "redirect: blob server got one request" "$(jget "$T/stats" "d['blobserver']['requests']")" 1
    eq "redirect: curl did not send Authorization to the other port" \
        "$(jget "$T/stats" "d['blobserver']['saw_authorization']")" False
    curl -s -o /dev/null -H "Authorization: Bearer x" "$REG_BLOB_URL/v2/test/big/blobs/$BIG"
    stats
    eq "blob server records Authorization when sent" "$(jget "$T/stats" "d['blobserver']['saw_authorization']")" True
    curl -s -o /dev/null -X POST -d '{"reject_authorization":true}' "$C/blobserver"
    eq "blob server can reject Authorization (400)" \
        "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer x' "$REG_BLOB_URL/v2/test/big/blobs/$BIG")" 400
    curl -s -H 'Range: bytes=10-19' -o "$T/r" "$REG_BLOB_URL/v2/test/big/blobs/$BIG"
    check "blob server honours Range" cmp -s "$T/r" <(tail -c +11 "$BIGFILE" | head -c 10)

    rules '[{"method":"GET","path":"/blobs/","action":"status","status":503,"every":2,"times":-1}]'
    codes=""
    for _ in 1 2 3 4; do codes="$codes$(curl -s -o /dev/null -w '%{http_code}' "$P/v2/test/hello/blobs/$CFG") "; done
    eq "every=2" "$codes" "200 503 200 503 "
    rules '[{"method":"GET","path":"/blobs/","action":"status","status":503,"skip":1,"times":1}]'
    codes=""
    for _ in 1 2 3; do codes="$codes$(curl -s -o /dev/null -w '%{http_code}' "$P/v2/test/hello/blobs/$CFG") "; done
    eq "skip=1 times=1" "$codes" "200 503 200 "
    rules '[{"method":"GET","path":"/blobs/","range":true,"action":"status","status":416}]'
    eq "range=true matches only Range requests (no Range)" "$(curl -s -o /dev/null -w '%{http_code}' "$U")" 200
    eq "range=true matches only Range requests (Range)" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=0-9' "$U")" 416
    rules '[{"method":"GET","path":"/manifests/","action":"pass","remove_headers":["Docker-Content-Digest"],"set_headers":{"X-Test":"1"}}]'
    hdr=$(curl -s -D - -o /dev/null -H "$ALL_ACCEPT" "$P/v2/test/hello/manifests/1" | tr -d '\r')
    check "pass with header edits" bash -c "grep -q '^X-Test: 1' <<<'$hdr' && ! grep -qi '^Docker-Content-Digest' <<<'$hdr'"
    rules '[{"path":"/tags/list$","action":"paginate","times":-1}]'
    hdr=$(curl -s -D - -o "$T/tags" "$P/v2/test/tags/tags/list?n=10" | tr -d '\r')
    eq "paginate: first page" "$(jstr '",".join(d["tags"])' <"$T/tags")" "t00,t01,t02,t03,t04,t05,t06,t07,t08,t09"
    check "paginate: Link to the next page" grep -q '^Link: </v2/test/tags/tags/list?n=10&last=t09>; rel="next"$' <<<"$hdr"
    hdr=$(curl -s -D - -o "$T/tags" "$P/v2/test/tags/tags/list?n=10&last=t19" | tr -d '\r')
    eq "paginate: last page" "$(jstr '",".join(d["tags"])' <"$T/tags")" "t20,t21,t22,t23,t24"
    check "paginate: no Link on the last page" bash -c "! grep -qi '^Link:' <<<'$hdr'"
    rules '[{"path":"/tags/list$","action":"paginate","times":-1,"page_size":7}]'
    hdr=$(curl -s -D - -o "$T/tags" "$P/v2/test/tags/tags/list" | tr -d '\r')
    eq "paginate: page_size pages without n" "$(jstr 'len(d["tags"])' <"$T/tags")" 7
    check "paginate: page_size Link" grep -q 'n=7&last=t06' <<<"$hdr"
    check "bad rules are refused (400)" \
        test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '[{"action":"explode"}]' "$C/rules")" = 400

    curl -s -X DELETE "$C/rules" >/dev/null
    echo '[{"method":"GET","path":"/v2/$","action":"status","status":500}]' >"$REG_PROXY_RULES_FILE"
    eq "rules file is read" "$(curl -s -o /dev/null -w '%{http_code}' "$P/v2/")" 500
    rm -f "$REG_PROXY_RULES_FILE"
    eq "rules file removed: rules cleared" "$(curl -s -o /dev/null -w '%{http_code}' "$P/v2/")" 200

    reset_stats
    curl -s -o /dev/null -I -H "$ALL_ACCEPT" "$P/v2/test/hello/manifests/1"
    curl -s -o /dev/null -I "$P/v2/test/big/blobs/$BIG"
    stats
    eq "HEAD requests are not blob GETs" "$(jget "$T/stats" "d['blob_gets']")" 0
    eq "stats count all requests" "$(jget "$T/stats" "d['requests']")" 2

    # upload through the proxy: the registry's Location points back at the proxy
    loc=$(curl -s -D - -o /dev/null -X POST "$P/v2/test/up/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    check "upload Location points at the proxy ($loc)" grep -q "^$P/v2/test/up/blobs/uploads/" <<<"$loc"

    if command -v skopeo >/dev/null; then
        export TMPDIR=$T
        check "skopeo inspect docker://$REG_HOST/test/hello:1" \
            bash -c "skopeo inspect --tls-verify=false docker://$REG_HOST/test/hello:1 | grep -q '\"Digest\": \"$(jget "$IMG" "d['images']['test/hello:1']['digest']")\"'"
        for ref in test/hello:1 test/zstd:1 test/docker:1 test/busybox:1; do
            [ -n "$(jget "$IMG" "d['images'].get('$ref',{}).get('digest','')")" ] || continue
            n=${ref//[\/:]/-}
            if skopeo copy -q --src-tls-verify=false "docker://$REG_HOST/$ref" "oci:$T/sk:$n" 2>"$T/skerr"; then
                got=$(jget "$T/sk/index.json" "[m['digest'] for m in d['manifests'] if m['annotations']['org.opencontainers.image.ref.name']=='$n'][0]")
                want=$(jget "$IMG" "d['images']['$ref']['digest']")
                if [ "$ref" = test/docker:1 ]; then
                    ok "skopeo copy $ref into an OCI layout (converted)"
                else
                    eq "skopeo copy $ref keeps the digest" "$got" "$want"
                fi
            else
                bad "skopeo copy $ref: $(head -c 300 "$T/skerr")"
            fi
        done
        check "skopeo copy --all test/multi:1 (through the proxy)" \
            skopeo copy -q --all --src-tls-verify=false "docker://$REG_PROXY_HOST/test/multi:1" "oci:$T/sk:multi"
        eq "skopeo copy --all keeps the index digest" \
            "$(jget "$T/sk/index.json" "[m['digest'] for m in d['manifests'] if m['annotations']['org.opencontainers.image.ref.name']=='multi'][0]")" \
            "$(jget "$IMG" "d['images']['test/multi:1']['digest']")"
    else
        note "skopeo not installed: skopeo checks skipped"
    fi
    stop plain
    check "stop: the registry is gone" gone "$REG_REGISTRY_PID"
    check "stop: the proxy is gone" gone "$REG_PROXY_PID"
    check "stop is idempotent" "$PY" "$H" stop --state-dir "$T/s-plain"
else
    bad "plain variant did not start"
fi

# ---------------------------------------------------------------------------------------------------
note "tls and mtls"
if start tls tls --seed; then
    eq "tls: /v2/ with the CA" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REG_CA" "$REG_URL/v2/")" 200
    curl -s -o /dev/null "$REG_URL/v2/"
    eq "tls: untrusted without the CA (60)" "$?" 60
    eq "tls: localhost is in the certificate too" \
        "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REG_CA" "https://localhost:$REG_PORT/v2/")" 200
    check "tls: certs.d layout" test -f "$REG_CERTS_D/$REG_HOST/ca.crt"
    if command -v skopeo >/dev/null; then
        check "tls: skopeo inspect with --cert-dir" \
            bash -c "skopeo inspect --cert-dir '$REG_CERTS_D/$REG_HOST' docker://$REG_HOST/test/hello:1 >/dev/null"
    fi
    stop tls
else
    bad "tls variant did not start"
fi
if start mtls mtls; then
    eq "mtls: with client cert" \
        "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REG_CA" --cert "$REG_CLIENT_CERT" --key "$REG_CLIENT_KEY" "$REG_URL/v2/")" 200
    st=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REG_CA" "$REG_URL/v2/")
    check "mtls: refused without client cert" test "$st" != 200
    check "mtls: certs.d holds client.cert + client.key" \
        test -f "$REG_CERTS_D/$REG_HOST/client.cert" -a -f "$REG_CERTS_D/$REG_HOST/client.key"
    stop mtls
else
    bad "mtls variant did not start"
fi

# ---------------------------------------------------------------------------------------------------
note "basic auth"
for v in basic basic-tls; do
    if start "$v" "$v" --seed; then
        CA=()
        [ -n "$REG_CA" ] && CA=(--cacert "$REG_CA")
        hdr=$(curl -s -D - -o /dev/null "${CA[@]}" "$REG_URL/v2/" | tr -d '\r')
        check "$v: 401 with a Basic challenge" \
            bash -c "grep -Eq '^HTTP/[0-9.]+ 401' <<<'$hdr' && grep -qi '^Www-Authenticate: Basic realm=\"ociimg-test-registry\"' <<<'$hdr'"
        eq "$v: wrong password 401" "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -u "$REG_USERNAME:nope" "$REG_URL/v2/")" 401
        eq "$v: manifest with credentials" \
            "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -u "$REG_USERNAME:$REG_PASSWORD" -H "$ALL_ACCEPT" "$REG_URL/v2/test/hello/manifests/1")" 200
        eq "$v: second user (reader)" "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -u reader:readerpass "$REG_URL/v2/")" 200
        auth=$(jget "$REG_DOCKER_CONFIG/config.json" "d['auths']['$REG_HOST']['auth']")
        eq "$v: docker config.json auth entry" "$(base64 -d <<<"$auth")" "$REG_USERNAME:$REG_PASSWORD"
        if command -v skopeo >/dev/null && [ "$v" = basic ]; then
            check "$v: skopeo inspect --creds" \
                bash -c "skopeo inspect --tls-verify=false --creds '$REG_USERNAME:$REG_PASSWORD' docker://$REG_HOST/test/hello:1 >/dev/null"
            check "$v: skopeo inspect --authfile (docker_config)" \
                bash -c "skopeo inspect --tls-verify=false --authfile '$REG_DOCKER_CONFIG/config.json' docker://$REG_HOST/test/hello:1 >/dev/null"
        fi
        stop "$v"
    else
        bad "$v variant did not start"
    fi
done

# ---------------------------------------------------------------------------------------------------
note "token auth"
tok() { # tok [curl args...] URL : print .token of a token response
    curl -s "${CA[@]}" "$@" | jstr 'd.get("token") or d.get("access_token") or ""'
}
for v in token token-tls token-kid; do
    variant=${v%-kid}
    extra=()
    [ "$v" = token-kid ] && extra=(--sign-mode kid)
    [ "$v" = token ] && extra=(--expires-in 3 --proxy)
    if ! start "$v" "$variant" --seed "${extra[@]}"; then
        bad "$v variant did not start"
        continue
    fi
    CA=()
    [ -n "$REG_CA" ] && CA=(--cacert "$REG_CA")
    R=$REG_URL TU=$REG_TOKEN_URL SVC=$REG_SERVICE
    hdr=$(curl -s -D - -o /dev/null "${CA[@]}" "$R/v2/" | tr -d '\r')
    check "$v: /v2/ 401 with Bearer realm + service" \
        grep -qi "^Www-Authenticate: Bearer realm=\"$TU\",service=\"$SVC\"$" <<<"$hdr"
    hdr=$(curl -s -D - -o /dev/null "${CA[@]}" "$R/v2/test/hello/manifests/1" | tr -d '\r')
    check "$v: manifest 401 names the scope" grep -q 'scope="repository:test/hello:pull"' <<<"$hdr"
    curl -s "${CA[@]}" -o "$T/tr.json" "$TU?service=$SVC&scope=repository:test/hello:pull"
    check "$v: anonymous token response has token, access_token, expires_in, issued_at" \
        "$PY" -c "import json; d=json.load(open('$T/tr.json')); assert d['token'] == d['access_token'] and d['expires_in'] > 0 and d['issued_at'].endswith('Z')"
    TK=$(jget "$T/tr.json" "d['token']")
    eq "$v: manifest with the anonymous token" \
        "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -H "Authorization: Bearer $TK" -H "$ALL_ACCEPT" "$R/v2/test/hello/manifests/1")" 200
    TK=$(tok "$TU?service=$SVC&scope=repository:private/hello:pull")
    hdr=$(curl -s -D - -o /dev/null "${CA[@]}" -H "Authorization: Bearer $TK" -H "$ALL_ACCEPT" "$R/v2/private/hello/manifests/1" | tr -d '\r')
    check "$v: anonymous token for private/hello: 401 insufficient_scope" grep -q 'error="insufficient_scope"' <<<"$hdr"
    TK=$(tok -u "$REG_USERNAME:$REG_PASSWORD" "$TU?service=$SVC&scope=repository:private/hello:pull")
    eq "$v: private/hello with a user token" \
        "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -H "Authorization: Bearer $TK" -H "$ALL_ACCEPT" "$R/v2/private/hello/manifests/1")" 200
    eq "$v: wrong password at the token server: 401" \
        "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -u "$REG_USERNAME:wrong" "$TU?service=$SVC&scope=repository:test/hello:pull")" 401
    eq "$v: unknown service: 400" \
        "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" "$TU?service=other&scope=repository:test/hello:pull")" 400
    curl -s "${CA[@]}" -o "$T/tr.json" -u "$REG_USERNAME:$REG_PASSWORD" "$TU?service=$SVC&scope=repository:test/hello:pull&offline_token=true"
    RT=$(jget "$T/tr.json" "d.get('refresh_token','')")
    check "$v: offline_token=true returns a refresh token" test -n "$RT"
    curl -s "${CA[@]}" -o "$T/tr.json" -d "grant_type=refresh_token&refresh_token=$RT&service=$SVC&client_id=ociimg-test&scope=repository:private/hello:pull" "$TU"
    TK=$(jget "$T/tr.json" "d.get('access_token','')")
    eq "$v: refresh_token grant gives a working access_token" \
        "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -H "Authorization: Bearer $TK" -H "$ALL_ACCEPT" "$R/v2/private/hello/manifests/1")" 200
    IDT=$(jget "$REG_DOCKER_CONFIG_IDENTITY/config.json" "d['auths']['$REG_HOST']['identitytoken']")
    eq "$v: identity token from docker_config_identity" \
        "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -d "grant_type=refresh_token&refresh_token=$IDT&service=$SVC&client_id=t&scope=repository:test/hello:pull" "$TU")" 200
    eq "$v: unknown refresh token: 400" \
        "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -d "grant_type=refresh_token&refresh_token=nope&service=$SVC&client_id=t" "$TU")" 400
    curl -s "${CA[@]}" -o "$T/tr.json" -d "grant_type=password&username=$REG_USERNAME&password=$REG_PASSWORD&access_type=offline&service=$SVC&client_id=t&scope=repository:test/hello:pull" "$TU"
    check "$v: password grant with access_type=offline" \
        "$PY" -c "import json; d=json.load(open('$T/tr.json')); assert d['access_token'] and d['refresh_token'] and d['scope']=='repository:test/hello:pull'"
    TK=$(tok -u "$REG_USERNAME:$REG_PASSWORD" "$TU?service=$SVC&scope=repository:test/push:pull,push")
    eq "$v: push scope lets testuser start an upload" \
        "$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" -H "Authorization: Bearer $TK" -X POST "$R/v2/test/push/blobs/uploads/")" 202
    curl -s "${CA[@]}" "$REG_TOKEN_CONTROL/stats" >"$T/ts.json"
    check "$v: token stats record requests" test "$(jget "$T/ts.json" "d['count']")" -ge 10
    check "$v: no password or refresh token in the stats" bash -c "! grep -q -e '$REG_PASSWORD' -e '$RT' -e '$IDT' '$T/ts.json'"
    if [ "$v" = token ]; then
        TK=$(tok "$TU?service=$SVC&scope=repository:test/hello:pull")
        eq "expires_in 3 is announced" "$(jget "$T/tr.json" "d['expires_in']")" 3
        sleep 4
        eq "token rejected by the registry after expires_in" \
            "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TK" -H "$ALL_ACCEPT" "$R/v2/test/hello/manifests/1")" 401
        curl -s -o /dev/null -X POST -d '{"response_style":"access_token","omit_expires_in":true}' "$REG_TOKEN_CONTROL/config"
        curl -s -o "$T/tr.json" "$TU?service=$SVC&scope=repository:test/hello:pull"
        check "config: access_token only, no expires_in" \
            "$PY" -c "import json; d=json.load(open('$T/tr.json')); assert 'token' not in d and 'expires_in' not in d and d['access_token']"
        curl -s -o /dev/null -X POST -d '{"fail_next":1,"response_style":"both","omit_expires_in":false}' "$REG_TOKEN_CONTROL/config"
        eq "config: fail_next answers 503" "$(curl -s -o /dev/null -w '%{http_code}' "$TU?service=$SVC")" 503
        eq "config: then 200" "$(curl -s -o /dev/null -w '%{http_code}' "$TU?service=$SVC")" 200
        curl -s -o /dev/null -X POST "$REG_TOKEN_CONTROL/reset"
        eq "reset clears the token stats" "$(curl -s "$REG_TOKEN_CONTROL/stats" | jstr "d['count']")" 0
        # through the proxy: the challenge still names the token server, and the token works
        TK=$(tok "$TU?service=$SVC&scope=repository:test/hello:pull")
        eq "token through the fault proxy" \
            "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TK" -H "$ALL_ACCEPT" "$REG_PROXY_URL/v2/test/hello/manifests/1")" 200
        if command -v skopeo >/dev/null; then
            check "token: skopeo inspect anonymous" \
                bash -c "skopeo inspect --tls-verify=false docker://$REG_HOST/test/hello:1 >/dev/null"
            check "token: skopeo inspect private/hello with --creds" \
                bash -c "skopeo inspect --tls-verify=false --creds '$REG_USERNAME:$REG_PASSWORD' docker://$REG_HOST/private/hello:1 >/dev/null"
            check "token: skopeo refused private/hello anonymously" \
                bash -c "! skopeo inspect --tls-verify=false docker://$REG_HOST/private/hello:1 >/dev/null 2>&1"
        fi
    fi
    stop "$v"
done

# ---------------------------------------------------------------------------------------------------
note "lifecycle: nothing outlives its owner"
sleep 60 &
owner=$!
if start owner plain --parent-pid "$owner"; then
    rp=$REG_REGISTRY_PID
    kill "$owner"
    wait "$owner" 2>/dev/null
    for _ in $(seq 50); do gone "$rp" && break; sleep 0.1; done
    check "parent exit stops the registry" gone "$rp"
    stop owner
else
    bad "owner harness did not start"
fi
if start killed token --proxy; then
    rp=$REG_REGISTRY_PID tp=$REG_TOKENSERVER_PID pp=$REG_PROXY_PID
    kill -KILL "$REG_PID"
    sleep 0.3
    "$PY" "$H" stop --state-dir "$T/s-killed" >"$T/stop.json"
    sleep 0.3
    check "stop after a SIGKILLed supervisor kills the leftovers" gone "$rp" "$tp" "$pp"
else
    bad "harness for the SIGKILL test did not start"
fi
if start short plain --max-lifetime 2; then
    rp=$REG_REGISTRY_PID
    for _ in $(seq 80); do gone "$rp" && break; sleep 0.1; done
    check "max lifetime ends the harness" gone "$rp"
    stop short
else
    bad "short-lived harness did not start"
fi
check "a start failure is reported (unknown variant)" \
    bash -c "! '$PY' '$H' start --variant nope --state-dir '$T/s-nope' 2>/dev/null"

note "Python API"
check "Harness context manager + client + proxy helpers" "$PY" -c "
import sys; sys.path.insert(0, '$REGDIR'); import harness, os
with harness.Harness('plain', state_dir='$T/s-py', seed=True, proxy=True) as h:
    c = h.client(via_proxy=True)
    st, hd, body = c.get_manifest('test/hello', '1')
    assert st == 200 and hd['docker-content-digest'] == h.images['images']['test/hello:1']['digest'], (st, hd)
    h.proxy_rules([{'path': '/manifests/', 'action': 'status', 'status': 503}])
    assert c.get_manifest('test/hello', '1')[0] == 503
    assert h.proxy_stats()['manifest_gets'] == 2
    rp = h.state['registry_pid']
assert not os.path.exists('$T/s-py/harness.pid')
import time
for _ in range(50):
    if not harness.rutil.pid_alive(rp): break
    time.sleep(0.1)
assert not harness.rutil.pid_alive(rp)
"

sleep 0.5
left=$(ps -eo pid=,args= | grep -F "$T/s-" | grep -v grep | grep -v "ps -eo" || true)
check "no process of this test is left" test -z "$left"
[ -n "$left" ] && echo "$left" | sed 's/^/    left: /'

echo "$PASS passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
