#!/bin/bash
# `ociimg validate` against the image-spec's own test cases: the 71 extracted Go
# fixtures (INDEX.json: schema + expect_fail) must be classified exactly (exit 0
# valid, 1 invalid, with at least one problem line), including the 4 invalid ones
# the JSON schema alone lets through; the spec's markdown examples are all valid.
source "$(dirname "$0")/../lib/common.sh"
need_shared
need_ociimg
[ -x "$PY" ] || skip "$PY not found"

shopt -s nullglob
specdirs=("$OCIIMG_SHARED"/spec/image-spec/main-*)
[ ${#specdirs[@]} -ge 1 ] || skip "no image-spec main-* directory in $OCIIMG_SHARED/spec/image-spec"
SPEC=${specdirs[-1]}

# INDEX.json -> "file<TAB>type<TAB>expect_fail<TAB>comment" with the CLI's type names.
cases() {
    "$PY" - "$1" <<'EOF'
import json, sys
types = {
    "image-manifest-schema.json": "manifest",
    "image-index-schema.json": "index",
    "config-schema.json": "config",
    "content-descriptor.json": "descriptor",
    "image-layout-schema.json": "layout",
}
for c in json.load(open(sys.argv[1])):
    t = types.get(c["schema"])
    if t is None:
        sys.exit("unknown schema %s for %s" % (c["schema"], c["file"]))
    print("\t".join([c["file"], t, "1" if c["expect_fail"] else "0",
                     (c.get("comment") or "").replace("\t", " ").replace("\n", " ")]))
EOF
}

passed=0 failed=0
check_dir() {
    local dir=$1 file type want comment n=0
    while IFS=$'\t' read -r file type want comment; do
        n=$((n + 1))
        run "$OCIIMG" validate --type "$type" "$dir/$file"
        if [ "$RC" -ge 128 ]; then
            failed=$((failed + 1))
            fail "$file ($type): CRASHED with status $RC — $comment"
            show_output
        elif [ "$RC" -ne "$want" ]; then
            failed=$((failed + 1))
            fail "$file ($type): exit $RC, expected $want ($([ "$want" = 1 ] && echo invalid || echo valid)) — $comment"
            show_output
        elif [ "$want" = 1 ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ]; then
            failed=$((failed + 1))
            fail "$file ($type): rejected without saying why (need one line per problem)"
        else
            passed=$((passed + 1))
        fi
    done < <(cases "$dir/INDEX.json")
    echo "$dir: $n cases"
    return 0
}

[ -f "$SPEC/extracted-test-cases/INDEX.json" ] || skip "no extracted-test-cases in $SPEC"
before=$((passed + failed))
check_dir "$SPEC/extracted-test-cases"
n_extracted=$((passed + failed - before))
[ "$n_extracted" -eq 71 ] || fail "expected 71 extracted test cases, INDEX.json lists $n_extracted"

if [ -f "$SPEC/spec-md-examples/INDEX.json" ]; then
    check_dir "$SPEC/spec-md-examples"
fi

# validate --type layout also takes a directory and is strict: regclient's
# testrepo is intact, but two of its manifests give "{}" the OCI image config
# media type, which `verify` only warns about and `validate` reports.
tr=$OCIIMG_SHARED/fixtures/regclient-regclient/testdata/testrepo
if [ -d "$tr" ]; then
    copy_layout "$tr" "$T/testrepo"
    out=$("$OCIIMG" validate --type layout "$T/testrepo" 2>&1) && rc=0 || rc=$?
    if [ "$rc" -eq 1 ] && grep -q '(config): architecture: required' <<<"$out" &&
        [ "$(grep -c ': required$' <<<"$out")" -eq "$(grep -c . <<<"$out")" ]; then
        passed=$((passed + 1))
    else
        echo "FAIL: validate --type layout testrepo: exit $rc, expected 1 with only the {} config findings"
        echo "$out" | head -20
        failed=$((failed + 1))
    fi
    if expect_ok "$OCIIMG" verify "$T/testrepo"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi
# Usage errors are 2, a missing file is 3.
if expect_exit 2 "$OCIIMG" validate --type nonsense "$SPEC/extracted-test-cases/valid-manifest-04.json"; then
    passed=$((passed + 1))
else failed=$((failed + 1)); fi
if expect_exit 3 "$OCIIMG" validate --type manifest "$T/does-not-exist.json"; then
    passed=$((passed + 1))
else failed=$((failed + 1)); fi

echo "$passed passed, $failed failed"
finish
