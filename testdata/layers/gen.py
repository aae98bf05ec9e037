#!/usr/bin/python3
"""Generates the layer applier's test layers: the whiteout and metadata cases
of image-spec layer.md, and hostile layers (one per attack class).

  gen.py OUTDIR

writes OUTDIR/<case>/layerN.tar[.gz] and OUTDIR/manifest.json:
  {"cases": [{"name", "kind": "case"|"hostile", "layers": [{"file", "media_type"}],
              "opts": {...}, "expect": SPEC|null, "error": CODE|null, "root": SPEC|null}]}
"expect" is a treecmp.py spec of the whole rootfs; "error" the oci error code
name the last layer must fail with; "root" a partial spec checked in the rootfs
after a hostile layer (the attack ended up confined there).  Output is
deterministic: fixed mtimes, owners and gzip headers.
"""
import gzip
import io
import json
import os
import sys
import tarfile

T0 = 1700000000  # every entry's mtime unless a case says otherwise
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_GZ = "application/vnd.docker.image.rootfs.diff.tar.gzip"
# Hostile layers point at this absolute path; the test mounts a private tmpfs
# there holding rootfs/ and the sentinel/ directory beside it.
WORK = "/tmp/ociimg-apply-hostile"


# ---- entries ----

def _info(name, typ, mode, uid=0, gid=0, mtime=T0, xattrs=None, pax=None):
    ti = tarfile.TarInfo(name)
    ti.type = typ
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.uname = ti.gname = ""
    if isinstance(mtime, str):  # "sec.nsec": full precision through PAX
        ti.mtime = int(mtime.split(".")[0])
        ti.pax_headers["mtime"] = mtime
    else:
        ti.mtime = mtime
    for k, v in (xattrs or {}).items():
        if isinstance(v, bytes):
            v = v.decode("utf-8", "surrogateescape")
        ti.pax_headers["SCHILY.xattr." + k] = v
    ti.pax_headers.update(pax or {})
    return ti


def F(name, content="", mode=0o644, **kw):
    data = content.encode() if isinstance(content, str) else content
    ti = _info(name, tarfile.REGTYPE, mode, **kw)
    ti.size = len(data)
    return (ti, data)


def D(name, mode=0o755, **kw):
    return (_info(name, tarfile.DIRTYPE, mode, **kw), None)


def L(name, target, **kw):
    ti = _info(name, tarfile.SYMTYPE, 0o777, **kw)
    ti.linkname = target
    return (ti, None)


def H(name, target, **kw):
    ti = _info(name, tarfile.LNKTYPE, 0o644, **kw)
    ti.linkname = target
    return (ti, None)


def C(name, major, minor, mode=0o666, typ=tarfile.CHRTYPE, **kw):
    ti = _info(name, typ, mode, **kw)
    ti.devmajor, ti.devminor = major, minor
    return (ti, None)


def P(name, mode=0o644, **kw):
    return (_info(name, tarfile.FIFOTYPE, mode, **kw), None)


def W(path):
    """A whiteout for path (`dir/.wh.name`)."""
    d, _, base = path.rpartition("/")
    return F((d + "/" if d else "") + ".wh." + base)


def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8",
                      errors="surrogateescape") as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def gz(data):
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as g:
        g.write(data)
    return out.getvalue()


# ---- expected trees ----

def ef(content="", mode=0o644, uid=0, gid=0, **kw):
    e = {"type": "file", "content": content, "mode": "%04o" % mode, "uid": uid, "gid": gid}
    e.update(kw)
    return e


def ed(mode=0o755, uid=0, gid=0, **kw):
    e = {"type": "dir", "mode": "%04o" % mode, "uid": uid, "gid": gid}
    e.update(kw)
    return e


def el(target, **kw):
    e = {"type": "symlink", "target": target}
    e.update(kw)
    return e


CASES = []


def case(name, layers, expect=None, opts=None, error=None, media=OCI_TAR, root=None,
         kind="case"):
    CASES.append(dict(name=name, layers=layers, expect=expect, opts=opts or {}, error=error,
                      media=media, root=root, kind=kind))


def hostile(name, layers, error=None, root=None, opts=None, media=OCI_TAR):
    case(name, layers, opts=opts, error=error, media=media, root=root, kind="hostile")


# layer.md "Representing Changes": the my-app example.
case("spec-changeset", [
    [D("./"), D("./etc/"), F("./etc/my-app-config", "cfg"), D("./bin/"),
     F("./bin/my-app-binary", "bin"), F("./bin/my-app-tools", "tools v1")],
    [D("./etc/my-app.d/"), F("./etc/my-app.d/default.cfg", "default"),
     F("./bin/my-app-tools", "tools v2"), W("./etc/my-app-config")],
], {"entries": {"etc": ed(), "etc/my-app.d": ed(), "etc/my-app.d/default.cfg": ef("default"),
                "bin": ed(), "bin/my-app-binary": ef("bin"), "bin/my-app-tools": ef("tools v2")}},
    media=OCI_GZ)

# layer.md "Whiteouts": file1, a/file2, b/ removed; c/file3 kept; file4 added.
case("spec-whiteouts", [
    [F("file1", "1"), D("a"), F("a/file2", "2"), D("b"), F("b/inner", "x"), D("c"),
     F("c/file3", "3")],
    [W("file1"), W("a/file2"), W("b"), F("file4", "4")],
], {"entries": {"a": ed(), "c": ed(), "c/file3": ef("3"), "file4": ef("4")}})

# layer.md "Opaque Whiteout": bin/ emptied, including sub-directories.
case("spec-opaque", [
    [D("etc"), F("etc/my-app-config", "c"), D("bin"), F("bin/my-app-binary", "b"),
     F("bin/my-app-tools", "t"), D("bin/tools"), F("bin/tools/my-app-tool-one", "1")],
    [D("bin"), F("bin/.wh..wh..opq")],
], {"entries": {"etc": ed(), "etc/my-app-config": ef("c"), "bin": ed()}})

# layer.md: a/b deleted and recreated with a/b/c/foo; the opaque marker first ...
OPQ_BASE = [D("a"), D("a/b"), D("a/b/c"), F("a/b/c/bar", "bar")]
OPQ_EXPECT = {"entries": {"a": ed(), "a/b": ed(), "a/b/c": ed(), "a/b/c/foo": ef("foo")}}
case("spec-opaque-first", [
    OPQ_BASE, [D("a"), F("a/.wh..wh..opq"), D("a/b"), D("a/b/c"), F("a/b/c/foo", "foo")],
], OPQ_EXPECT)
# ... and last: "applied first, regardless of the ordering".
case("spec-opaque-last", [
    OPQ_BASE, [D("a"), D("a/b"), D("a/b/c"), F("a/b/c/foo", "foo"), F("a/.wh..wh..opq")],
], OPQ_EXPECT)
# ... and in the middle, with the same layer's files before and after it.
case("opaque-middle", [
    [D("d"), F("d/old1", "o"), D("d/sub"), F("d/sub/old2", "o"), F("d/keep-lower", "k")],
    [D("d"), F("d/new1", "n1"), D("d/sub"), F("d/.wh..wh..opq"), F("d/sub/new2", "n2")],
], {"entries": {"d": ed(), "d/new1": ef("n1"), "d/sub": ed(), "d/sub/new2": ef("n2")}})
# An opaque marker at the root hides every lower entry.
case("opaque-root", [
    [D("x"), F("x/f", "f"), F("top", "t")],
    [F(".wh..wh..opq"), F("new", "n")],
], {"entries": {"new": ef("n")}})

# Whiteouts only apply to lower layers: the same layer's entry survives,
# whether the whiteout comes after it ...
case("whiteout-same-layer-after", [
    [F("x", "old"), F("y", "old")],
    [F("x", "new"), W("x")],
], {"entries": {"x": ef("new"), "y": ef("old")}})
# ... or before it.
case("whiteout-same-layer-before", [
    [F("x", "old")],
    [W("x"), F("x", "new")],
], {"entries": {"x": ef("new")}})
# A directory re-created in the same layer as its whiteout loses its lower
# contents in both orders.
for order in ("before", "after"):
    up = [D("d", mode=0o700), F("d/new", "n")]
    up = [W("d")] + up if order == "before" else up + [W("d")]
    case("whiteout-dir-same-layer-" + order, [
        [D("d"), F("d/old", "o"), D("d/sub"), F("d/sub/deep", "x")], up,
    ], {"entries": {"d": ed(0o700), "d/new": ef("n")}})
# Whiteout of something that does not exist, and of a whole subtree.
case("whiteout-missing-and-tree", [
    [D("t"), D("t/u"), D("t/u/v"), F("t/u/v/w", "w"), L("t/link", "/etc")],
    [W("nothing-here"), W("no/such/dir/x"), W("t")],
], {"entries": {}})
# Whiteout of a symlink removes the link, not its target.
case("whiteout-symlink", [
    [D("real"), F("real/f", "f"), L("ln", "real")],
    [W("ln")],
], {"entries": {"real": ed(), "real/f": ef("f")}})

# Changeset over existing files: replace, never merge (except dir over dir).
case("replace-types", [
    [F("f2d", "file"), D("d2f"), F("d2f/child", "c"), D("d2f/sub"), F("d2f/sub/x", "x"),
     L("l2d", "f2d"), F("l2f-target", "t"), L("l2f", "l2f-target"), D("merge", mode=0o700,
                                                                      uid=1, gid=1),
     F("merge/lower", "lower"), F("f2l", "f")],
    [D("f2d"), F("f2d/in", "in"), F("d2f", "now a file"), D("l2d"), F("l2f", "replaced"),
     D("merge", mode=0o751, uid=2, gid=3), F("merge/upper", "upper"), L("f2l", "elsewhere")],
], {"entries": {"f2d": ed(), "f2d/in": ef("in"), "d2f": ef("now a file"), "l2d": ed(),
                "l2f": ef("replaced"), "l2f-target": ef("t"),
                "merge": ed(0o751, 2, 3), "merge/lower": ef("lower"),
                "merge/upper": ef("upper"), "f2l": el("elsewhere")}})

# Replacing a hardlinked file unlinks it: the other name keeps the old data.
case("replace-hardlinked", [
    [F("a", "shared"), H("b", "a")],
    [F("a", "new")],
], {"entries": {"a": ef("new"), "b": ef("shared")}})

# Hardlinks within a layer and to a lower layer's file.
case("hardlinks", [
    [D("d"), F("d/orig", "data", mode=0o640, uid=5, gid=6), H("d/same-layer", "d/orig")],
    [H("lower-link", "d/orig"), H("./d/dot-link", "./d/orig")],
], {"entries": {
    "d": ed(),
    "d/orig": ef("data", 0o640, 5, 6, link="d/dot-link"),
    "d/same-layer": ef("data", 0o640, 5, 6, link="d/dot-link"),
    "d/dot-link": ef("data", 0o640, 5, 6, link="d/dot-link"),
    "lower-link": ef("data", 0o640, 5, 6, link="d/dot-link")}})

# Metadata: owners, full modes, xattrs, nanosecond mtimes (files, symlinks,
# and directories restored after their children were written).
CAP = bytes.fromhex("0100000200200000000000000000000000000000")  # cap_net_bind_service
case("metadata", [
    [D("./", mode=0o755, mtime="1600000000.5"),
     D("m", mode=0o2775, uid=1000, gid=1000, mtime="1500000000.123456789"),
     F("m/setuid", "s", mode=0o4755, uid=0, gid=0, mtime="1400000000.000000001"),
     F("m/setgid", "g", mode=0o2711, uid=7, gid=8),
     F("m/owned", "o", mode=0o600, uid=1000, gid=100),
     D("m/sticky", mode=0o1777),
     F("m/xattrs", "x", xattrs={"user.foo": "bar", "user.bin": b"\x00\x01\xff",
                                "trusted.secret": "dropped", "security.selinux": "dropped"}),
     F("m/cap", "c", mode=0o755, xattrs={"security.capability": CAP}),
     L("m/link", "setuid", uid=3, gid=4, mtime="1300000000.25"),
     F("m/nano", "n", mtime="1234567890.987654321"),
     D("m/late", mtime="1100000000.5"),
     F("m/late/child", "c"),
     C("m/null", 1, 3), C("m/loop0", 7, 0, mode=0o660, typ=tarfile.BLKTYPE), P("m/fifo")],
], {"entries": {
    ".": ed(0o755, mtime="1600000000.500000000"),
    "m": ed(0o2775, 1000, 1000, mtime="1500000000.123456789"),
    "m/setuid": ef("s", 0o4755, mtime="1400000000.000000001"),
    "m/setgid": ef("g", 0o2711, 7, 8),
    "m/owned": ef("o", 0o600, 1000, 100),
    "m/sticky": ed(0o1777),
    "m/xattrs": ef("x", xattrs={"user.foo": "bar", "user.bin": "hex:0001ff"}),
    "m/cap": ef("c", 0o755, xattrs={"security.capability": "hex:" + CAP.hex()}),
    "m/link": el("setuid", uid=3, gid=4, mtime="1300000000.250000000"),
    "m/nano": ef("n", mtime="1234567890.987654321"),
    "m/late": ed(mtime="1100000000.500000000"),
    "m/late/child": ef("c", mtime="%d.000000000" % T0),
    "m/null": {"type": "char", "rdev": "1:3", "mode": "0666"},
    "m/loop0": {"type": "block", "rdev": "7:0", "mode": "0660"},
    "m/fifo": {"type": "fifo", "mode": "0644"}}})

# A later layer's directory entry replaces the attributes (xattrs included);
# a lower directory's mtime survives files added below it later.
case("dir-attrs-newer-wins", [
    [D("d", mode=0o700, uid=1, gid=1, mtime=1000, xattrs={"user.old": "1", "user.both": "a"}),
     D("keep", mtime=2000)],
    [D("d", mode=0o755, uid=2, gid=2, mtime=3000, xattrs={"user.both": "b", "user.new": "2"}),
     F("d/f", "f"), F("keep/added", "a")],
], {"entries": {"d": ed(0o755, 2, 2, mtime=3000, xattrs={"user.both": "b", "user.new": "2"}),
                "d/f": ef("f"), "keep": ed(mtime=2000), "keep/added": ef("a")}})

# Names: absolute, "./", "..", "//", long (PAX path) and UTF-8.
LONG = "long-" + "x" * 120 + "/" + "y" * 150
case("names", [
    [F("/abs", "a"), F("./dot", "d"), F("a//b/../c", "c"), F(LONG, "long"),
     F("ünïcødé-名前", "u"), D("gnu/"), F("gnu/" + "z" * 130, "gnu")],
], {"entries": {"abs": ef("a"), "dot": ef("d"), "a": ed(), "a/c": ef("c"),
                LONG.split("/")[0]: ed(), LONG: ef("long"), "ünïcødé-名前": ef("u"),
                "gnu": ed(), "gnu/" + "z" * 130: ef("gnu")}})

# Parents missing from the tar are created (0755, root).
case("implicit-parents", [
    [F("x/y/z", "z", uid=9)],
], {"entries": {"x": ed(), "x/y": ed(), "x/y/z": ef("z", uid=9)}})

# The same tree through each compression and media type name.
for mt in (OCI_TAR, OCI_GZ, DOCKER_GZ,
           "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"):
    case("media-" + mt.rsplit(".", 1)[1].replace("+", "-") + ("-docker" if "docker" in mt else "")
         + ("-nondist" if "nondist" in mt else ""),
         [[D("etc"), F("etc/hostname", "box")]],
         {"entries": {"etc": ed(), "etc/hostname": ef("box")}}, media=mt)

# Rootless: no chown, owners in user.rootlesscontainers (umoci's encoding),
# devices as empty files, unreadable directory modes restored at finish.
case("rootless", [
    [D("r", mode=0o755, uid=0, gid=0), F("r/root-owned", "r"),
     F("r/user", "u", uid=1000, gid=1000), F("r/gid-only", "g", gid=5),
     D("r/locked", mode=0o000, uid=33, gid=0), F("r/locked/inside", "i", mode=0o000),
     D("r/ro", mode=0o555), C("r/null", 1, 3)],
    [F("r/ro/added", "a"), F("r/locked/later", "l")],
], {"entries": {
    "r": ed(xattrs={}), "r/root-owned": ef("r", xattrs={}),
    "r/user": {"type": "file", "content": "u",
               "xattrs": {"user.rootlesscontainers": "hex:08e80710e807"}},
    "r/gid-only": {"type": "file", "content": "g",
                   "xattrs": {"user.rootlesscontainers": "hex:08ffffffff0f1005"}},
    "r/locked": {"type": "dir", "mode": "0000",
                 "xattrs": {"user.rootlesscontainers": "hex:0821" + "10ffffffff0f"}},
    "r/locked/inside": {"type": "file", "mode": "0000"},
    "r/locked/later": {"type": "file"},
    "r/ro": {"type": "dir", "mode": "0555"}, "r/ro/added": {"type": "file"},
    "r/null": {"type": "file", "size": 0, "mode": "0666"}}},
    opts={"rootless": True})

# ---- hostile layers: each must end in a clear error or stay in the rootfs ----

S = WORK + "/sentinel"
hostile("absolute-path", [[F(S + "/pwned", "x"), F("/etc/pwned", "x")]],
        root={"entries": {"tmp/ociimg-apply-hostile/sentinel/pwned": {"type": "file"},
                          "etc/pwned": {"type": "file"}}, "exact": False})
hostile("dotdot-traversal", [[F("../sentinel/pwned", "x"), F("a/../../../../sentinel/p2", "x"),
                              D("../../.."), F("..", "x")]],
        error="invalid")
hostile("dotdot-clamped", [[F("../sentinel/pwned", "x"), F("a/../../../sentinel/p2", "x")]],
        root={"entries": {"sentinel/pwned": {"type": "file"}, "sentinel/p2": {"type": "file"}},
              "exact": False})
hostile("symlink-parent-escape", [[L("a", S), F("a/pwned", "x")]], error="invalid")
hostile("symlink-parent-escape-rel", [[L("b", "../sentinel"), F("b/pwned", "x")]],
        error="invalid")
hostile("symlink-parent-to-root", [[L("c", "../../.."), D("etc"), F("c/etc/passwd", "in root")]],
        root={"entries": {"etc/passwd": {"type": "file", "content": "in root"}}, "exact": False})
hostile("symlink-then-write", [[L("f", S + "/file"), F("f", "replaced")],
                               [F("f", "again")]],
        root={"entries": {"f": {"type": "file", "content": "again"}}, "exact": False})
hostile("symlink-lower-then-write", [[L("g", "../sentinel/file")], [F("g", "x")]],
        root={"entries": {"g": {"type": "file", "content": "x"}}, "exact": False})
hostile("hardlink-outside", [[H("h", "../sentinel/file")]], error="invalid")
hostile("hardlink-abs-outside", [[H("h", S + "/file")]], error="invalid")
hostile("hardlink-through-symlink", [[L("l", S), H("h", "l/file")]], error="invalid")
hostile("hardlink-to-directory", [[D("d"), H("h", "d")]], error="invalid")
hostile("hardlink-to-root", [[H("h", "./")]], error="invalid")
hostile("whiteout-dotdot", [[F("../.wh.sentinel"), F("a/../../.wh.sentinel")]],
        root={"entries": {}, "exact": True})
hostile("whiteout-dotdot-name", [[F(".wh..."), ]], error="invalid")
hostile("whiteout-empty-name", [[F("d/.wh.")]], error="invalid")
hostile("whiteout-symlinked-dir", [[L("s", S)], [F("s/.wh.file")]],
        root={"entries": {"s": {"type": "symlink", "target": S}}, "exact": True})
hostile("whiteout-symlinked-dir-rel", [[L("s", "../sentinel")], [F("s/.wh.file"),
                                                                 F("s/.wh.dir")]],
        root={"entries": {"s": {"type": "symlink", "target": "../sentinel"}}, "exact": True})
hostile("opaque-symlinked-dir", [[L("s", "../sentinel")], [F("s/.wh..wh..opq")]],
        error="invalid")
hostile("opaque-symlinked-dir-abs", [[L("s", S)], [F("s/.wh..wh..opq")]], error="invalid")
hostile("whiteout-as-directory", [[D(".wh.x"), F(".wh.x/y", "y")]], error="invalid")
hostile("root-replaced", [[F(".", "x")]], error="invalid")
hostile("root-replaced-dotdot", [[D("a"), F("a/..", "x")]], error="invalid")
hostile("root-replaced-trailing-slash", [[F("./", "x")]], error="invalid")
hostile("root-symlink", [[L(".", "/tmp")]], error="invalid")
hostile("device-rootless", [[C("dev-null", 1, 3), C("sda", 8, 0, typ=tarfile.BLKTYPE)]],
        opts={"rootless": True},
        root={"entries": {"dev-null": {"type": "file", "size": 0},
                          "sda": {"type": "file", "size": 0}}, "exact": True})
hostile("deep-path", [[F("a/" * 2100 + "f", "deep")]], error="too-large")
hostile("deep-but-allowed", [[F("d/" * 1000 + "f", "deep")], [W("d")]],
        root={"entries": {}, "exact": True})
hostile("long-component", [[F("x" * 300, "x")]], error="too-large")
hostile("huge-pax-header", [[F("p", "x", pax={"comment": "A" * (2 << 20)})]], error="invalid")
hostile("big-pax-header-over-limit", [[F("p", "x", pax={"comment": "A" * (200 << 10)})]],
        opts={"max_pax_header": 65536}, error="too-large")
hostile("too-many-entries", [[F("f%05d" % i, "") for i in range(1500)]],
        opts={"max_entries": 1000}, error="too-large")
hostile("big-xattr", [[F("x", "x", xattrs={"user.big": "B" * 70000})]], error="too-large")
hostile("magic-gzip-declared-tar", [[F("f", "x")]], media="gz-as-tar", error="invalid")
hostile("magic-tar-declared-gzip", [[F("f", "x")]], media="tar-as-gz", error="invalid")
hostile("magic-gzip-declared-zstd", [[F("f", "x")]], media="gz-as-zstd", error="invalid")
hostile("uid-out-of-range", [[F("f", "x", pax={"uid": "4294967295"})]], error="invalid")


def write(out):
    os.makedirs(out, exist_ok=True)
    manifest = []
    for c in CASES:
        d = os.path.join(out, c["name"])
        os.makedirs(d, exist_ok=True)
        layers = []
        for i, entries in enumerate(c["layers"]):
            media = c["media"]
            data = tar_bytes(entries)
            if media in (OCI_GZ, DOCKER_GZ) or media.endswith("+gzip"):
                data, fname = gz(data), "layer%d.tar.gz" % i
            elif media == "gz-as-tar":
                data, fname, media = gz(data), "layer%d.tar.gz" % i, OCI_TAR
            elif media == "gz-as-zstd":
                data, fname, media = gz(data), "layer%d.tar.gz" % i, OCI_ZSTD
            elif media == "tar-as-gz":
                fname, media = "layer%d.tar" % i, OCI_GZ
            else:
                fname = "layer%d.tar" % i
            with open(os.path.join(d, fname), "wb") as f:
                f.write(data)
            layers.append({"file": os.path.join(c["name"], fname), "media_type": media})
        for key in ("expect", "root"):
            if c[key] is not None:
                with open(os.path.join(d, key + ".json"), "w") as f:
                    json.dump(c[key], f, indent=1, sort_keys=True, ensure_ascii=False)
        manifest.append({"name": c["name"], "kind": c["kind"], "layers": layers,
                         "opts": c["opts"], "error": c["error"],
                         "expect": os.path.join(c["name"], "expect.json") if c["expect"] else None,
                         "root": os.path.join(c["name"], "root.json") if c["root"] else None})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"work": WORK, "cases": manifest}, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gen.py OUTDIR")
    write(sys.argv[1])
