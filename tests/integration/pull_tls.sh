#!/bin/bash
# TLS and mirrors for `ociimg pull`:
#  - a registry with a CA made by openssl in the harness: refused without the CA (the error
#    hints --cert-dir and --tls-verify=false), accepted with --cert-dir DIR (ca.crt) or a
#    certs.d tree, and with --tls-verify=false;
#  - mutual TLS: the client certificate from the certs.d directory;
#  - token auth over TLS: the token server is trusted through the registry's --cert-dir;
#  - mirrors from --registries-conf: tried in order (a dead one, a wrong one), then the
#    registry; mirror-only; blocked; insecure hosts from the config.
# Ends with "N passed, M failed".  Exit 77 without docker-registry.
source "$(dirname "$0")/../lib/common.sh"
source "$OCIIMG_SRCDIR/tests/lib/registry.sh"

for v in tls mtls token-tls; do
    note "$v"
    start "$v" "$v" --seed || {
        bad "$v harness did not start"
        continue
    }
    R=$REG_HOST
    D=$T/l-$v
    "$O" pull -q "$R/test/hello:1" "$D" >"$T/out" 2>"$T/err"
    eq "$v: without the CA: exit 1" "$?" 1
    check "$v: the error says the certificate is not trusted and what to do" \
        grep -q "TLS certificate is not trusted.*--cert-dir DIR.*--tls-verify=false" "$T/err"
    "$O" pull -q --cert-dir "$REG_CERTS_D/$R" "$R/test/hello:1" "$D:a" 2>"$T/err"
    eq "$v: --cert-dir HOST-DIR" "$?" 0
    "$O" pull -q --cert-dir "$REG_CERTS_D" "$R/test/hello:1" "$D:b" 2>"$T/err"
    eq "$v: --cert-dir certs.d tree" "$?" 0
    check "$v: verify" verify_ok "$D"
    if [ "$v" = mtls ]; then
        mkdir -p "$T/cas-only"
        cp "$REG_CA" "$T/cas-only/ca.crt"
        "$O" pull -q --cert-dir "$T/cas-only" "$R/test/hello:1" "$D:c" >"$T/out" 2>"$T/err"
        check "mtls: without the client certificate: refused" test "$?" -ne 0
    else
        "$O" pull -q --tls-verify=false "$R/test/hello:1" "$D:c" 2>"$T/err"
        eq "$v: --tls-verify=false" "$?" 0
    fi
    if [ "$v" = token-tls ]; then
        "$O" pull -q --cert-dir "$REG_CERTS_D/$R" --creds testuser:testpass "$R/private/hello:1" "$D:p" 2>"$T/err"
        eq "token-tls: credentials to the https token server" "$?" 0
    fi
    "$O" inspect --cert-dir "$REG_CERTS_D/$R" "docker://$R/test/hello:1" >/dev/null 2>"$T/err"
    eq "$v: inspect docker:// with --cert-dir" "$?" 0
    stop "$v"
done

note "mirrors"
start mirror plain --seed --proxy || die "harness did not start"
R=$REG_HOST P=$REG_PROXY_HOST
conf() { echo "$1" >"$T/reg.json"; }
conf "{\"registries\":[{\"location\":\"$R\",\"insecure\":true,\"mirrors\":[{\"location\":\"127.0.0.1:1\",\"insecure\":true},{\"location\":\"$P\",\"insecure\":true}]}]}"
reset_stats
"$O" pull --registries-conf "$T/reg.json" "$R/test/hello:1" "$T/l-m1" >"$T/out" 2>"$T/err"
eq "a dead mirror, then a live one" "$?" 0
check "a note says the first mirror failed" grep -q "note: mirror 127.0.0.1:1" "$T/err"
stats "$T/stats"
eq "the live mirror served the manifest" "$(jget "$T/stats" "d['manifest_gets']")" 1
eq "and the blobs" "$(jget "$T/stats" "d['blob_gets']")" 3
check "verify" verify_ok "$T/l-m1"
conf "{\"registries\":[{\"location\":\"$R\",\"insecure\":true,\"mirrors\":[{\"location\":\"$P/elsewhere\",\"insecure\":true}]}]}"
"$O" pull -q --registries-conf "$T/reg.json" "$R/test/hello:1" "$T/l-m2" 2>"$T/err"
eq "a mirror without the image: the registry itself" "$?" 0
conf "{\"registries\":[{\"location\":\"$R\",\"mirror-only\":true,\"mirrors\":[{\"location\":\"$P/elsewhere\",\"insecure\":true}]}]}"
"$O" pull -q --registries-conf "$T/reg.json" "$R/test/hello:1" "$T/l-m3" 2>"$T/err"
eq "mirror-only: no fallback (exit 3)" "$?" 3
conf "{\"registries\":[{\"location\":\"$R\",\"blocked\":true}]}"
"$O" pull -q --registries-conf "$T/reg.json" "$R/test/hello:1" "$T/l-m4" 2>"$T/err"
eq "blocked: exit 1" "$?" 1
check "blocked: names the config" grep -q "blocked by $T/reg.json" "$T/err"
conf "{\"registries\":[{\"location\":\"$R\",\"insecure\":true}]}"
"$O" pull -q --registries-conf "$T/reg.json" "$R/test/hello:1" "$T/l-m5" 2>"$T/err"
eq "insecure from the config (no --tls-verify=false)" "$?" 0
conf '{"registries":[{"location":"x.example","mirors":[]}]}'
"$O" pull -q --registries-conf "$T/reg.json" "$R/test/hello:1" "$T/l-m6" 2>"$T/err"
eq "a typo in the config is an error" "$?" 4

summary
