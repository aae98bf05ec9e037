#!/usr/bin/python3
"""Compare directory trees the way an unpacked rootfs must match.

For every path (relative, the root itself is "."): type, mode (permission
bits incl. setuid/setgid/sticky), uid, gid, size and sha256 (regular files),
link target (symlinks), rdev (devices), xattrs (security.selinux left out),
mtime (sec.nsec) and hardlink groups (files sharing an inode are named by
the smallest path of the group).

  treecmp.py A B [--ignore FIELD]...      compare two trees
  treecmp.py --spec SPEC.json ROOT [...]  compare a tree with an expected spec
  treecmp.py --dump ROOT                  print ROOT as a spec

FIELD: type mode uid gid size sha256 target rdev xattrs mtime mtime-dirs link.
A spec is {"entries": {path: {field: value}}, "exact": true}: only the
fields an entry lists are compared ("content": "text" stands for its
sha256); with "exact" the tree must hold no other paths.  Differences go to
stdout, one per line; exit status 1 if there are any, 2 on usage errors.
"""
import argparse
import hashlib
import json
import os
import stat
import sys

FIELDS = ["type", "mode", "uid", "gid", "size", "sha256", "target", "rdev", "xattrs", "mtime",
          "link"]
SKIP_XATTRS = {"security.selinux"}


def kind(m):
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISSOCK, "socket")):
        if test(m):
            return name
    return "unknown"


def xattr_value(v):
    try:
        s = v.decode("utf-8")
        if s.isprintable():
            return s
    except UnicodeDecodeError:
        pass
    return "hex:" + v.hex()


def read_xattrs(path):
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for n in sorted(names):
        if n in SKIP_XATTRS:
            continue
        try:
            out[n] = xattr_value(os.getxattr(path, n, follow_symlinks=False))
        except OSError:
            pass
    return out


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe(root, rel, st):
    full = root if rel == "." else os.path.join(root, rel)
    d = {
        "type": kind(st.st_mode),
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "mtime": "%d.%09d" % (st.st_mtime_ns // 10**9, st.st_mtime_ns % 10**9),
        "xattrs": read_xattrs(full),
    }
    if d["type"] == "symlink":
        d["target"] = os.readlink(full)
        del d["mode"]
    elif d["type"] == "file":
        d["size"] = st.st_size
        d["sha256"] = sha256_file(full)
    elif d["type"] in ("char", "block"):
        d["rdev"] = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
    return d


def scan(root):
    """Returns {relpath: description}, walking without following symlinks."""
    out = {}
    inodes = {}
    st = os.lstat(root)
    out["."] = describe(root, ".", st)
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        full_dir = os.path.join(root, rel_dir) if rel_dir else root
        for name in sorted(os.listdir(full_dir)):
            rel = os.path.join(rel_dir, name) if rel_dir else name
            st = os.lstat(os.path.join(full_dir, name))
            out[rel] = describe(root, rel, st)
            if stat.S_ISDIR(st.st_mode):
                stack.append(rel)
            elif st.st_nlink > 1:
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
    for paths in inodes.values():
        if len(paths) > 1:
            first = min(paths)
            for p in paths:
                out[p]["link"] = first
    return out


def normalize_expected(e):
    e = dict(e)
    if "content" in e:
        data = e.pop("content").encode("utf-8")
        e["sha256"] = hashlib.sha256(data).hexdigest()
        e.setdefault("size", len(data))
    if "mode" in e and isinstance(e["mode"], int):
        e["mode"] = "%04o" % e["mode"]
    if "mtime" in e and not isinstance(e["mtime"], str):
        e["mtime"] = "%d.%09d" % (int(e["mtime"]), 0)
    return e


def ignored(field, desc, ignore):
    if field in ignore:
        return True
    if field == "mtime" and "mtime-dirs" in ignore and desc.get("type") == "dir":
        return True
    return False


def compare(expected, actual, ignore, exact, only_listed_fields):
    diffs = []
    for path in sorted(set(expected) | set(actual)):
        if path not in actual:
            diffs.append("%s: missing" % path)
            continue
        if path not in expected:
            if exact:
                diffs.append("%s: unexpected (%s)" % (path, actual[path]["type"]))
            continue
        e, a = expected[path], actual[path]
        fields = e.keys() if only_listed_fields else set(e) | set(a)
        for f in sorted(fields):
            if ignored(f, a, ignore):
                continue
            if e.get(f) != a.get(f):
                diffs.append("%s: %s is %s, expected %s" % (path, f, json.dumps(a.get(f)),
                                                            json.dumps(e.get(f))))
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--spec", help="expected spec JSON instead of a first tree")
    ap.add_argument("--dump", action="store_true", help="print the tree as a spec")
    ap.add_argument("--ignore", action="append", default=[], choices=FIELDS + ["mtime-dirs"])
    args = ap.parse_args()
    ignore = set(args.ignore)

    if args.dump:
        if len(args.paths) != 1:
            ap.error("--dump takes one tree")
        tree = scan(args.paths[0])
        for d in tree.values():
            for f in ignore:
                d.pop(f, None)
        json.dump({"entries": tree, "exact": True}, sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    if args.spec:
        if len(args.paths) != 1:
            ap.error("--spec takes one tree")
        with open(args.spec) as f:
            spec = json.load(f)
        expected = {p: normalize_expected(e) for p, e in spec["entries"].items()}
        if "." not in expected:
            expected["."] = {}
        diffs = compare(expected, scan(args.paths[0]), ignore, spec.get("exact", True), True)
    else:
        if len(args.paths) != 2:
            ap.error("give two trees")
        diffs = compare(scan(args.paths[0]), scan(args.paths[1]), ignore, True, False)
    for d in diffs:
        print(d)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
