"""Small shared helpers for the registry test servers: lifetime limits, ports, ready files."""

import json
import os
import socket
import sys
import threading
import time

DEFAULT_MAX_LIFETIME = 20 * 60  # seconds; every server ends itself after this at the latest


def free_port(host="127.0.0.1"):
    # Racy by nature (the port is free now, not necessarily later); callers retry a start that fails.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def pid_alive(pid):
    """True while pid runs; a zombie (dead, not yet reaped by its parent or init) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def start_lifetime_guard(max_lifetime, parent_pid=None, on_exit=None, name="server"):
    """End this process after max_lifetime seconds, or soon after parent_pid disappears.

    A test that is killed cannot run its cleanup; this guard makes sure nothing it started outlives it
    by more than a second (parent gone) or max_lifetime (everything else)."""
    deadline = time.monotonic() + max_lifetime

    def run():
        while True:
            if time.monotonic() >= deadline:
                why = "max lifetime %ss reached" % max_lifetime
                break
            if parent_pid and not pid_alive(parent_pid):
                why = "parent pid %d is gone" % parent_pid
                break
            time.sleep(0.5)
        sys.stderr.write("%s: exiting: %s\n" % (name, why))
        sys.stderr.flush()
        if on_exit:
            try:
                on_exit()
            except Exception:  # exiting regardless
                pass
        os._exit(3)

    t = threading.Thread(target=run, name="lifetime-guard", daemon=True)
    t.start()
    return t


def write_json_atomic(path, obj):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    os.rename(tmp, path)


def wait_for_file(path, timeout, proc=None):
    """Poll for a JSON file written by a child; give up after timeout or when the child died."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("child exited with status %s before writing %s" % (proc.returncode, path))
        time.sleep(0.05)
    raise TimeoutError("timed out after %ss waiting for %s" % (timeout, path))


def add_lifetime_args(ap):
    ap.add_argument("--max-lifetime", type=float, default=DEFAULT_MAX_LIFETIME,
                    help="exit after this many seconds (default %(default)s)")
    ap.add_argument("--parent-pid", type=int, default=0,
                    help="exit when this pid no longer exists (0: do not watch)")
