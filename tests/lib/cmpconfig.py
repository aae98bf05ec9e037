#!/usr/bin/python3
"""Compare the config.json of `ociimg unpack` with umoci's for the same image.

  cmpconfig.py OURS.json UMOCI.json IMAGE-CONFIG.json

They must agree on process.args, process.cwd, process.user (uid, gid,
additionalGids), process.env and annotations, except for these documented
differences (each printed as a note when it occurs):

  env TERM       umoci's template adds TERM=xterm (it sets terminal: true);
                 ours has terminal: false and adds no TERM.
  env HOME       when the image sets HOME, umoci replaces it with the passwd
                 entry's home; conversion.md says a converter SHOULD NOT change
                 a variable the image sets, so ours keeps the image's.  When
                 the user has no passwd entry, ours sets HOME=/ (as docker),
                 umoci sets none.
  additionalGids umoci adds the passwd user's groups for a numeric User too;
                 conversion.md says SHOULD NOT when User is numeric or names a
                 group, so ours has none then.
  annotations    umoci writes author/created/stopSignal/exposedPorts even when
                 the image has no such field (as ""); ours leaves them out.
                 umoci lets os/architecture/... override a Label of the same
                 key; conversion.md says Labels MUST win, as in ours.
                 umoci 0.4 has no variant/os.version/os.features annotations.
                 Labels under run.oci.* and org.criu.* (acted on by crun/runc)
                 are left out by ours, with a warning.
Exit status 1 with one line per other difference.
"""
import json
import sys

IMPLICIT = ["os", "architecture", "variant", "os.version", "os.features", "author", "created",
            "stopSignal", "exposedPorts"]
UNSAFE = ("run.oci.", "org.criu.")


def envdict(env):
    d = {}
    for e in env or []:
        k, _, v = e.partition("=")
        d[k] = v
    return d


def main():
    ours, umoci, image = (json.load(open(p)) for p in sys.argv[1:4])
    icfg = image.get("config") or {}
    problems, notes = [], []

    def differ(what, a, b):
        problems.append("%s: ociimg %s, umoci %s" % (what, json.dumps(a), json.dumps(b)))

    po, pu = ours["process"], umoci["process"]
    for k in ("args", "cwd"):
        if po.get(k) != pu.get(k):
            differ("process." + k, po.get(k), pu.get(k))
    for k in ("uid", "gid"):
        if po["user"].get(k) != pu["user"].get(k):
            differ("process.user." + k, po["user"].get(k), pu["user"].get(k))
    ga = sorted(po["user"].get("additionalGids") or [])
    gb = sorted(pu["user"].get("additionalGids") or [])
    user = icfg.get("User") or ""
    name = user.split(":")[0]
    if ga != gb:
        if (":" in user or name.isdigit()) and not ga:
            notes.append("additionalGids: umoci %s for User %r, ours none (conversion.md)" % (gb, user))
        else:
            differ("process.user.additionalGids", ga, gb)

    eo, eu = envdict(po.get("env")), envdict(pu.get("env"))
    ienv = envdict(icfg.get("Env"))
    for k in sorted(set(eo) | set(eu)):
        if eo.get(k) == eu.get(k):
            continue
        if k == "TERM" and k not in eo and k not in ienv:
            notes.append("env: umoci adds TERM=%s" % eu[k])
        elif k == "HOME" and k not in eu and eo.get(k) == "/":
            notes.append("env: no passwd entry for the user: ours HOME=/ (as docker), umoci none")
        elif k == "HOME" and k in ienv and eo.get(k) == ienv[k]:
            notes.append("env: image HOME=%s kept by ours, umoci has HOME=%s" % (ienv[k], eu.get(k)))
        else:
            differ("env " + k, eo.get(k), eu.get(k))

    ao, au = ours.get("annotations") or {}, umoci.get("annotations") or {}
    labels = icfg.get("Labels") or {}
    for k in sorted(set(ao) | set(au)):
        if ao.get(k) == au.get(k):
            continue
        short = k[len("org.opencontainers.image."):] if k.startswith("org.opencontainers.image.") else None
        if k not in ao and au.get(k) == "" and short in IMPLICIT:
            notes.append("annotation %s: umoci writes \"\" for an absent field" % k)
        elif k not in au and short in ("variant", "os.version", "os.features"):
            notes.append("annotation %s: umoci 0.4 does not write it" % k)
        elif k in labels and ao.get(k) == labels[k] and short in IMPLICIT:
            notes.append("annotation %s: the Label wins in ours (%r), umoci overrides it (%r)"
                         % (k, ao.get(k), au.get(k)))
        elif k.startswith(UNSAFE) and k not in ao:
            notes.append("annotation %s: left out by ours (runtimes act on it)" % k)
        else:
            differ("annotation " + k, ao.get(k), au.get(k))

    for n in notes:
        print("note: " + n)
    for p in problems:
        print("DIFF: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
