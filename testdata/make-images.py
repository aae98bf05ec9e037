#!/usr/bin/python3
"""Deterministic test images for the registry client tests, built in Python and pushed over the
registry HTTP API (no skopeo needed).

  make-images.py build --out DIR [--json-out FILE]
        write every image into the OCI image layout DIR (blobs + index.json, ref names "REPO:TAG")
        and describe them in DIR/images.json (or FILE)
  make-images.py push --registry URL [--ca CA.crt] [--client-cert C --client-key K]
                      [--username U --password P] [--layout DIR] [--json-out FILE]
                      [--foreign-base URL] [--only REPO[,REPO...]]
        build (into --layout, reused when it is complete, else a temp dir) and push all images;
        with --foreign-base also push test/foreign:1 (see below). Prints the images.json path.

Images (all linux; "amd64" etc. are labels, only test/busybox:1 holds a real binary):
  test/hello:1, test/hello:latest  OCI manifest, 2 gzip layers: files, dirs, symlink, hardlink, a
                                   uid 1000 dir; layer 2 has a whiteout and an opaque dir
  private/hello:1                  the same image under a name anonymous token users cannot pull
  test/tags:t00..t24               25 tags on one small manifest (tag list pagination)
  test/busybox:1                   runnable: busybox-static + applet symlinks, Cmd ["sh"], host arch
                                   (skipped when /bin/busybox is missing: apt-get install busybox-static)
  test/multi:1                     OCI index: linux/amd64, linux/arm64/v8, linux/arm/v7, linux/arm/v6
  test/docker:1                    Docker schema2 manifest (docker media types)
  test/dockerlist:1                Docker manifest list: linux/amd64 (= test/docker:1), linux/arm64/v8
  test/zstd:1                      OCI manifest, a gzip layer + a zstd layer (skipped without `zstd`)
  test/big:1                       one ~8 MiB layer of seeded random bytes (resume / fault tests)
  test/foreign:1                   (push --foreign-base only) a gzip layer + a non-distributable layer
                                   whose blob is NOT in the registry, only at its `urls`
                                   (FOREIGN_BASE/blobs/sha256/<hex>); its digest depends on the URL

Determinism: fixed mtimes (SOURCE_DATE_EPOCH 2025-05-20), uid/gid, modes, entry order, PAX tar from
tarfile, gzip written here with a fixed header (mtime 0, no name, OS 255) around zlib's raw deflate at
level 6, zstd -T1 -3; JSON with fixed key order. Same inputs give the same digests on the same zlib/zstd
(Debian 12 here); busybox depends on the installed busybox-static. images.json lists what was made.
"""

import argparse
import hashlib
import io
import json
import os
import platform
import random
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "registry"))

SDE = 1747699200  # 2025-05-20T00:00:00Z
CREATED = "2025-05-20T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_FOREIGN = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZ = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def jdump(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- layers ------------------------------------------------------------------------------------------
def F(path, data, mode=0o644, uid=0, gid=0):
    return ("f", path, data.encode() if isinstance(data, str) else data, mode, uid, gid)


def D(path, mode=0o755, uid=0, gid=0):
    return ("d", path, None, mode, uid, gid)


def S(path, target):
    return ("s", path, target, 0o777, 0, 0)


def H(path, target):
    return ("h", path, target, 0o644, 0, 0)


def make_tar(entries):
    """Tar of entries in the given order (callers list parents first); everything but content fixed."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for kind, path, data, mode, uid, gid in entries:
            ti = tarfile.TarInfo(path)
            ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = SDE, mode, uid, gid, "", ""
            if kind == "f":
                ti.type, ti.size = tarfile.REGTYPE, len(data)
                tf.addfile(ti, io.BytesIO(data))
            elif kind == "d":
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            elif kind == "s":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                tf.addfile(ti)
            elif kind == "h":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
                tf.addfile(ti)
    return buf.getvalue()


def gzip_fixed(data, level=6):
    # A fixed gzip header instead of the gzip module's: its OS byte and header layout changed across
    # Python versions (3.11 hands mtime=0 to zlib), which would change every digest.
    co = zlib.compressobj(level, zlib.DEFLATED, -15, 8)
    body = co.compress(data) + co.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)


def zstd_compress(data):
    p = subprocess.run(["zstd", "-q", "-T1", "-3", "--check", "-c"], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120, check=True)
    return p.stdout


def zstd_version():
    p = subprocess.run(["zstd", "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return p.stdout.decode().strip()


# --- layout writer -----------------------------------------------------------------------------------
class Layout:
    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        self.refs = []  # (ref, descriptor)
        self.images = {}
        self.skipped = {}

    def put(self, data, media_type, **extra):
        d = sha(data)
        p = os.path.join(self.root, "blobs", "sha256", d[7:])
        if not os.path.exists(p):
            with open(p + ".tmp", "wb") as f:
                f.write(data)
            os.rename(p + ".tmp", p)
        desc = {"mediaType": media_type, "digest": d, "size": len(data)}
        desc.update(extra)
        return desc

    def read(self, digest):
        with open(os.path.join(self.root, "blobs", "sha256", digest[7:]), "rb") as f:
            return f.read()

    def tag(self, ref, desc, info):
        self.refs.append((ref, desc))
        self.images[ref] = info

    def finish(self):
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        for ref, desc in self.refs:
            d = {k: desc[k] for k in ("mediaType", "digest", "size")}
            d["annotations"] = {"org.opencontainers.image.ref.name": ref}
            index["manifests"].append(d)
        with open(os.path.join(self.root, "index.json"), "wb") as f:
            f.write(jdump(index))


def layer_desc(lay, entries, compression="gzip", media_type=None, urls=None, store=True):
    raw = make_tar(entries)
    if compression == "gzip":
        blob = gzip_fixed(raw)
        mt = media_type or OCI_LAYER_GZ
    else:
        blob = zstd_compress(raw)
        mt = media_type or OCI_LAYER_ZSTD
    extra = {"urls": urls} if urls else {}
    desc = lay.put(blob, mt, **extra) if store else dict({"mediaType": mt, "digest": sha(blob), "size": len(blob)}, **extra)
    return desc, sha(raw), [e[1] for e in entries]


def image(lay, arch, layers, cfg, docker=False, variant=None, history=None):
    """Write config + manifest; layers = [(desc, diff_id, files)]. Returns (manifest descriptor, info)."""
    config = {"created": CREATED, "architecture": arch, "os": "linux"}
    if variant:
        config["variant"] = variant
    config["config"] = cfg
    config["rootfs"] = {"type": "layers", "diff_ids": [l[1] for l in layers]}
    config["history"] = [{"created": CREATED, "created_by": h} for h in (history or ["layer"] * len(layers))]
    cdesc = lay.put(jdump(config), DOCKER_CONFIG if docker else OCI_CONFIG)
    ldescs = []
    for desc, _, _ in layers:
        d = {"mediaType": desc["mediaType"], "digest": desc["digest"], "size": desc["size"]}
        if desc.get("urls"):
            d["urls"] = desc["urls"]
        ldescs.append(d)
    manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
                "config": cdesc, "layers": ldescs}
    mdesc = lay.put(jdump(manifest), manifest["mediaType"])
    plat = {"architecture": arch, "os": "linux"}
    if variant:
        plat["variant"] = variant
    info = {"mediaType": mdesc["mediaType"], "digest": mdesc["digest"], "size": mdesc["size"], "platform": plat,
            "config": cdesc,
            "layers": [dict(d, diff_id=l[1], files=l[2]) for d, l in zip(ldescs, layers)]}
    info["blob_bytes"] = cdesc["size"] + sum(d["size"] for d in ldescs)
    return mdesc, info


def index(lay, children, docker=False):
    """children = [(manifest descriptor, info)] -> (index descriptor, info)."""
    manifests = []
    for mdesc, info in children:
        manifests.append({"mediaType": mdesc["mediaType"], "digest": mdesc["digest"], "size": mdesc["size"],
                          "platform": info["platform"]})
    idx = {"schemaVersion": 2, "mediaType": DOCKER_LIST if docker else OCI_INDEX, "manifests": manifests}
    idesc = lay.put(jdump(idx), idx["mediaType"])
    return idesc, {"mediaType": idesc["mediaType"], "digest": idesc["digest"], "size": idesc["size"],
                   "manifests": [info for _, info in children]}


def host_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "i386": "386",
            "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}.get(m, m)


# --- the images --------------------------------------------------------------------------------------
def hello_layers(lay):
    l1 = [D("etc"), F("etc/hello.txt", "hello from ociimg test layer 1\n"),
          H("etc/hello-hardlink.txt", "etc/hello.txt"),
          F("etc/remove-me.txt", "layer 2 whites this file out\n"),
          D("home"), D("home/app", 0o750, 1000, 1000), F("home/app/.profile", "export APP=1\n", 0o644, 1000, 1000),
          D("opt"), D("opt/data"), F("opt/data/a.txt", "a\n"), F("opt/data/b.txt", "b\n"),
          D("usr"), D("usr/bin"), F("usr/bin/hello.sh", "#!/bin/sh\necho hello\n", 0o755),
          S("usr/bin/hello-link", "hello.sh")]
    l2 = [D("etc"), F("etc/.wh.remove-me.txt", b""), F("etc/layer2.txt", "added by layer 2\n"),
          D("opt"), D("opt/data"), F("opt/data/.wh..wh..opq", b""), F("opt/data/c.txt", "only c survives\n")]
    return [layer_desc(lay, l1), layer_desc(lay, l2)]


def build_all(out, foreign_base=None, log=print):
    lay = Layout(out)
    tools = {"python": platform.python_version(), "zlib": zlib.ZLIB_RUNTIME_VERSION}

    # test/hello:1 (+ latest, private/hello:1)
    cfg = {"Env": [PATH_ENV], "Cmd": ["/usr/bin/hello.sh"], "WorkingDir": "/",
           "Labels": {"org.opencontainers.image.title": "ociimg test hello"}}
    m, info = image(lay, "amd64", hello_layers(lay), cfg, history=["files", "whiteout + opaque dir"])
    for ref in ("test/hello:1", "test/hello:latest", "private/hello:1"):
        lay.tag(ref, m, info)

    # test/tags: one tiny manifest, 25 tags
    small = layer_desc(lay, [F("tags.txt", "tag list pagination\n")])
    m, info = image(lay, "amd64", [small], {"Env": [PATH_ENV]})
    for i in range(25):
        lay.tag("test/tags:t%02d" % i, m, info)

    # test/busybox:1
    bb = shutil.which("busybox") or ("/bin/busybox" if os.path.exists("/bin/busybox") else None)
    if bb:
        with open(bb, "rb") as f:
            binary = f.read()
        applets = subprocess.run([bb, "--list-full"], stdout=subprocess.PIPE, timeout=30, check=True).stdout.decode()
        ver = subprocess.run([bb], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30).stdout.decode()
        ver = ver.splitlines()[0] if ver else "busybox"
        tools["busybox"] = ver
        paths = sorted(set(a.strip() for a in applets.split() if a.strip()) - {"bin/busybox"})
        dirs = {"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "tmp", "home", "home/app"}
        for p in paths:
            dirs.add(os.path.dirname(p))
        entries = []
        for d in sorted(x for x in dirs if x):
            mode = {"root": 0o700, "tmp": 0o1777}.get(d, 0o755)
            uid = 1000 if d == "home/app" else 0
            entries.append(D(d, mode, uid, uid))
        entries.append(F("bin/busybox", binary, 0o755))
        entries += [S(p, "/bin/busybox") for p in paths]
        entries += [F("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"),
                    F("etc/group", "root:x:0:\napp:x:1000:\n")]
        entries.sort(key=lambda e: e[1])
        m, info = image(lay, host_arch(), [layer_desc(lay, entries)],
                        {"Env": [PATH_ENV], "Cmd": ["sh"], "WorkingDir": "/"}, history=[ver + " + applets"])
        lay.tag("test/busybox:1", m, info)
    else:
        lay.skipped["test/busybox:1"] = "no busybox binary (apt-get install busybox-static)"

    # test/multi:1
    kids = []
    for arch, variant in (("amd64", None), ("arm64", "v8"), ("arm", "v7"), ("arm", "v6")):
        name = "linux/%s%s" % (arch, "/" + variant if variant else "")
        l = layer_desc(lay, [F("platform.txt", name + "\n")])
        kids.append(image(lay, arch, [l], {"Env": [PATH_ENV], "Cmd": ["/bin/sh"]}, variant=variant,
                          history=["platform " + name]))
    m, info = index(lay, kids)
    lay.tag("test/multi:1", m, info)

    # test/docker:1 and test/dockerlist:1
    dl = layer_desc(lay, [D("etc"), F("etc/docker.txt", "docker schema2 image\n")], media_type=DOCKER_LAYER_GZ)
    dm, dinfo = image(lay, "amd64", [dl], {"Env": [PATH_ENV], "Cmd": ["/bin/sh"]}, docker=True)
    lay.tag("test/docker:1", dm, dinfo)
    dl2 = layer_desc(lay, [D("etc"), F("etc/docker.txt", "docker schema2 image, arm64\n")], media_type=DOCKER_LAYER_GZ)
    dm2 = image(lay, "arm64", [dl2], {"Env": [PATH_ENV], "Cmd": ["/bin/sh"]}, docker=True, variant="v8")
    m, info = index(lay, [(dm, dinfo), dm2], docker=True)
    lay.tag("test/dockerlist:1", m, info)

    # test/zstd:1
    if shutil.which("zstd"):
        tools["zstd"] = zstd_version()
        lz = [layer_desc(lay, [D("etc"), F("etc/gzip-layer.txt", "gzip layer\n")]),
              layer_desc(lay, [D("etc"), F("etc/zstd-layer.txt", "zstd layer\n" * 100)], compression="zstd")]
        m, info = image(lay, "amd64", lz, {"Env": [PATH_ENV]}, history=["gzip", "zstd"])
        lay.tag("test/zstd:1", m, info)
    else:
        lay.skipped["test/zstd:1"] = "no zstd CLI (apt-get install zstd)"

    # test/big:1
    big = random.Random(20250520).randbytes(8 * 1024 * 1024)
    lb = layer_desc(lay, [D("data"), F("data/big.bin", big)])
    m, info = image(lay, "amd64", [lb], {"Env": [PATH_ENV]}, history=["8 MiB seeded random"])
    lay.tag("test/big:1", m, info)

    # test/foreign:1
    if foreign_base:
        fl_entries = [D("foreign"), F("foreign/README", "served only from the layer's urls\n")]
        raw_blob = gzip_fixed(make_tar(fl_entries))
        url = "%s/blobs/sha256/%s" % (foreign_base.rstrip("/"), hashlib.sha256(raw_blob).hexdigest())
        # stored in the layout (the blob server reads it from there) but never pushed to the registry
        fl = layer_desc(lay, fl_entries, media_type=OCI_LAYER_FOREIGN, urls=[url])
        base = layer_desc(lay, [D("etc"), F("etc/base.txt", "distributable layer\n")])
        m, info = image(lay, "amd64", [base, fl], {"Env": [PATH_ENV]}, history=["base", "foreign"])
        info["foreign_layers"] = [fl[0]["digest"]]
        lay.tag("test/foreign:1", m, info)

    lay.finish()
    return lay, tools


def describe(lay, tools):
    blobs = {}
    for name in sorted(os.listdir(os.path.join(lay.root, "blobs", "sha256"))):
        if not name.endswith(".tmp"):
            blobs["sha256:" + name] = os.path.getsize(os.path.join(lay.root, "blobs", "sha256", name))
    return {"generator": "testdata/make-images.py", "format": 1, "source_date_epoch": SDE, "tools": tools,
            "images": lay.images, "skipped": lay.skipped, "blobs": blobs}


# --- pushing -----------------------------------------------------------------------------------------
def push_image(cl, lay, repo, info, pushed):
    """Push one manifest (or index) and everything below it into repo; returns the registry's digest."""
    if "manifests" in info:
        for kid in info["manifests"]:
            push_image(cl, lay, repo, kid, pushed)
        data = lay.read(info["digest"])
        return cl.put_manifest(repo, info["digest"], info["mediaType"], data)
    foreign = set(info.get("foreign_layers", []))
    for d in [info["config"]] + info["layers"]:
        if d["digest"] in foreign or (repo, d["digest"]) in pushed:
            continue
        cl.push_blob(repo, lay.read(d["digest"]), d["digest"])
        pushed.add((repo, d["digest"]))
    key = (repo, info["digest"])
    if key not in pushed:
        cl.put_manifest(repo, info["digest"], info["mediaType"], lay.read(info["digest"]))
        pushed.add(key)
    return info["digest"]


def push_all(cl, lay, only=None, log=print):
    pushed = set()
    for ref, desc in lay.refs:
        repo, tag = ref.rsplit(":", 1)
        if only and repo not in only:
            continue
        info = lay.images[ref]
        push_image(cl, lay, repo, info, pushed)
        got = cl.put_manifest(repo, tag, info["mediaType"], lay.read(info["digest"]))
        if got and got != info["digest"]:
            raise SystemExit("registry changed the digest of %s: %s vs %s" % (ref, got, info["digest"]))
        log("pushed %s@%s" % (ref, info["digest"]))


def layout_complete(path):
    p = os.path.join(path, "images.json")
    if not os.path.exists(p) or not os.path.exists(os.path.join(path, "index.json")):
        return False
    with open(p) as f:
        j = json.load(f)
    return all(os.path.exists(os.path.join(path, "blobs", "sha256", d[7:])) for d in j.get("blobs", {}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the OCI layout only")
    b.add_argument("--out", required=True)
    b.add_argument("--json-out")
    b.add_argument("--foreign-base")
    p = sub.add_parser("push", help="build and push to a registry")
    p.add_argument("--registry", required=True, help="base URL, e.g. http://127.0.0.1:5000")
    p.add_argument("--ca")
    p.add_argument("--client-cert")
    p.add_argument("--client-key")
    p.add_argument("--username")
    p.add_argument("--password")
    p.add_argument("--layout", help="layout dir to build into / reuse (default: a temp dir)")
    p.add_argument("--json-out", help="where to write images.json (default LAYOUT/images.json)")
    p.add_argument("--foreign-base", help="base URL of a server that serves LAYOUT/blobs (test/foreign:1)")
    p.add_argument("--only", help="comma-separated repositories to push")
    p.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    log = (lambda *x: None) if getattr(a, "quiet", False) else (lambda *x: print(*x, file=sys.stderr))

    if a.cmd == "build":
        if os.path.exists(a.out) and os.listdir(a.out):
            ap.error("--out %s exists and is not empty" % a.out)
        lay, tools = build_all(a.out, a.foreign_base, log)
        desc = describe(lay, tools)
        jpath = a.json_out or os.path.join(a.out, "images.json")
        with open(jpath, "w") as f:
            json.dump(desc, f, indent=1, sort_keys=True)
            f.write("\n")
        if a.json_out:
            with open(os.path.join(a.out, "images.json"), "w") as f:
                json.dump(desc, f, indent=1, sort_keys=True)
        print(jpath)
        return 0

    import regclient

    tmp = None
    out = a.layout
    if not out:
        tmp = out = tempfile.mkdtemp(prefix="ociimg-images-")
    try:
        if a.foreign_base or not layout_complete(out):
            if os.path.exists(out):
                shutil.rmtree(out)
            lay, tools = build_all(out, a.foreign_base, log)
        else:
            lay, tools = build_all(out, None, log)  # cheap (~1 s) and gives us the in-memory model
        desc = describe(lay, tools)
        with open(os.path.join(out, "images.json"), "w") as f:
            json.dump(desc, f, indent=1, sort_keys=True)
        cl = regclient.Client(a.registry, a.ca, a.username, a.password, a.client_cert, a.client_key)
        st = cl.ping()
        if st != 200:
            raise SystemExit("registry %s: /v2/ answered %d" % (a.registry, st))
        push_all(cl, lay, set(a.only.split(",")) if a.only else None, log)
        desc["registry"] = a.registry
        jpath = a.json_out or os.path.join(out, "images.json")
        with open(jpath, "w") as f:
            json.dump(desc, f, indent=1, sort_keys=True)
            f.write("\n")
        print(jpath)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
