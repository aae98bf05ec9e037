#!/usr/bin/python3
"""Validate JSON documents against the official OCI JSON schemas.

Run with Debian's /usr/bin/python3 (python3-jsonschema, Draft 4).

    schema_validate.py --schema image-manifest-schema.json FILE...
    schema_validate.py --schema manifest FILE...          (short names work too)
    schema_validate.py --runtime [--schema config-schema.json] FILE...
    schema_validate.py --self-test

Exit status: 0 all files valid, 1 at least one invalid (one line per problem
on stdout), 2 usage or set-up error (schemas not found, jsonschema missing).

The image-spec schemas refer to each other both by bare file name
("defs-descriptor.json#/...") and, because of nested "id" values that change
the resolution scope, by URLs such as
https://opencontainers.org/schema/descriptor/defs-descriptor.json.  The
spec's schema/schema.go lists the URL aliases its Go loader registers; we
register the same ones and additionally resolve any opencontainers.org URL
whose last path segment names a schema file, so a scope change we did not
foresee cannot silently turn into a network fetch.
"""

import argparse
import glob
import json
import os
import sys
import urllib.parse

try:
    import jsonschema
except ImportError:  # pragma: no cover - depends on the machine
    print("schema_validate: python3-jsonschema is not installed "
          "(apt-get install python3-jsonschema; run with /usr/bin/python3)", file=sys.stderr)
    sys.exit(2)

# From the image-spec's schema/schema.go (specURLs).
IMAGE_SPEC_URLS = {
    "config-schema.json": ["https://opencontainers.org/schema/image/config"],
    "content-descriptor.json": [
        "https://opencontainers.org/schema/descriptor",
        "https://opencontainers.org/schema/image/content-descriptor.json",
    ],
    "defs-descriptor.json": [
        "https://opencontainers.org/schema/image/descriptor/mediaType",
        "https://opencontainers.org/schema/defs-descriptor.json",
        "https://opencontainers.org/schema/image/defs-descriptor.json",
    ],
    "defs.json": [
        "https://opencontainers.org/schema/defs.json",
        "https://opencontainers.org/schema/image/defs.json",
        "https://opencontainers.org/schema/image/descriptor/defs.json",
    ],
    "image-index-schema.json": ["https://opencontainers.org/schema/image/index"],
    "image-layout-schema.json": ["https://opencontainers.org/schema/image/layout"],
    "image-manifest-schema.json": ["https://opencontainers.org/schema/image/manifest"],
}

SHORT_NAMES = {
    "manifest": "image-manifest-schema.json",
    "index": "image-index-schema.json",
    "config": "config-schema.json",
    "descriptor": "content-descriptor.json",
    "layout": "image-layout-schema.json",
}

# Documents we validate are small; a cap keeps a runaway test input from
# eating the machine.
MAX_DOC = 64 * 1024 * 1024


def die(msg):
    print("schema_validate: " + msg, file=sys.stderr)
    sys.exit(2)


def shared_dir():
    env = os.environ.get("OCIIMG_SHARED")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "..", "shared"))


def default_schema_dir(runtime, version):
    base = os.path.join(shared_dir(), "spec", "runtime-spec" if runtime else "image-spec")
    if version:
        d = os.path.join(base, version, "schema")
    elif runtime:
        d = os.path.join(base, "v1.3.0", "schema")
    else:
        # HEAD of the image-spec is a strict superset of v1.1.1 (it also
        # rejects negative sizes), which is what we want for our own output.
        mains = sorted(glob.glob(os.path.join(base, "main-*", "schema")))
        d = mains[-1] if mains else os.path.join(base, "v1.1.1", "schema")
    return d


def load_json(path):
    with open(path, "rb") as f:
        data = f.read(MAX_DOC + 1)
    if len(data) > MAX_DOC:
        raise ValueError("larger than %d bytes" % MAX_DOC)
    return json.loads(data.decode("utf-8"))


class Schemas:
    """All schema files of one directory, resolvable by file name and alias."""

    def __init__(self, schema_dir, runtime):
        if not os.path.isdir(schema_dir):
            die("schema directory not found: %s" % schema_dir)
        self.dir = os.path.abspath(schema_dir)
        self.runtime = runtime
        self.docs = {}
        for p in sorted(glob.glob(os.path.join(self.dir, "*.json"))):
            try:
                self.docs[os.path.basename(p)] = load_json(p)
            except (OSError, ValueError) as e:
                die("cannot load schema %s: %s" % (p, e))
        if not self.docs:
            die("no schema files in %s" % schema_dir)
        self.store = {}
        for name, doc in self.docs.items():
            self.store[self.file_uri(name)] = doc
            self.store[name] = doc
            if not runtime:
                for url in IMAGE_SPEC_URLS.get(name, []):
                    self.store[url] = doc
            top_id = doc.get("id") if isinstance(doc.get("id"), str) else None
            if top_id:
                self.store[top_id] = doc

    def file_uri(self, name):
        return "file://" + urllib.parse.quote(os.path.join(self.dir, name))

    def by_basename(self, url):
        name = os.path.basename(urllib.parse.urlsplit(url).path)
        if name in self.docs:
            return self.docs[name]
        raise jsonschema.exceptions.RefResolutionError(
            "unknown schema reference %s (no %s in %s)" % (url, name, self.dir))

    def validator(self, name):
        name = SHORT_NAMES.get(name, name)
        if name not in self.docs:
            die("no schema %s in %s (have: %s)" % (name, self.dir, ", ".join(sorted(self.docs))))
        schema = self.docs[name]
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
        cls.check_schema(schema)
        # Base URI is the file itself so bare file-name refs resolve in the
        # store; nested ids push URL scopes that the handlers catch.
        resolver = jsonschema.RefResolver(
            base_uri=self.file_uri(name),
            referrer=schema,
            store=self.store,
            handlers={"https": self.by_basename, "http": self.by_basename,
                      "file": self.by_basename},
        )
        return cls(schema, resolver=resolver, format_checker=cls.FORMAT_CHECKER)


def errors_for(validator, path):
    """List of problem strings for one file (empty = valid)."""
    try:
        doc = load_json(path)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return ["not valid JSON: %s" % e]
    out = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/" + "/".join(str(p) for p in err.absolute_path)
        out.append("%s: %s" % (where, err.message))
    return out


def self_test(schemas):
    """Checks our resolver against the results recorded next to the spec's
    own test cases (INDEX.json field python_jsonschema_draft4)."""
    base = os.path.dirname(schemas.dir)
    failures = 0
    total = 0
    for sub in ("extracted-test-cases", "spec-md-examples"):
        idx_path = os.path.join(base, sub, "INDEX.json")
        if not os.path.exists(idx_path):
            die("self-test: %s not found" % idx_path)
        for case in load_json(idx_path):
            total += 1
            recorded = case.get("python_jsonschema_draft4", "")
            v = schemas.validator(case["schema"])
            errs = errors_for(v, os.path.join(base, sub, case["file"]))
            if recorded == "json-parse-error":
                want_valid = False
            else:
                want_valid = recorded == "schema-valid"
            # With a format checker we may be stricter than the recorded run
            # (format "uri"); that only ever turns expected-invalid cases
            # invalid, never the other way round.
            got_valid = not errs
            if got_valid != want_valid and not (not got_valid and case.get("expect_fail")):
                failures += 1
                print("self-test MISMATCH %s/%s: recorded %r, got %s" %
                      (sub, case["file"], recorded, errs or "valid"))
    print("self-test: %d cases, %d mismatches" % (total, failures))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--schema", help="schema file name (or manifest|index|config|descriptor|layout)")
    ap.add_argument("--runtime", action="store_true", help="use the runtime-spec schemas")
    ap.add_argument("--version", help="spec version directory, e.g. v1.1.1 (default: newest)")
    ap.add_argument("--schema-dir", help="explicit schema directory")
    ap.add_argument("--self-test", action="store_true",
                    help="check the validator itself against the spec's recorded cases")
    ap.add_argument("-q", "--quiet", action="store_true", help="print problems only")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()

    schema_dir = a.schema_dir or default_schema_dir(a.runtime, a.version)
    schemas = Schemas(schema_dir, a.runtime)
    if a.self_test:
        if a.runtime:
            die("--self-test is for the image-spec schemas")
        return self_test(schemas)
    if not a.files:
        die("no files given (usage: schema_validate.py --schema NAME FILE...)")
    name = a.schema or ("config-schema.json" if a.runtime else None)
    if not name:
        die("--schema is required")
    v = schemas.validator(name)
    bad = 0
    for path in a.files:
        errs = errors_for(v, path)
        if errs:
            bad += 1
            for e in errs:
                print("%s: INVALID against %s: %s" % (path, SHORT_NAMES.get(name, name), e))
        elif not a.quiet:
            print("%s: valid (%s)" % (path, SHORT_NAMES.get(name, name)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
