#!/bin/bash
# What ociimg writes validates against the official image-spec JSON schemas
# (python3-jsonschema, with the id aliases of the spec's schema/schema.go):
# index.json after tag/untag/gc, the oci-layout file, and `inspect --raw` output.
# The CLI cannot create images yet (pull comes later), so we start from copies of
# fixture layouts.
source "$(dirname "$0")/../lib/common.sh"
need_shared
need_jsonschema
need_ociimg

SV=("$PY" "$TESTS_LIB/schema_validate.py")
FXPY=$TESTS_LIB/fixtures.py

# validate SCHEMA FILE... : records a failure with the validator's messages.
validate() {
    local schema=$1
    shift
    if ! "${SV[@]}" -q --schema "$schema" "$@" >"$T/sv" 2>&1; then
        fail "schema $schema rejects $*:"
        sed 's/^/    /' "$T/sv" >&2
        return 1
    fi
}

# The validator itself must agree with the spec's recorded results first, or
# nothing below means anything.
note "schema_validate.py self-test"
"${SV[@]}" --self-test || die "schema_validate.py disagrees with the spec's recorded results"

# A document printed by inspect --raw: pick the schema from its mediaType.
validate_raw() {
    local f=$1 what=$2 mt
    mt=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("mediaType",""))' "$f") ||
        { fail "$what: inspect --raw output is not a JSON object"; return; }
    case "$mt" in
    application/vnd.oci.image.index.v1+json) validate image-index-schema.json "$f" ;;
    application/vnd.oci.image.manifest.v1+json) validate image-manifest-schema.json "$f" ;;
    *) fail "$what: unexpected mediaType '$mt' in inspect --raw output" ;;
    esac
}

# ---- regclient testrepo: tag, retag by digest, untag, gc -------------------
L=$T/testrepo
copy_layout "$OCIIMG_SHARED/fixtures/regclient-regclient/testdata/testrepo" "$L"
validate image-index-schema.json "$L/index.json" || die "the fixture's own index.json is invalid"
n0=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["manifests"]))' "$L/index.json")
v1=$("$PY" "$FXPY" index-entry "$L" v1)
v1_digest=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["digest"])' "$v1")
# A manifest that is a blob but not an index.json entry (v1's linux/amd64 child).
child=sha256:1effc9d48232693f4584ceb9c5e8d84ddeb5924ea4aff341aa8204510422f668

note "tag / untag / gc on $L"
expect_ok "$OCIIMG" tag "$L:v1" copied-v1 || true
expect_ok "$OCIIMG" tag "$L@$child" amd64-only || true
expect_ok "$OCIIMG" untag "$L:a1" || true
# Re-tagging moves the name, never duplicates it.
expect_ok "$OCIIMG" tag "$L:v2" copied-v1 || true
expect_ok "$OCIIMG" tag "$L:v1" copied-v1 || true
expect_ok "$OCIIMG" gc "$L" || true
expect_ok "$OCIIMG" verify "$L" || true

validate image-index-schema.json "$L/index.json"
validate image-layout-schema.json "$L/oci-layout"
"$PY" - "$L/index.json" "$n0" "$v1_digest" "$child" <<'EOF' || fail "index.json content after tag/untag is wrong"
import json, sys
idx = json.load(open(sys.argv[1]))
n0, v1, child = int(sys.argv[2]), sys.argv[3], sys.argv[4]
RN = "org.opencontainers.image.ref.name"
ms = idx["manifests"]
names = [(m.get("annotations") or {}).get(RN) for m in ms]
bad = []
if len(ms) != n0 + 1:
    bad.append("expected %d entries (+copied-v1 +amd64-only -a1), got %d" % (n0 + 1, len(ms)))
if names.count("copied-v1") != 1:
    bad.append("copied-v1 appears %d times" % names.count("copied-v1"))
if "a1" in names:
    bad.append("a1 still present after untag")
for m in ms:
    n = (m.get("annotations") or {}).get(RN)
    if n == "copied-v1" and (m["digest"] != v1 or m["mediaType"] != "application/vnd.oci.image.index.v1+json"):
        bad.append("copied-v1 -> %s %s, expected %s (an index)" % (m["mediaType"], m["digest"], v1))
    if n == "amd64-only" and (m["digest"] != child or m["mediaType"] != "application/vnd.oci.image.manifest.v1+json" or m["size"] != 556):
        bad.append("amd64-only -> %r, expected %s (manifest, 556 bytes)" % (m, child))
for b in bad:
    print("    " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

note "inspect --raw outputs"
for spec in ":copied-v1" ":amd64-only" "@$child" ":v1 --platform linux/arm64" ":a3"; do
    read -r suffix extra <<<"$spec"
    # shellcheck disable=SC2086
    if expect_ok "$OCIIMG" inspect --raw "$L$suffix" $extra; then
        cp "$T/out" "$T/raw"
        "$PY" "$FXPY" blob-of "$L" "$T/raw" >/dev/null ||
            fail "inspect --raw $spec: output is not byte-identical to a stored blob"
        validate_raw "$T/raw" "inspect --raw $spec"
    fi
done

note "inspect JSON: the embedded manifest and config"
if expect_ok "$OCIIMG" inspect --platform linux/arm64 "$L:copied-v1"; then
    if "$PY" - "$T/out" "$T/m.json" "$T/c.json" <<'EOF'; then
import json, sys
o = json.load(open(sys.argv[1]))
json.dump(o["manifest"], open(sys.argv[2], "w"))
json.dump(o["config"], open(sys.argv[3], "w"))
EOF
        validate image-manifest-schema.json "$T/m.json"
        validate config-schema.json "$T/c.json"
    else
        fail "inspect output lacks the manifest/config members README.md documents"
    fi
fi

# ---- untag everything: index.json must stay valid ("manifests": [], not null)
note "untag every name of valid_oci_dir"
E=$T/empty
copy_layout "$OCIIMG_SHARED/fixtures/anchore-stereoscope/pkg/image/oci/testdata/valid_oci_dir" "$E"
expect_ok "$OCIIMG" untag "$E:latest" || true
expect_ok "$OCIIMG" untag "$E:1.0" || true
expect_exit 3 "$OCIIMG" untag "$E:1.0" || true
validate image-index-schema.json "$E/index.json"
expect_ok "$OCIIMG" gc "$E" || true
left=$("$PY" "$FXPY" blobs "$E")
[ -z "$left" ] || fail "gc of a layout with no entries left blobs: $left"
validate image-index-schema.json "$E/index.json"
validate image-layout-schema.json "$E/oci-layout"

# ---- bookkeeping stays out of the spec's namespace --------------------------
for d in "$L" "$E"; do
    extra=$(cd "$d" && find . -mindepth 1 -maxdepth 1 ! -name blobs ! -name index.json ! -name oci-layout ! -name .ociimg -printf '%P\n')
    [ -z "$extra" ] || fail "$d: unexpected top-level entries written: $extra"
done

finish
