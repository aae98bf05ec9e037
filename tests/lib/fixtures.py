#!/usr/bin/python3
"""Independent (Python) view of an OCI image layout, used by the integration
tests to check what ociimg reports.  Standard library only.

    fixtures.py reachable DIR [--liberal]  digests reachable from index.json, one per line
    fixtures.py names DIR                  org.opencontainers.image.ref.name values
    fixtures.py entries DIR                digests listed in index.json
    fixtures.py blobs DIR                  digests present under blobs/
    fixtures.py blob-of DIR FILE           sha256 of FILE; exit 1 unless DIR holds that blob
    fixtures.py json FILE                  exit 0 if FILE is one JSON object/array
    fixtures.py index-entry DIR NAME       the index.json descriptor named NAME (JSON)

"reachable" follows descriptors whose media type is a manifest or index (OCI or
Docker), exactly what verify/gc must treat as reachable.  --liberal also
follows any present blob that parses as a manifest/index whatever its
descriptor says, and "subject" descriptors: the most a conservative gc may
keep.  Without --liberal, "subject" is not followed.  Missing blobs are still listed (they are reachable, just absent).
"""

import hashlib
import json
import os
import sys

MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MAX_DOC = 16 * 1024 * 1024
MAX_NODES = 100000


def blob_path(root, digest):
    alg, sep, enc = digest.partition(":")
    if not sep or "/" in alg or "/" in enc or alg in ("", ".", "..") or enc in ("", ".", ".."):
        return None
    return os.path.join(root, "blobs", alg, enc)


def read_doc(root, digest):
    p = blob_path(root, digest)
    if not p or not os.path.isfile(p) or os.path.getsize(p) > MAX_DOC:
        return None
    try:
        with open(p, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def load_index(root):
    with open(os.path.join(root, "index.json"), "rb") as f:
        idx = json.loads(f.read())
    if not isinstance(idx, dict):
        return []
    return [d for d in (idx.get("manifests") or []) if isinstance(d, dict)]


def children(doc, liberal):
    if not isinstance(doc, dict):
        return []
    out = []
    if liberal and isinstance(doc.get("subject"), dict):
        out.append(doc["subject"])
    for key in ("manifests", "layers", "blobs"):
        v = doc.get(key)
        if isinstance(v, list):
            out.extend(d for d in v if isinstance(d, dict))
    if isinstance(doc.get("config"), dict) and "digest" in doc["config"]:
        out.append(doc["config"])
    return out


def reachable(root, liberal):
    seen = set()
    todo = list(load_index(root))
    while todo and len(seen) < MAX_NODES:
        d = todo.pop()
        dg = d.get("digest")
        if not isinstance(dg, str) or dg in seen:
            continue
        seen.add(dg)
        mt = d.get("mediaType")
        if mt in MANIFEST_TYPES or mt in INDEX_TYPES or liberal:
            doc = read_doc(root, dg)
            if liberal and not (isinstance(doc, dict) and
                                ("manifests" in doc or "layers" in doc or
                                 isinstance(doc.get("config"), dict) and "digest" in doc["config"])):
                continue
            todo.extend(children(doc, liberal))
    return seen


def present(root):
    out = set()
    bdir = os.path.join(root, "blobs")
    if not os.path.isdir(bdir):
        return out
    for alg in os.listdir(bdir):
        adir = os.path.join(bdir, alg)
        if os.path.isdir(adir):
            for enc in os.listdir(adir):
                if os.path.isfile(os.path.join(adir, enc)):
                    out.add(alg + ":" + enc)
    return out


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, root = argv[1], argv[2]
    if cmd == "reachable":
        for dg in sorted(reachable(root, "--liberal" in argv[3:])):
            print(dg)
    elif cmd == "names":
        for d in load_index(root):
            n = (d.get("annotations") or {}).get("org.opencontainers.image.ref.name")
            if n:
                print(n)
    elif cmd == "entries":
        for d in load_index(root):
            print(d.get("digest"))
    elif cmd == "blobs":
        for dg in sorted(present(root)):
            print(dg)
    elif cmd == "blob-of":
        with open(argv[3], "rb") as f:
            dg = "sha256:" + hashlib.sha256(f.read()).hexdigest()
        print(dg)
        return 0 if dg in present(root) else 1
    elif cmd == "json":
        try:
            with open(root, "rb") as f:
                doc = json.loads(f.read())
        except (OSError, ValueError) as e:
            print("not JSON: %s" % e, file=sys.stderr)
            return 1
        return 0 if isinstance(doc, (dict, list)) else 1
    elif cmd == "index-entry":
        for d in load_index(root):
            if (d.get("annotations") or {}).get("org.opencontainers.image.ref.name") == argv[3]:
                print(json.dumps(d, sort_keys=True))
                return 0
        return 1
    else:
        print("fixtures.py: unknown command %s" % cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
