#!/bin/bash
# bench/table.py, the benchmark table's driver, without the tools it times:
#  - balanced_orders(n): every order is a permutation, and over one cycle every
#    tool comes right after every other tool equally often;
#  - evict(): the page cache of every regular file under a tree is dropped, and
#    a FIFO or a symlink in it is never opened (opening a FIFO would hang);
#  - measure(): a group whose rounds would not fit on the disk fails before its
#    first timed round, saying how much it needs; one that fits is measured, with
#    each run's outputs out of the page cache after it (in a private mount
#    namespace on a small tmpfs: as root only).
source "$(dirname "$0")/../lib/common.sh"
need_cmd fincore timeout
[ -x "$PY" ] || skip "$PY not found"
DRIVER=$OCIIMG_SRCDIR/bench/table.py
[ -f "$DRIVER" ] || die "no $DRIVER"

# drv CODE : runs CODE with the driver imported as `table` (it needs OCIIMG/OCIRUN set).
drv() {
    OCIIMG=/bin/true OCIRUN=/bin/true PYTHONDONTWRITEBYTECODE=1 timeout 120 "$PY" -c "
import os, sys
sys.path.insert(0, '$OCIIMG_SRCDIR/bench')
import table
$1"
}

note "balanced_orders"
if ! drv '
for n in range(2, 8):
    rows = table.balanced_orders(n)
    assert all(sorted(r) == list(range(n)) for r in rows), (n, rows)
    follows = {}
    for r in rows:
        for a, b in zip(r, r[1:]):
            follows[(a, b)] = follows.get((a, b), 0) + 1
    assert len(follows) == n * (n - 1) and len(set(follows.values())) == 1, (n, follows)
' >"$T/bo" 2>&1; then
    fail "balanced_orders: $(tail -3 "$T/bo")"
fi

# Files whose page cache is checked live on a disk filesystem: fadvise cannot
# drop a tmpfs's pages.
D=$T
if [ "$(stat -f -c %T "$T")" = tmpfs ]; then
    D=$(mktemp -d /var/tmp/ociimg-bench_driver.XXXXXX)
    trap 'rm -rf "$D"; cleanup' EXIT
fi
[ "$(stat -f -c %T "$D")" != tmpfs ] || skip "no disk filesystem for the test's files ($D is a tmpfs)"

# A cached file, a FIFO, a symlink to the file, a nested dir with another cached file.
note "evict"
E=$D/evict
mkdir -p "$E/a/b"
head -c 8388608 /dev/urandom >"$E/big"
head -c 1048576 /dev/urandom >"$E/a/b/small"
mkfifo "$E/a/fifo"
ln -s ../big "$E/a/link"
cat "$E/big" "$E/a/b/small" >/dev/null
sync
cached() { fincore -b -n -o RES "$1" | tr -d ' '; }
[ "$(cached "$E/big")" -gt 0 ] || fail "evict: the test file is not in the page cache to begin with"
if ! drv "table.evict('$E')" >"$T/ev" 2>&1; then
    fail "evict: $(tail -3 "$T/ev")"
fi
for f in "$E/big" "$E/a/b/small"; do
    r=$(cached "$f")
    [ "$r" -eq 0 ] || fail "evict: $f still has $r bytes cached"
done
drv "table.evict('$T/does-not-exist')" >"$T/ev2" 2>&1 || fail "evict of a missing dir: $(tail -3 "$T/ev2")"

note "measure: disk check and eviction after each run"
if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
    skip "measure's disk check needs a private mount namespace (root)"
fi
# The tmpfs lives only inside that namespace; run the whole check in one.
cat >"$T/measure.py" <<'EOF'
import os, sys
sys.path.insert(0, os.environ["BENCH_DIR"])
import table
work, disk = sys.argv[1], sys.argv[2]
b = table.Bench(work)
table.DISK_RESERVE = 0
def tool(bench, size):
    def run():
        d = bench.fresh("out")
        os.mkdir(d)
        with open(os.path.join(d, "f"), "wb") as f:
            f.write(os.urandom(size))
        return [(0.5, 1000)]
    return run
# 8 MiB a run on a 64 MiB tmpfs: 2 rounds fit, 20 do not.
m = table.measure(b, {"a": tool(b, 8 << 20), "b": tool(b, 8 << 20)}, 2)
assert m == {"a": (0.5, 1000), "b": (0.5, 1000)}, m
try:
    table.measure(b, {"a": tool(b, 8 << 20)}, 20)
    raise SystemExit("20 rounds of 8 MiB on a 64 MiB tmpfs were not refused")
except table.Failed as e:
    msg = str(e)
    assert "20 rounds need about" in msg and work in msg, msg
    print("refused:", msg)
n = len(os.listdir(work))
assert n <= 8, "the refused group ran timed rounds: %d outputs" % n
# On the disk: a run's outputs leave the page cache after it.
b2 = table.Bench(disk)
table.measure(b2, {"a": tool(b2, 1 << 20)}, 2)
print("ok")
EOF
mkdir -p "$D/disk" "$T/tmpfs"
unshare -m bash -c '
mount -t tmpfs -o size=64m ociimg-bench-test "$1" && mkdir "$1/w" &&
BENCH_DIR=$3 OCIIMG=/bin/true OCIRUN=/bin/true PYTHONDONTWRITEBYTECODE=1 \
    timeout 120 "$4" "$2" "$1/w" "$5"
' _ "$T/tmpfs" "$T/measure.py" "$OCIIMG_SRCDIR/bench" "$PY" "$D/disk" >"$T/ms" 2>&1 ||
    fail "measure: $(tail -5 "$T/ms")"
grep -q "^ok$" "$T/ms" || fail "measure did not finish: $(tail -5 "$T/ms")"
for f in "$D"/disk/out-*/f; do
    [ -f "$f" ] || {
        fail "measure: the runs wrote no disk file"
        break
    }
    r=$(cached "$f")
    [ "$r" -eq 0 ] || fail "measure: $f still has $r bytes cached after its run"
done
finish
