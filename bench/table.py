#!/usr/bin/python3
"""The benchmark table's driver (bench/run.sh starts it in the cgroup sandbox; see bench/README.md).

Each group runs its tools alternating, each run into fresh directories, in orders from a
Williams design (balanced_orders): over a full cycle of rounds every tool runs right after every
other tool equally often, so what a heavy run leaves behind (umoci's freed memory and new inodes)
does not always fall on the same next tool, as it did when the order was only rotated.  A run is
one or more commands (skopeo + umoci + crun is three); every command runs under /usr/bin/time,
so a run's time is the sum of its commands' wall times and its peak RSS the largest of theirs (a
child forked from Python would carry Python's RSS across exec).  Untimed preparation (editing a
config.json, removing a container's state) happens between commands.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

OCIIMG = os.environ["OCIIMG"]
OCIRUN = os.environ["OCIRUN"]
REG = os.environ.get("REGISTRY_ADDR", "127.0.0.1:5000")
OCIBENCH = os.environ.get("OCIBENCH", "/var/tmp/ocibench")
DEBIAN_LAYOUT = os.path.join(OCIBENCH, "layouts", "debian")
RSS_LIMIT_KB = 32 * 1024
DISK_RESERVE = 2 * 10**9  # slack: runs differ a little in size, and others write to this disk too


class Failed(Exception):
    pass


def timed(work, argv):
    """Runs argv under GNU time; returns (seconds, peak RSS in KiB)."""
    out = os.path.join(work, "time.out")
    # Untimed: the dirty data earlier runs left is written back now, not inside this run's
    # own fsyncs (ext4 commits them together); each run then pays for its own writes only.
    os.sync()
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out] + argv,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        raise Failed("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                          p.stderr.decode(errors="replace").strip()[-500:]))
    return secs, int(open(out).read().split()[-1])


def listener_pid(addr):
    """The pid of the process listening on ADDR's TCP port, from ss(8), or None."""
    out = subprocess.run(["ss", "-Hltnp", "sport = :%s" % addr.rsplit(":", 1)[1]],
                         capture_output=True, text=True).stdout
    m = re.search(r"pid=(\d+)", out)
    return int(m.group(1)) if m else None


class RegistryPriority:
    """The local registry stands in for a remote server, but it shares this machine's CPUs with
    the tool being measured.  It runs in a session of its own (registry.sh starts it with
    setsid), so the kernel's autogroup scheduling gives it as large a CPU share as the whole
    measured process whenever it has bytes to send.  Its autogroup's nice value sets that share;
    at 19 it runs mostly on CPU time the measured tool leaves idle, as a remote server's work
    would be.  set() is a no-op when the registry cannot be found or shares our autogroup
    (renicing that would renice the tools too)."""

    def __init__(self, nice):
        self.path, self.orig, self.nice, self.why = None, None, nice, ""
        pid = listener_pid(REG)
        if pid is None:
            self.why = "no process found listening on %s" % REG
            return
        path = "/proc/%d/autogroup" % pid
        try:
            # "/autogroup-N nice V"
            theirs, ours = open(path).read().split(), open("/proc/self/autogroup").read().split()
            orig = int(theirs[2])
        except OSError as e:
            self.why = "cannot read %s: %s" % (path, e.strerror)
            return
        except (IndexError, ValueError):
            self.why = "%s is not \"/autogroup-N nice V\"" % path
            return
        if theirs[0] == ours[0]:
            self.why = "pid %d shares this process's autogroup" % pid
            return
        self.path, self.pid, self.orig = path, pid, orig

    def set(self, nice):
        if not self.path:
            return
        try:
            with open(self.path, "w") as f:
                f.write(str(nice))
        except OSError as e:  # the registry exited, or no privilege: leave it alone from now on
            self.why = "cannot write %s: %s" % (self.path, e.strerror)
            self.path = None

    def describe(self):
        if not self.path:
            return "priority unchanged (%s)" % self.why
        return "pid %d, autogroup nice %d during the run (was %d)" % (self.pid, self.nice, self.orig)

    def around(self, nice, tool):
        """TOOL run with the registry at NICE, back at the run's value after (both untimed)."""
        def run():
            self.set(nice)
            try:
                return tool()
            finally:
                self.set(self.nice)
        return run


def set_args(bundle, args):
    """Untimed: the bundle's process runs ARGS, without a terminal."""
    path = os.path.join(bundle, "config.json")
    c = json.load(open(path))
    c["process"]["args"] = args
    c["process"]["terminal"] = False
    json.dump(c, open(path, "w"))


def layer_blobs(layout, tag):
    idx = json.load(open(os.path.join(layout, "index.json")))
    d = [m["digest"] for m in idx["manifests"]
         if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
    man = json.load(open(os.path.join(layout, "blobs", *d.split(":"))))
    return [os.path.join(layout, "blobs", *l["digest"].split(":")) for l in man["layers"]]


def evict(top):
    """Drops the page cache of every regular file under TOP (after a sync, so all of it is clean).
    Only regular files are opened: a run's output may hold FIFOs."""
    stack = [top]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            elif e.is_file(follow_symlinks=False):
                try:  # best effort: a file that went away or will not open keeps its pages
                    fd = os.open(e.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)


class Bench:
    def __init__(self, work):
        self.work = work
        self.serial = 0
        self.outputs = []

    def fresh(self, name):
        self.serial += 1
        path = os.path.join(self.work, "%s-%d" % (name, self.serial))
        self.outputs.append(path)
        return path

    def release(self):
        """Untimed, after each run: its outputs leave the page cache (the files stay).  On this VM
        memory not touched for a while costs the hypervisor a fault per page on first use, about
        7x a reused page, and outputs kept cached would make every run grow the page cache into
        such memory; a run would pay for how many ran before it (bench/README.md, "Memory")."""
        os.sync()
        for path in self.outputs:
            evict(path)
        self.outputs = []

    # Each tool: a function that does one run and returns [(secs, kb), ...] of its timed commands.

    def ociimg_pull(self, image):
        def run():
            return [timed(self.work, [OCIIMG, "pull", "-q", "--tls-verify=false", "%s/%s" % (REG, image),
                                      self.fresh("pull-ociimg") + ":x"])]
        return run

    def skopeo_copy(self, image):
        def run():
            return [timed(self.work, ["skopeo", "copy", "-q", "--src-tls-verify=false",
                                      "docker://%s/%s" % (REG, image), "oci:%s:x" % self.fresh("pull-skopeo")])]
        return run

    def ociimg_unpack(self, tag, sync=False):
        def run():
            return [timed(self.work, [OCIIMG, "unpack", "-q"] + ([] if sync else ["--no-sync"]) +
                          ["%s:%s" % (DEBIAN_LAYOUT, tag), self.fresh("unpack-ociimg")])]
        return run

    def umoci_unpack(self, tag):
        def run():
            return [timed(self.work, ["umoci", "unpack", "--image", "%s:%s" % (DEBIAN_LAYOUT, tag),
                                      self.fresh("unpack-umoci")])]
        return run

    def tar_xzf(self, tag):
        layers = layer_blobs(DEBIAN_LAYOUT, tag)

        def run():
            dest = self.fresh("unpack-tar")
            os.mkdir(dest)
            return [timed(self.work, ["tar", "-xzf", l, "-C", dest]) for l in layers]
        return run

    def ociimg_streamed(self, image):
        def run():
            return [timed(self.work, [OCIIMG, "pull", "-q", "--tls-verify=false",
                                      "--unpack", self.fresh("stream-bundle"),
                                      "%s/%s" % (REG, image), self.fresh("stream-layout") + ":x"])]
        return run

    def skopeo_umoci(self, image):
        def run():
            lay = self.fresh("su-layout")
            r = [timed(self.work, ["skopeo", "copy", "-q", "--src-tls-verify=false",
                                   "docker://%s/%s" % (REG, image), "oci:%s:x" % lay])]
            r.append(timed(self.work, ["umoci", "unpack", "--image", lay + ":x", self.fresh("su-bundle")]))
            return r
        return run

    def ociimg_run(self, image, store=None):
        def run():
            s = store or self.fresh("store")
            return [timed(self.work, [OCIIMG, "run", "--rm", "-q", "--store", s, "--tls-verify=false",
                                      "%s/%s" % (REG, image), "--", "/bin/true"])]
        return run

    def skopeo_umoci_crun(self, image):
        def run():
            lay, bundle = self.fresh("cold-layout"), self.fresh("cold-bundle")
            r = [timed(self.work, ["skopeo", "copy", "-q", "--src-tls-verify=false",
                                   "docker://%s/%s" % (REG, image), "oci:%s:x" % lay])]
            r.append(timed(self.work, ["umoci", "unpack", "--image", lay + ":x", bundle]))
            set_args(bundle, ["/bin/true"])
            r.append(timed(self.work, ["crun", "--root", os.path.join(self.work, "crun-state"), "run",
                                       "--bundle", bundle, os.path.basename(bundle)]))
            return r
        return run

    def runtime_run(self, runtime, bundle):
        def run():
            return [timed(self.work, [runtime, "--root", os.path.join(self.work, "state-" + os.path.basename(runtime)),
                                      "run", "--bundle", bundle, os.path.basename(self.fresh("c"))])]
        return run


def balanced_orders(n):
    """A Williams design: n orders of range(n) (2n when n is odd, the mirror images added) in
    which each tool comes right after each other tool equally often.  Rotating one order instead
    keeps every tool's predecessor the same in every round."""
    first, lo, hi = [0], 1, n - 1
    while lo <= hi:
        first.append(lo)
        lo += 1
        if lo <= hi:
            first.append(hi)
            hi -= 1
    rows = [[(x + i) % n for x in first] for i in range(n)]
    if n % 2:
        rows += [row[::-1] for row in rows]
    return rows


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def measure(bench, tools, rounds, verbose=False):
    names = list(tools)
    res = {n: [] for n in names}
    before = free_bytes(bench.work)
    for n in names:  # one untimed warm-up each: page cache, registry caches
        tools[n]()
        bench.release()
    # Nothing is removed until the end: a round takes what the warm-ups took.  Better to say so
    # now than to fail halfway with ENOSPC from one of the tools.
    free = free_bytes(bench.work)
    need = (before - free) * rounds
    if need + DISK_RESERVE > free:
        raise Failed("%d rounds need about %.1f GB in %s, %.1f GB are free (fewer rounds, or room)" %
                     (rounds, (need + DISK_RESERVE) / 1e9, bench.work, free / 1e9))
    orders = balanced_orders(len(names))
    for r in range(rounds):
        for n in (names[i] for i in orders[r % len(orders)]):
            runs = tools[n]()
            bench.release()
            res[n].append((sum(s for s, _ in runs), max(kb for _, kb in runs)))
            if verbose:
                print("  round %d  %-22s %s" % (r + 1, n, " + ".join("%.3f" % s for s, _ in runs)),
                      file=sys.stderr, flush=True)
    return {n: (statistics.median(s for s, _ in v), max(kb for _, kb in v)) for n, v in res.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--verbose", action="store_true", help="print every timed run on stderr")
    a = ap.parse_args()
    if a.rounds < 1:
        ap.error("--rounds must be at least 1 (a median needs a run)")
    only = set(x for x in a.only.split(",") if x)
    b = Bench(a.work)
    prio = RegistryPriority(int(os.environ.get("BENCH_REGISTRY_NICE", "19")))
    prio.set(prio.nice)
    # A killed run still puts the registry's priority back.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run_groups(a, only, b, prio)
    finally:
        prio.set(prio.orig)


def run_groups(a, only, b, prio):
    # The warm group's prepared pieces: a store that already holds the image, one bundle.
    busybox = "bench/busybox:1"
    groups = [
        ("pull", "bench/debian:multi", {
            "ociimg pull": b.ociimg_pull("bench/debian:multi"),
            "skopeo copy": b.skopeo_copy("bench/debian:multi")}, "skopeo copy"),
        ("unpack", "bench/debian:multi-gz", {
            "ociimg unpack": b.ociimg_unpack("multi-gz"),
            "umoci unpack": b.umoci_unpack("multi-gz"),
            "tar -xzf": b.tar_xzf("multi-gz")}, "tar -xzf"),
        ("stream", "bench/debian:multi", {
            "ociimg pull --unpack": b.ociimg_streamed("bench/debian:multi"),
            "ociimg pull": b.ociimg_pull("bench/debian:multi"),
            "ociimg unpack": b.ociimg_unpack("multi", sync=True),
            **({"ociimg pull --unpack [r0]": prio.around(0, b.ociimg_streamed("bench/debian:multi")),
                "ociimg pull [r0]": prio.around(0, b.ociimg_pull("bench/debian:multi"))}
               if prio.path and prio.nice != 0 else {}),
            "skopeo+umoci (-gz)": b.skopeo_umoci("bench/debian:multi-gz")}, "skopeo+umoci (-gz)"),
        ("cold", busybox + " /bin/true", {
            "ociimg run": b.ociimg_run(busybox),
            "skopeo+umoci+crun": b.skopeo_umoci_crun(busybox)}, "skopeo+umoci+crun"),
        ("warm", busybox + " /bin/true", None, "crun run"),
    ]
    print("ociimg: %s" % subprocess.run([OCIIMG, "--version"], capture_output=True, text=True).stdout.splitlines()[0])
    print("rounds: %d per group, alternating; work dir %s; %d CPUs; load %s" % (
        a.rounds, a.work, os.cpu_count(), open("/proc/loadavg").read().split()[0]))
    print("registry: %s; a stand-in for a remote server (bench/README.md)" % prio.describe())
    print("between runs: sync, then each run's output files leave the page cache (untimed)")
    print()
    rows, verdicts, ociimg_rss = [], [], []
    for name, image, tools, base in groups:
        if only and name not in only:
            continue
        try:
            if tools is None:  # warm: prepare the store and the bundle, untimed
                store = b.fresh("warm-store")
                b.ociimg_run(busybox, store)()
                bundle, lay = b.fresh("warm-bundle"), b.fresh("warm-layout")
                timed(a.work, [OCIIMG, "pull", "-q", "--tls-verify=false", "%s/%s" % (REG, busybox), lay + ":x"])
                timed(a.work, [OCIIMG, "unpack", "-q", lay + ":x", bundle])
                set_args(bundle, ["/bin/true"])
                tools = {"ociimg run": b.ociimg_run(busybox, store),
                         "ocirun run": b.runtime_run(OCIRUN, bundle),
                         "crun run": b.runtime_run("crun", bundle)}
            m = measure(b, tools, a.rounds, a.verbose)
        except Failed as e:
            print("%s: FAILED: %s" % (name, e), file=sys.stderr)
            verdicts.append("%s: failed" % name)
            continue
        for tool, (med, kb) in m.items():
            rows.append((name, image, tool, med, med / m[base][0] if m[base][0] else 0, kb))
            if tool.startswith("ociimg"):
                ociimg_rss.append((kb, "%s %s" % (name, tool)))
        if name == "stream":
            slower = max(m["ociimg pull"][0], m["ociimg unpack"][0])
            r = m["ociimg pull --unpack"][0] / slower
            verdicts.append("streamed pull+unpack / slower of pull, unpack = %.2f (target <= 1.10: %s)" %
                            (r, "met" if r <= 1.10 else "NOT met"))
            if "ociimg pull [r0]" in m:
                r0 = m["ociimg pull --unpack [r0]"][0] / max(m["ociimg pull [r0]"][0], m["ociimg unpack"][0])
                verdicts.append("  the same with the registry at nice 0 [r0]: %.2f" % r0)
        if name == "warm":
            r = m["ociimg run"][0] / m["crun run"][0]
            verdicts.append("warm ociimg run / crun run = %.2f (target <= 1.50: %s)" % (r, "met" if r <= 1.5 else "NOT met"))
        if name == "pull":
            r = m["ociimg pull"][0] / m["skopeo copy"][0]
            verdicts.append("ociimg pull / skopeo copy = %.2f (issue 3 target <= 0.50: %s)" % (r, "met" if r <= 0.5 else "NOT met"))
        if name == "unpack":
            r = m["ociimg unpack"][0] / m["tar -xzf"][0]
            u = m["ociimg unpack"][0] / m["umoci unpack"][0]
            verdicts.append("ociimg unpack / tar -xzf = %.2f (target <= 1.0: %s); / umoci = %.2f (target <= 0.35: %s)" %
                            (r, "met" if r <= 1.0 else "NOT met", u, "met" if u <= 0.35 else "NOT met"))

    print("%-7s %-24s %-26s %9s %8s %10s" % ("group", "image", "tool", "median s", "ratio", "peak MiB"))
    last = None
    for name, image, tool, med, ratio, kb in rows:
        print("%-7s %-24s %-26s %9.3f %7.2fx %10.1f" % (name if name != last else "", image if name != last else "",
                                                        tool, med, ratio, kb / 1024))
        last = name
    print()
    print("ratios are to the last tool of each group (the baseline)")
    if any(tool.endswith("[r0]") for _, _, tool, _, _, _ in rows):
        print("[r0]: the registry's autogroup at nice 0 for that run, as it is when started alone")
    for v in verdicts:
        print(v)
    if ociimg_rss:
        kb, what = max(ociimg_rss)
        print("largest ociimg peak RSS: %.1f MiB (%s) (target <= 32 MiB: %s)" % (
            kb / 1024, what, "met" if kb <= RSS_LIMIT_KB else "NOT met"))
    return 1 if any("failed" in v for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
