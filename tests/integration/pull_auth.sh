#!/bin/bash
# Credentials and auth flows of `ociimg pull`, `login`, `logout` against htpasswd Basic auth and
# token auth (tests/registry/tokenserver.py, which behaves like auth.docker.io):
#  - anonymous access where allowed, a clear 401 where not;
#  - every source of credentials: --creds, --authfile, and docker's config.json with auths
#    "auth", auths "identitytoken" (refresh-token grant), credsStore and credHelpers (helper
#    scripts in a temp $PATH);
#  - wrong passwords fail naming where the credentials came from, never the secret;
#  - login checks then stores, logout erases (docker-compatible file);
#  - a token that expires mid-pull is renewed (token server --expires-in 3, a trickled blob);
#  - blob GETs redirected to another port never carry the token.
# Ends with "N passed, M failed".  Exit 77 without docker-registry.
source "$(dirname "$0")/../lib/common.sh"
source "$OCIIMG_SRCDIR/tests/lib/registry.sh"

export HOME=$T/home
mkdir -p "$HOME" "$T/bin"
unset DOCKER_CONFIG REGISTRY_AUTH_FILE
cat >"$T/bin/docker-credential-ocitest" <<'EOF'
#!/bin/sh
# A credential helper: `get` answers for any server with testuser/testpass.
[ "$1" = get ] || exit 1
read -r server
printf '{"ServerURL":"%s","Username":"testuser","Secret":"testpass"}\n' "$server"
EOF
chmod +x "$T/bin/docker-credential-ocitest"
HPATH=$T/bin:$PATH

# pull_with NAME ENV... -- OPTIONS... REF : a quiet pull into $T/l-NAME with extra env vars
pull_with() {
    local name=$1
    shift
    local envs=()
    while [ "$1" != -- ]; do
        envs+=("$1")
        shift
    done
    shift
    env "${envs[@]}" "$O" pull -q --tls-verify=false "$@" "$T/l-$name" >"$T/out" 2>"$T/err"
}

for v in basic token; do
    note "$v: credential sources"
    start "$v" "$v" --seed --proxy || {
        bad "$v harness did not start"
        continue
    }
    R=$REG_HOST
    PRIV=$R/private/hello:1
    pull_with "$v-anon" -- "$R/test/hello:1"
    rc=$?
    if [ "$v" = basic ]; then
        eq "basic: anonymous pull refused (exit 1)" "$rc" 1
    else
        eq "token: anonymous pull of a public repository" "$rc" 0
    fi
    pull_with "$v-anon-private" -- "$PRIV"
    eq "$v: private repository anonymously: exit 1" "$?" 1
    check "$v: the 401 says what to do" grep -q "unauthorized (401.*ociimg login $R" "$T/err"
    pull_with "$v-creds" -- --creds testuser:testpass "$PRIV"
    eq "$v: --creds" "$?" 0
    check "$v: verify" verify_ok "$T/l-$v-creds"
    pull_with "$v-auths" DOCKER_CONFIG="$REG_DOCKER_CONFIG" -- "$PRIV"
    eq "$v: config.json auths[host].auth" "$?" 0
    mkdir -p "$T/cs-$v" "$T/ch-$v"
    echo '{"credsStore":"ocitest"}' >"$T/cs-$v/config.json"
    echo "{\"credHelpers\":{\"$R\":\"ocitest\"}}" >"$T/ch-$v/config.json"
    pull_with "$v-store" DOCKER_CONFIG="$T/cs-$v" PATH="$HPATH" -- "$PRIV"
    eq "$v: config.json credsStore (helper)" "$?" 0
    pull_with "$v-helpers" DOCKER_CONFIG="$T/ch-$v" PATH="$HPATH" -- "$PRIV"
    eq "$v: config.json credHelpers[host] (helper)" "$?" 0
    cp "$REG_DOCKER_CONFIG/config.json" "$T/authfile-$v.json"
    pull_with "$v-authfile" -- --authfile "$T/authfile-$v.json" "$PRIV"
    eq "$v: --authfile" "$?" 0
    pull_with "$v-env-authfile" REGISTRY_AUTH_FILE="$T/authfile-$v.json" -- "$PRIV"
    eq "$v: \$REGISTRY_AUTH_FILE" "$?" 0
    if [ "$v" = token ]; then
        curl -s -o /dev/null -X POST "$REG_TOKEN_CONTROL/reset"
        pull_with "$v-identity" DOCKER_CONFIG="$REG_DOCKER_CONFIG_IDENTITY" -- "$PRIV"
        eq "token: config.json auths[host].identitytoken" "$?" 0
        curl -s "$REG_TOKEN_CONTROL/stats" >"$T/ts"
        eq "token: the identity token went as grant_type=refresh_token" \
            "$(jget "$T/ts" "[r.get('grant_type') for r in d['requests']]")" '["refresh_token"]'
    fi
    pull_with "$v-wrong" -- --creds testuser:wrongpass "$PRIV"
    eq "$v: wrong password: exit 1" "$?" 1
    check "$v: the error names the source of the credentials" grep -q "from --creds" "$T/err"
    check "$v: no secret in the output" no_secrets "$T/out" "$T/err"

    note "$v: login and logout"
    AF=$T/login-$v.json
    echo '{"auths":{"other.example":{"auth":"eDp5"}},"credHelpers":{"x.example":"y"}}' >"$AF"
    echo wrongpass | "$O" login --authfile "$AF" --tls-verify=false -u testuser --password-stdin "$R" >"$T/out" 2>"$T/err"
    eq "$v: login with a wrong password: exit 1" "$?" 1
    check "$v: nothing stored" bash -c "! grep -q '$R' '$AF'"
    echo testpass | "$O" login --authfile "$AF" --tls-verify=false -u testuser --password-stdin "$R" >"$T/out" 2>"$T/err"
    eq "$v: login" "$?" 0
    check "$v: Login Succeeded" grep -q "Login Succeeded" "$T/out"
    eq "$v: stored as docker does (base64 user:pass)" \
        "$(jget "$AF" "__import__('base64').b64decode(d['auths']['$R']['auth']).decode()")" testuser:testpass
    eq "$v: other keys kept" "$(jget "$AF" "(d['auths']['other.example']['auth'], d['credHelpers']['x.example'])")" "('eDp5', 'y')"
    eq "$v: mode 0600" "$(stat -c %a "$AF")" 600
    pull_with "$v-after-login" -- --authfile "$AF" "$PRIV"
    eq "$v: pull with the stored login" "$?" 0
    "$O" logout --authfile "$AF" "$R" 2>"$T/err"
    eq "$v: logout" "$?" 0
    check "$v: the entry is gone, the rest kept" \
        bash -c "! grep -q '$R' '$AF' && grep -q other.example '$AF'"
    "$O" logout --authfile "$AF" "$R" 2>"$T/err"
    eq "$v: logout again: still exit 0" "$?" 0
    check "$v: says it was not logged in" grep -q "Not logged in" "$T/err"
    stop "$v"
done

note "token: renewed when it expires mid-pull"
start expiry token --seed --proxy --expires-in 3 || die "token harness did not start"
CFG=$(img "d['images']['test/big:1']['config']['digest']")
# --jobs 1: the config (trickled for ~5 s) first, then the layer with a token that the registry
# refuses by then.
rules "[{\"method\":\"GET\",\"path\":\"/blobs/$CFG\",\"action\":\"trickle\",\"chunk\":50,\"delay\":0.7}]"
curl -s -o /dev/null -X POST "$REG_TOKEN_CONTROL/reset"
reset_stats
"$O" pull -q --jobs 1 --tls-verify=false "$REG_PROXY_HOST/test/big:1" "$T/l-expiry" 2>"$T/err"
eq "the pull completes" "$?" 0
curl -s "$REG_TOKEN_CONTROL/stats" >"$T/ts"
stats "$T/stats"
check "a 401 mid-pull" test "$(jget "$T/stats" "sum(1 for l in d['log'] if l['status']==401 and '/blobs/' in l['path'])")" -ge 1
check "a second token was fetched" test "$(jget "$T/ts" "d['count']")" -ge 2
check "verify" verify_ok "$T/l-expiry"

note "token: insufficient_scope naming another scope"
# The registry's own challenge gives the realm and service; the proxy answers the first manifest
# GET with a 401 that asks for a wider scope, as registries do for cross-repository access.
CH=$(curl -s -D - -o /dev/null "http://$REG_HOST/v2/test/hello/manifests/1" | tr -d '\r' |
    sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p')
WANT=repository:test/hello:pull,push
scope_rules() { # scope_rules TIMES
    "$PY" -c '
import json, re, sys
ch, want, times = sys.argv[1], sys.argv[2], int(sys.argv[3])
realm = re.search(r"realm=\"([^\"]*)\"", ch).group(1)
service = re.search(r"service=\"([^\"]*)\"", ch).group(1)
hdr = "Bearer realm=\"%s\",service=\"%s\",scope=\"%s\",error=\"insufficient_scope\"" % (realm, service, want)
body = json.dumps({"errors": [{"code": "DENIED", "message": "insufficient scope", "detail": None}]})
print(json.dumps([{"method": "GET", "path": "/manifests/", "action": "status", "status": 401,
                   "headers": {"WWW-Authenticate": hdr}, "body": body, "times": times}]))' "$CH" "$WANT" "$1"
}
check "the registry's challenge names realm and service" bash -c "[[ '$CH' == *realm=*service=* ]]"
manifest_statuses() { jget "$T/stats" "[l['status'] for l in d['log'] if '/manifests/' in l['path']]"; }
rules "$(scope_rules 1)"
curl -s -o /dev/null -X POST "$REG_TOKEN_CONTROL/reset"
reset_stats
"$O" pull -q --tls-verify=false "$REG_PROXY_HOST/test/hello:1" "$T/l-scope" 2>"$T/err"
eq "insufficient_scope once: the pull completes" "$?" 0
curl -s "$REG_TOKEN_CONTROL/stats" >"$T/ts"
stats "$T/stats"
eq "a token was requested for the scope the challenge names" \
    "$(jget "$T/ts" "sum(1 for r in d['requests'] if '$WANT' in r['scopes'])")" 1
eq "the manifest GET was retried once" "$(manifest_statuses)" "[401, 200]"
check "verify" verify_ok "$T/l-scope"
rules "$(scope_rules -1)"
reset_stats
"$O" pull -q --tls-verify=false "$REG_PROXY_HOST/test/hello:1" "$T/l-scope2" 2>"$T/err"
eq "insufficient_scope always: exit 1" "$?" 1
check "insufficient_scope always: a clear 401 error" grep -q "unauthorized (401" "$T/err"
stats "$T/stats"
check "insufficient_scope always: bounded retries" \
    test "$(jget "$T/stats" "sum(1 for l in d['log'] if '/manifests/' in l['path'])")" -le 3
rules '[]'

note "token: redirected blobs never carry the token"
rules '[{"method":"GET","path":"/blobs/sha256:","action":"redirect","times":-1}]'
reset_stats
"$O" pull -q --tls-verify=false --creds testuser:testpass "$REG_PROXY_HOST/private/hello:1" "$T/l-redirect" 2>"$T/err"
eq "pull with every blob redirected" "$?" 0
stats "$T/stats"
check "the registry got Authorization" test "$(jget "$T/stats" "sum(1 for l in d['log'] if l['authorization'])")" -ge 1
eq "the blob server saw none" "$(jget "$T/stats" "d['blobserver']['saw_authorization']")" False
curl -s -o /dev/null -X POST -d '{"reject_authorization":true}' "$REG_PROXY_CONTROL/blobserver"
"$O" pull -q --tls-verify=false "$REG_PROXY_HOST/test/zstd:1" "$T/l-redirect2" 2>"$T/err"
eq "a blob store that rejects Authorization (like S3) still serves" "$?" 0
rules '[]'

summary
