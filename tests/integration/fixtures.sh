#!/bin/bash
# Every OCI layout fixture under ../shared/fixtures (testdata/fixture-expectations.tsv):
# good ones list, inspect, verify (and gc keeps what is reachable); intact ones with
# spec-breaking documents verify with warnings (problems under --strict); broken ones make
# verify exit 1 naming the problem; directories without oci-layout are refused with 3.
# Each fixture is copied to a temp dir first: ../shared is read-only in CI.
source "$(dirname "$0")/../lib/common.sh"
need_shared
need_ociimg
[ -x "$PY" ] || skip "$PY not found"

TSV=$OCIIMG_SRCDIR/testdata/fixture-expectations.tsv
FIX=$OCIIMG_SHARED/fixtures
FXPY=$TESTS_LIB/fixtures.py

# Lines of verify's output that mention digest $1 (by its first 12 hex digits,
# so both "sha256:abc..." and "blobs/sha256/abc..." count).
lines_for() {
    local hex=${1#*:}
    cat "$T/out" "$T/err" | grep -F -- "${hex:0:12}" || true
}

check_problem() {
    local rel=$1 item=$2 kind digest word lines
    kind=${item%%=*}
    case "$kind" in
    empty-index)
        if ! cat "$T/out" "$T/err" | grep -F 'index.json' | grep -Eqi 'empty|manifests'; then
            fail "$rel: verify does not report the empty index (index.json ... empty|manifests)"
            return
        fi
        return
        ;;
    esac
    digest=${item#*=}
    word=
    if [ "$kind" = invalid ]; then
        word=${digest##*:}
        digest=${digest%:*}
    fi
    lines=$(lines_for "$digest")
    if [ -z "$lines" ]; then
        fail "$rel: verify output never mentions ${digest:0:19} (expected: $kind)"
        return
    fi
    local re
    case "$kind" in
    missing) re='missing|not found|no such|does not exist|absent' ;;
    size) re='size' ;;
    digest) re='digest|mismatch' ;;
    invalid) re=$word ;;
    *)
        fail "$rel: unknown problem kind '$kind' in $TSV"
        return
        ;;
    esac
    if ! grep -Eqi -- "$re" <<<"$lines"; then
        fail "$rel: verify mentions ${digest:0:19} but not as '$kind' (want /$re/): $lines"
    fi
}

# inspect_checks DIR SPEC : ls + inspect (+ --raw) for the image SPEC names.
inspect_checks() {
    local dir=$1 spec=$2 rel=$3 suffix extra name
    read -r suffix extra <<<"$spec"
    [ "$suffix" = . ] && suffix=
    # shellcheck disable=SC2086 # extra holds whitespace-separated arguments
    if expect_ok "$OCIIMG" inspect "$dir$suffix" $extra; then
        "$PY" "$FXPY" json "$T/out" || fail "$rel: inspect $suffix $extra: stdout is not JSON"
    fi
    # shellcheck disable=SC2086
    if expect_ok "$OCIIMG" inspect --raw "$dir$suffix" $extra; then
        cp "$T/out" "$T/raw"
        [ -s "$T/raw" ] || fail "$rel: inspect --raw printed nothing"
        "$PY" "$FXPY" blob-of "$dir" "$T/raw" >/dev/null ||
            fail "$rel: inspect --raw output is not byte-identical to any stored blob"
    fi
}

ls_checks() {
    local dir=$1 rel=$2 name d
    expect_ok "$OCIIMG" ls "$dir" || return 0
    [ -s "$T/out" ] || fail "$rel: ls printed nothing"
    while IFS= read -r name; do
        grep -qF -- "$name" "$T/out" || fail "$rel: ls does not show the name '$name'"
    done < <("$PY" "$FXPY" names "$dir")
    while IFS= read -r d; do
        grep -qF -- "${d:7:12}" "$T/out" || fail "$rel: ls does not show digest ${d:0:19}"
    done < <("$PY" "$FXPY" entries "$dir")
}

n_good=0 n_warn=0 n_broken=0 n_notlayout=0 i=0
while IFS=$'\t' read -r rel expect spec problems reason; do
    case "$rel" in '#'* | '') continue ;; esac
    i=$((i + 1))
    src=$FIX/$rel
    if [ ! -e "$src" ]; then
        fail "$rel: listed in $TSV but missing from $FIX"
        continue
    fi
    dir=$T/fx$i
    copy_layout "$src" "$dir"
    note "$expect: $rel ($reason)"
    case "$expect" in
    good)
        n_good=$((n_good + 1))
        before=$(tree_state "$dir")
        ls_checks "$dir" "$rel"
        inspect_checks "$dir" "$spec" "$rel"
        expect_ok "$OCIIMG" verify "$dir" || true
        expect_ok "$OCIIMG" verify --all "$dir" || true
        [ "$(tree_state "$dir")" = "$before" ] ||
            fail "$rel: ls/inspect/verify modified the layout (read-only commands must not write)"
        # gc: keeps everything reachable, removes what nothing could reach.
        "$PY" "$FXPY" reachable "$dir" | LC_ALL=C sort >"$T/reach"
        "$PY" "$FXPY" reachable "$dir" --liberal | LC_ALL=C sort >"$T/reach-lib"
        "$PY" "$FXPY" blobs "$dir" >"$T/blobs-before"
        if expect_ok "$OCIIMG" gc --dry-run "$dir"; then
            "$PY" "$FXPY" blobs "$dir" | cmp -s - "$T/blobs-before" ||
                fail "$rel: gc --dry-run removed blobs"
        fi
        if expect_ok "$OCIIMG" gc "$dir"; then
            "$PY" "$FXPY" blobs "$dir" | LC_ALL=C sort >"$T/blobs-after"
            gone=$(LC_ALL=C comm -12 "$T/reach" <(LC_ALL=C comm -23 "$T/blobs-before" "$T/blobs-after"))
            [ -z "$gone" ] || fail "$rel: gc removed reachable blobs: $gone"
            kept=$(LC_ALL=C comm -23 "$T/blobs-after" "$T/reach-lib")
            [ -z "$kept" ] || fail "$rel: gc kept blobs nothing references: $kept"
            expect_ok "$OCIIMG" verify "$dir" || true
        fi
        ;;
    warn)
        n_warn=$((n_warn + 1))
        IFS=';' read -ra items <<<"$problems"
        if expect_ok "$OCIIMG" verify "$dir"; then
            for item in "${items[@]}"; do
                check_problem "$rel (warning)" "$item"
            done
        fi
        if expect_exit 1 "$OCIIMG" verify --strict "$dir"; then
            for item in "${items[@]}"; do
                check_problem "$rel (--strict)" "$item"
            done
        fi
        ls_checks "$dir" "$rel"
        ;;
    broken)
        n_broken=$((n_broken + 1))
        if expect_exit 1 "$OCIIMG" verify "$dir"; then
            IFS=';' read -ra items <<<"$problems"
            for item in "${items[@]}"; do
                check_problem "$rel" "$item"
            done
        fi
        if [ "$spec" != - ]; then
            ls_checks "$dir" "$rel"
            inspect_checks "$dir" "$spec" "$rel"
        fi
        ;;
    notlayout)
        n_notlayout=$((n_notlayout + 1))
        for sub in verify ls; do
            if expect_exit 3 "$OCIIMG" "$sub" "$dir"; then
                grep -q 'oci-layout' "$T/err" ||
                    fail "$rel: $sub error does not mention oci-layout: $(cat "$T/err")"
            fi
        done
        ;;
    *)
        fail "$rel: unknown expectation '$expect' in $TSV"
        ;;
    esac
done <"$TSV"

# Every layout in ../shared must be classified (a new fixture must not slip by).
while IFS= read -r d; do
    rel=${d#"$FIX"/}
    grep -qP "^\Q$rel\E\t" "$TSV" || fail "layout $rel is not listed in $TSV"
done < <(find "$FIX" -name oci-layout -type f -printf '%h\n')

echo "fixtures: $n_good good, $n_warn with warnings, $n_broken broken, $n_notlayout not layouts"
[ $((n_good + n_warn + n_broken)) -ge 25 ] || fail "expected at least 25 layouts in $TSV"
finish
