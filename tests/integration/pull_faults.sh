#!/bin/bash
# `ociimg pull` through the fault proxy: every fault ends in a completed pull or a clear error,
# and the layout verifies either way.
#  - reset (mid-blob and before the headers), close, truncate, delay: resumed with Range from
#    the bytes already written (the proxy sees a "bytes=N-" request), nothing fetched twice; a
#    206 without Content-Range is not trusted (the blob starts over);
#  - 503 (twice), 500, 429 with Retry-After (waited for), 408: retried; 503 forever: a clear error;
#    Retry-After beyond the cap: fails at once and names the reset time;
#  - a corrupted byte once: discarded and downloaded again; always: "digest mismatch" (exit 4),
#    the blob discarded, nothing under blobs/;
#  - a stalled transfer: retried after --stall-timeout;
#  - a pull SIGKILLed while test/big:1 trickles, then rerun: completes and fetches only the
#    remainder (bytes counted at the proxy);
#  - blob GETs redirected to another port: the blob server never sees Authorization;
#  - two pulls of one image into one layout at the same time;
#  - a manifest with a corrupted byte (by tag, checked against Docker-Content-Digest).
# Ends with "N passed, M failed".  Exit 77 without docker-registry.
source "$(dirname "$0")/../lib/common.sh"
source "$OCIIMG_SRCDIR/tests/lib/registry.sh"

start faults plain --seed --proxy || die "harness did not start"
P=$REG_PROXY_HOST
BIG=$(img "d['images']['test/big:1']['layers'][0]['digest']")
BIGSIZE=$(img "d['images']['test/big:1']['layers'][0]['size']")
BIGREF=$P/test/big:1
LAYER_RULE() { # LAYER_RULE ACTION-JSON-FIELDS : a rule for GETs of the big layer
    echo "[{\"method\":\"GET\",\"path\":\"/blobs/$BIG\",$1}]"
}

# fault NAME RULE-FIELDS WANT-EXIT [pull options...] : pull test/big:1 into a seeded layout
# through the proxy with one rule; checks the exit code and that the layout verifies.
fault() {
    local name=$1 fields=$2 want=$3
    shift 3
    D=$T/f-$name
    seeded_layout "$D"
    rules "$(LAYER_RULE "$fields")"
    reset_stats
    SECONDS=0
    timeout 120 "$O" pull --tls-verify=false "$@" "$BIGREF" "$D:big" >"$T/out" 2>"$T/err"
    RC=$?
    ELAPSED=$SECONDS
    stats "$T/stats"
    eq "$name: exit $want" "$RC" "$want"
    [ "$RC" = "$want" ] || show "$T/err"
    check "$name: the layout verifies" verify_ok "$D"
    check "$name: no secrets, one error line at most" bash -c "[ \$(grep -c '^ociimg:' '$T/err') -le 1 ]"
}
ranges() { jget "$T/stats" "[l['range'] for l in d['log'] if '$BIG' in l['path']]"; }
fetched() { jget "$T/stats" "sum(l['bytes'] for l in d['log'] if '$BIG' in l['path'] and l['status'] in (200, 206))"; }

note "connection faults mid-blob: resumed with Range"
fault reset '"action":"reset","after_bytes":3000000' 0
eq "reset: the retry asks for the rest" "$(ranges)" '[null, "bytes=3000000-"]'
check "reset: a retry line names the blob" grep -q "${BIG:7:12}: retrying" "$T/err"
fault close '"action":"close"' 0
fault reset-before-headers '"action":"reset","before_headers":true' 0
fault delay '"action":"delay","seconds":1' 0
fault truncate '"action":"truncate","after_bytes":1000000' 0
eq "truncate: the retry asks for the rest" "$(ranges)" '[null, "bytes=1000000-"]'
check "truncate: the pulled blob is intact" \
    bash -c "[ \$(sha256sum <'$D/blobs/sha256/${BIG#sha256:}' | cut -c1-64) = ${BIG#sha256:} ]"

# A 206 without Content-Range (here: removed by the proxy) is not trusted: the blob starts over.
D=$T/f-no-content-range
seeded_layout "$D"
rules "[{\"method\":\"GET\",\"path\":\"/blobs/$BIG\",\"range\":false,\"action\":\"reset\",\"after_bytes\":2000000},
        {\"method\":\"GET\",\"path\":\"/blobs/$BIG\",\"range\":true,\"action\":\"pass\",\"remove_headers\":[\"Content-Range\"],\"times\":-1}]"
reset_stats
"$O" pull --tls-verify=false "$BIGREF" "$D:big" >"$T/out" 2>"$T/err"
eq "206 without Content-Range: completes" "$?" 0
stats "$T/stats"
eq "206 without Content-Range: then one full GET without Range" "$(ranges)" '[null, "bytes=2000000-", null]'
check "206 without Content-Range: verify" verify_ok "$D"

# broken_then NAME RULE-FIELDS : the first GET of the big layer is reset after 2000000 bytes, the
# retries (with Range) get RULE-FIELDS; pulls into a fresh seeded layout.
broken_then() {
    D=$T/f-$1
    seeded_layout "$D"
    rules "[{\"method\":\"GET\",\"path\":\"/blobs/$BIG\",\"range\":false,\"times\":1,\"action\":\"reset\",\"after_bytes\":2000000},
            {\"method\":\"GET\",\"path\":\"/blobs/$BIG\",\"range\":true,$2}]"
    reset_stats
    timeout 120 "$O" pull --tls-verify=false "$BIGREF" "$D:big" >"$T/out" 2>"$T/err"
    RC=$?
    stats "$T/stats"
    eq "$1: completes" "$RC" 0
    [ "$RC" = 0 ] || show "$T/err"
    check "$1: verify" verify_ok "$D"
    check "$1: the pulled blob is intact" \
        bash -c "[ \$(sha256sum <'$D/blobs/sha256/${BIG#sha256:}' | cut -c1-64) = ${BIG#sha256:} ]"
    check "$1: no partial left" test ! -e "$D/.ociimg/partial/sha256-${BIG#sha256:}"
}
statuses() { jget "$T/stats" "[l['status'] for l in d['log'] if '$BIG' in l['path']]"; }
# A server without range support answers the resume with 200 and the whole body: the partial
# is thrown away and the blob hashed from byte 0.
broken_then ignored-range '"action":"ignore_range","times":-1'
eq "ignored Range: the resume got 200, no third GET" "$(ranges) $(statuses)" \
    '[null, "bytes=2000000-"] [200, 200]'
eq "ignored Range: the proxy sent 2000000 bytes + the whole blob" "$(fetched)" "$((2000000 + BIGSIZE))"
# A 206 that does not start where we asked is not used: the blob starts over without Range.
broken_then shifted-range '"action":"shift_range","by":1000,"times":1'
eq "shifted Content-Range: then one full GET without Range" "$(ranges) $(statuses)" \
    '[null, "bytes=2000000-", null] [200, 206, 200]'
check "shifted Content-Range: the retry says why" grep -q "answered the Range request with another range" "$T/err"

note "server errors and rate limits"
fault 503 '"action":"status","status":503,"times":2' 0
eq "503 twice: three GETs" "$(jget "$T/stats" "sum(1 for l in d['log'] if '$BIG' in l['path'])")" 3
fault 408 '"action":"status","status":408' 0
fault 500 '"action":"status","status":500' 0
fault 429 '"action":"status","status":429,"retry_after":2' 0
check "429: Retry-After 2 was honoured (${ELAPSED}s)" test "$ELAPSED" -ge 2
fault 503-forever '"action":"status","status":503,"times":-1' 1 --retry 2
check "503 forever: names host, blob, status, attempts" \
    grep -q "$P: blob $BIG of test/big: server error (503 Service Unavailable.*after 3 attempts" "$T/err"
check "503 forever: the partial download is kept" test -d "$D/.ociimg/partial"
fault 429-long '"action":"status","status":429,"retry_after":7200,"times":-1' 1
check "Retry-After over the cap: fails at once (${ELAPSED}s) naming the reset time" \
    bash -c "[ $ELAPSED -lt 30 ] && grep -q 'rate limit reached (429.*the limit resets in 7200 s, at' '$T/err'"

note "corrupt bytes: discarded"
fault corrupt-once '"action":"corrupt","offset":5000' 0
check "corrupt once: a second full download" grep -q "digest mismatch: discarded, downloading again" "$T/err"
eq "corrupt once: two full GETs, no Range" "$(ranges)" '[null, null]'
fault corrupt-always '"action":"corrupt","offset":-3,"times":-1' 4
check "corrupt always: digest mismatch, discarded" \
    grep -q "blob $BIG from $P: digest mismatch twice (the download was discarded)" "$T/err"
check "corrupt always: not in blobs/, no partial left" \
    bash -c "[ ! -e '$D/blobs/sha256/${BIG#sha256:}' ] && [ ! -e '$D/.ociimg/partial/sha256-${BIG#sha256:}' ]"

note "stalls"
fault stall '"action":"stall","seconds":20,"after_bytes":200000,"then":"close"' 0 --stall-timeout 2
check "stall: retried after about 2 s (${ELAPSED}s)" bash -c "[ $ELAPSED -ge 2 ] && [ $ELAPSED -lt 15 ]"
eq "stall: the retry asks for the rest" "$(jget "$T/stats" "[l['range'] for l in d['log'] if '$BIG' in l['path']][-1]")" "bytes=200000-"

note "killed mid-blob, then rerun: only the rest"
D=$T/kill
seeded_layout "$D"
rules "$(LAYER_RULE '"action":"trickle","chunk":65536,"delay":0.05,"range":false,"times":-1')"
reset_stats
"$O" pull -q --tls-verify=false "$BIGREF" "$D:big" >/dev/null 2>&1 &
pid=$!
PART=$D/.ociimg/partial/sha256-${BIG#sha256:}
wait_size "$PART" 2000000 || true # the check below reports a short file
kill -KILL "$pid"
wait "$pid" 2>/dev/null
have=$(stat -c %s "$PART" 2>/dev/null || echo 0)
check "killed with part of the layer on disk ($have of $BIGSIZE bytes)" \
    bash -c "[ $have -gt 0 ] && [ $have -lt $BIGSIZE ]"
check "the killed pull left a valid layout" verify_ok "$D"
# The proxy logs the killed transfer once its writes fail; wait for that before counting.
for _ in $(seq 50); do
    stats "$T/stats"
    [ "$(jget "$T/stats" "sum(1 for l in d['log'] if '$BIG' in l['path'])")" -ge 1 ] && break
    sleep 0.1
done
reset_stats
"$O" pull --json --tls-verify=false "$BIGREF" "$D:big" >"$T/json" 2>"$T/err"
eq "rerun completes" "$?" 0
stats "$T/stats"
eq "rerun: one GET, for the rest" "$(ranges)" "[\"bytes=$have-\"]"
eq "rerun: the proxy sent only the remainder" "$(fetched)" "$((BIGSIZE - have))"
eq "rerun: --json says what was resumed" "$(jget "$T/json" "d['bytes']['resumed']")" "$have"
check "rerun: verify" verify_ok "$D"
check "rerun: the partial is gone" test ! -e "$PART"

note "redirected blob GETs"
D=$T/redirect
rules '[{"method":"GET","path":"/blobs/sha256:","action":"redirect","times":-1}]'
reset_stats
"$O" pull -q --tls-verify=false "$P/test/hello:1" "$D" 2>"$T/err"
eq "pull with every blob redirected" "$?" 0
stats "$T/stats"
eq "the blob server served the three blobs" "$(jget "$T/stats" "d['blobserver']['requests']")" 3
eq "the blob server never saw Authorization" "$(jget "$T/stats" "d['blobserver']['saw_authorization']")" False
check "verify" verify_ok "$D"

note "two pulls of the same image into one layout at once"
D=$T/concurrent
seeded_layout "$D"
rules "$(LAYER_RULE '"action":"trickle","chunk":262144,"delay":0.05,"times":-1')"
"$O" pull -q --tls-verify=false "$BIGREF" "$D:a" 2>"$T/err-a" &
pa=$!
"$O" pull -q --tls-verify=false "$BIGREF" "$D:b" 2>"$T/err-b" &
pb=$!
wait "$pa"
ra=$?
wait "$pb"
eq "both complete" "$ra $?" "0 0"
check "verify" verify_ok "$D"
eq "no partial or temp file left" "$(find "$D/.ociimg/partial" "$D/.ociimg/tmp" -type f | wc -l)" 0
rules '[]'

note "a corrupted manifest"
D=$T/manifest
seeded_layout "$D"
rules '[{"method":"GET","path":"/manifests/","action":"corrupt","offset":20,"times":-1}]'
"$O" pull -q --tls-verify=false "$P/test/hello:1" "$D:m" >"$T/out" 2>"$T/err"
eq "exit 4" "$?" 4
check "names Docker-Content-Digest" grep -q "does not match its Docker-Content-Digest" "$T/err"
check "verify" verify_ok "$D"
rules '[]'

summary
