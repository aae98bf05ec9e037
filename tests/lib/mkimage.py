#!/usr/bin/python3
"""Adds a single-platform OCI image to an OCI image layout, for the unpack tests.

  mkimage.py --layout DIR --tag NAME [--from NAME] [--config JSON] [--arch A]
             [--layer FILE]... [--layer-dir DIR]... [--bad-diff-id N]

--from NAME     start from that image of the layout (its layers and config)
--config JSON   merged into the config's "config" object (null deletes a key)
--layer FILE    a layer blob as is (tar, tar+gzip or tar+zstd by its magic)
--layer-dir DIR a layer made from DIR with tarfile (PAX, sorted, numeric owners as on disk)
--bad-diff-id N replace diff_id N (0-based, negative from the end) with a wrong digest
Layers are appended in the order given.  DIR is created if it is no layout yet.
Prints the manifest digest.  Python stdlib only; zstd layers need the zstd tool.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile

MT = "application/vnd.oci.image"


def put(lay, data):
    d = hashlib.sha256(data).hexdigest()
    p = os.path.join(lay, "blobs", "sha256", d)
    if not os.path.exists(p):
        with open(p + ".tmp", "wb") as f:
            f.write(data)
        os.rename(p + ".tmp", p)
    return "sha256:" + d


def blob(lay, digest):
    with open(os.path.join(lay, "blobs", *digest.split(":", 1)), "rb") as f:
        return f.read()


def index(lay):
    p = os.path.join(lay, "index.json")
    if not os.path.exists(p):
        return {"schemaVersion": 2, "mediaType": MT + ".index.v1+json", "manifests": []}
    with open(p) as f:
        return json.load(f)


def find(lay, name):
    for m in index(lay)["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == name:
            return m
    raise SystemExit("mkimage: no image %r in %s" % (name, lay))


def uncompressed(data):
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data), MT + ".layer.v1.tar+gzip"
    if data[:4] == b"\x28\xb5\x2f\xfd":
        out = subprocess.run(["zstd", "-dc"], input=data, stdout=subprocess.PIPE, check=True).stdout
        return out, MT + ".layer.v1.tar+zstd"
    return data, MT + ".layer.v1.tar"


def tar_dir(d):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for root, dirs, files in os.walk(d):
            dirs.sort()
            for n in sorted(dirs + files):
                p = os.path.join(root, n)
                ti = t.gettarinfo(p, os.path.relpath(p, d))
                ti.uname = ti.gname = ""
                if ti.isreg():
                    with open(p, "rb") as f:
                        t.addfile(ti, f)
                else:
                    t.addfile(ti)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layout", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--from", dest="base")
    ap.add_argument("--config", default="{}")
    ap.add_argument("--arch")
    ap.add_argument("--layer", action="append", default=[])
    ap.add_argument("--layer-dir", action="append", default=[])
    ap.add_argument("--bad-diff-id", type=int)
    a = ap.parse_args()
    lay = a.layout
    os.makedirs(os.path.join(lay, "blobs", "sha256"), exist_ok=True)
    if not os.path.exists(os.path.join(lay, "oci-layout")):
        with open(os.path.join(lay, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
    layers, cfg = [], {"architecture": a.arch or "amd64", "os": "linux", "config": {},
                       "rootfs": {"type": "layers", "diff_ids": []}}
    if a.base:
        man = json.loads(blob(lay, find(lay, a.base)["digest"]))
        layers = man["layers"]
        cfg = json.loads(blob(lay, man["config"]["digest"]))
    if a.arch:
        cfg["architecture"] = a.arch
    for k, v in json.loads(a.config).items():
        if v is None:
            cfg["config"].pop(k, None)
        else:
            cfg["config"][k] = v
    raw = [open(f, "rb").read() for f in a.layer] + [tar_dir(d) for d in a.layer_dir]
    for data in raw:
        tar, mt = uncompressed(data)
        layers.append({"mediaType": mt, "digest": put(lay, data), "size": len(data)})
        cfg["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(tar).hexdigest())
    if a.bad_diff_id is not None:
        cfg["rootfs"]["diff_ids"][a.bad_diff_id] = "sha256:" + "0" * 64
    cb = json.dumps(cfg).encode()
    man = {"schemaVersion": 2, "mediaType": MT + ".manifest.v1+json",
           "config": {"mediaType": MT + ".config.v1+json", "digest": put(lay, cb), "size": len(cb)},
           "layers": layers}
    mb = json.dumps(man).encode()
    desc = {"mediaType": MT + ".manifest.v1+json", "digest": put(lay, mb), "size": len(mb),
            "annotations": {"org.opencontainers.image.ref.name": a.tag}}
    idx = index(lay)
    idx["manifests"] = [m for m in idx["manifests"]
                        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != a.tag]
    idx["manifests"].append(desc)
    with open(os.path.join(lay, "index.json.tmp"), "w") as f:
        json.dump(idx, f)
    os.rename(os.path.join(lay, "index.json.tmp"), os.path.join(lay, "index.json"))
    print(desc["digest"])


if __name__ == "__main__":
    main()
