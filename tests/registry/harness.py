#!/usr/bin/python3
"""Run Debian's docker-registry (distribution v2.8) on a free loopback port for tests, in one of several
variants, optionally with the fault proxy in front of it, and seed it with the test images.

CLI (every command prints JSON on stdout unless said otherwise; exit 0 on success):
  harness.py start --variant VARIANT --state-dir DIR [--seed] [--proxy] [--proxy-tls]
                   [--expires-in N] [--sign-mode x5c|kid] [--username U] [--password P]
                   [--max-lifetime SECONDS] [--parent-pid PID] [--log-level debug|info|warn|error]
      VARIANT: plain | tls | mtls | basic | basic-tls | token | token-tls
      Starts a supervisor process (own session; pid in DIR/harness.pid) that runs the registry, the
      token server and the fault proxy as its children, and stops them all when it gets SIGTERM
      (`stop`), when --parent-pid exits (bash tests: pass --parent-pid $$ so that even a SIGKILLed
      test leaves nothing behind; default 0 = not watched, because inside $(... | ...) the direct
      parent is a short-lived subshell), or after --max-lifetime (default 1200 s).
      Prints the state (also in DIR/state.json), see STATE below.
  harness.py seed  --state-dir DIR [--only REPO[,REPO]]   build + push the test images
      (testdata/make-images.py) straight to the registry; prints the images.json description
      (also DIR/images.json). `start --seed` does the same and adds "images" to the state.
  harness.py stop  --state-dir DIR     stop everything started for DIR (idempotent; prints {"stopped":..})
  harness.py info  --state-dir DIR     print DIR/state.json
  harness.py env   --state-dir DIR     print shell assignments REG_<KEY>=<value> for eval in bash
STATE keys: variant, url (scheme://127.0.0.1:PORT), host (127.0.0.1:PORT), port, scheme, auth
  (none|basic|token), ca, certs_d (docker certs.d layout dir: certs.d/127.0.0.1:PORT/{ca.crt,client.cert,
  client.key}), client_cert, client_key, username, password, identity_token, docker_config (dir with a
  config.json holding base64 user:pass for host), docker_config_identity (same with identitytoken),
  token_url (the realm), token_control (base URL of /__token__/*), service, issuer, expires_in,
  proxy_url, proxy_host, proxy_control, blob_url (the proxy's redirect target), foreign_url (blob server
  for test/foreign:1 layers, stats at /__blobserver__/stats), pid, registry_pid, tokenserver_pid,
  proxy_pid, state_dir, config, storage, registry_log, deadline (epoch seconds), images (after seed).

Python:
  sys.path.insert(0, "tests/registry"); import harness
  with harness.Harness("token", seed=True, proxy=True, expires_in=3) as h:
      h.state["url"]; h.images["images"]["test/hello:1"]["digest"]; h.client().get_manifest(...)
      h.proxy_rules([...]); h.proxy_stats(); h.token_stats(); h.token_config(expires_in=2)
"""

import argparse
import base64
import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import certs  # noqa: E402
import pybcrypt  # noqa: E402
import rutil  # noqa: E402

REGISTRY_BIN = os.environ.get("OCIIMG_DOCKER_REGISTRY", "/usr/bin/docker-registry")
PYTHON = sys.executable or "/usr/bin/python3"
MAKE_IMAGES = os.path.join(HERE, "..", "..", "testdata", "make-images.py")
VARIANTS = ("plain", "tls", "mtls", "basic", "basic-tls", "token", "token-tls")
SERVICE = "ociimg-test-registry"
ISSUER = "ociimg-test-issuer"
START_TIMEOUT = 60


class HarnessError(Exception):
    pass


# --- helpers -----------------------------------------------------------------------------------------
def _ssl_ctx(state):
    ctx = ssl.create_default_context(cafile=state["ca"]) if state.get("ca") else None
    if ctx and state.get("client_cert"):
        ctx.load_cert_chain(state["client_cert"], state["client_key"])
    return ctx


def http_json(url, method="GET", body=None, ctx=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
        return json.loads(r.read() or b"null")


def _proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _proc_pgrp(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[2])
    except (OSError, ValueError, IndexError):
        return None


def _our_processes(sid, state_dir):
    """Processes in the session we created for state_dir that carry state_dir in their argv."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid == os.getpid():
            continue
        if _proc_pgrp(pid) == sid and state_dir in _proc_cmdline(pid) and rutil.pid_alive(pid):
            out.append(pid)
    return out


def _docker_config(path, host, entry):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"auths": {host: entry}}, f, indent=1)
    return path


# --- the supervisor (runs in its own session) ----------------------------------------------------------
class Supervisor:
    def __init__(self, state_dir):
        self.dir = state_dir
        with open(os.path.join(state_dir, "options.json")) as f:
            self.o = json.load(f)
        self.children = []
        self.deadline = time.time() + self.o["max_lifetime"]
        self.state = {"variant": self.o["variant"], "state_dir": state_dir, "pid": os.getpid(),
                      "deadline": int(self.deadline)}

    def remaining(self):
        return max(1, int(self.deadline - time.time()))

    def spawn(self, args, log_name):
        log = open(os.path.join(self.dir, log_name), "ab")
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, close_fds=True)
        log.close()
        self.children.append(p)
        return p

    def stop_children(self):
        for p in self.children:
            if p.poll() is None:
                try:
                    p.terminate()
                except OSError:
                    pass
        end = time.monotonic() + 4
        for p in self.children:
            try:
                p.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)

    def setup_tls(self):
        d = os.path.join(self.dir, "pki")
        os.makedirs(d, exist_ok=True)
        ca, ca_key = certs.make_ca(d, "ca", cn="ociimg test registry CA")
        srv, srv_key = certs.make_leaf(d, "server", ca, ca_key, cn="localhost", usage="server")
        self.state.update(ca=ca, server_cert=srv, server_key=srv_key)
        if self.o["variant"] == "mtls":
            cl, cl_key = certs.make_leaf(d, "client", ca, ca_key, cn="ociimg test client", usage="client")
            self.state.update(client_cert=cl, client_key=cl_key)

    def certs_d(self, port):
        base = os.path.join(self.dir, "certs.d")
        for host in ("127.0.0.1:%d" % port, "localhost:%d" % port):
            hd = os.path.join(base, host)
            os.makedirs(hd, exist_ok=True)
            shutil.copy(self.state["ca"], os.path.join(hd, "ca.crt"))
            if self.state.get("client_cert"):
                shutil.copy(self.state["client_cert"], os.path.join(hd, "client.cert"))
                shutil.copy(self.state["client_key"], os.path.join(hd, "client.key"))
        return base

    def start_tokenserver(self, tls):
        d = os.path.join(self.dir, "token")
        os.makedirs(d, exist_ok=True)
        ready = os.path.join(self.dir, "tokenserver.ready.json")
        ident = "ociimg-identity-" + base64.urlsafe_b64encode(os.urandom(18)).decode()
        args = [PYTHON, os.path.join(HERE, "tokenserver.py"), "--work-dir", d, "--ready-file", ready,
                "--service", SERVICE, "--issuer", ISSUER, "--sign-mode", self.o["sign_mode"],
                "--expires-in", str(self.o["expires_in"]), "--identity-token", "%s=%s" % (self.o["username"], ident),
                "--max-lifetime", str(self.remaining() + 5), "--parent-pid", str(os.getpid())]
        if self.o["username"] != "testuser" or self.o["password"] != "testpass":
            pol = {"anonymous": [["private/*", []], ["*", ["pull"]]],
                   "users": {self.o["username"]: {"password": self.o["password"],
                                                   "access": [["*", ["pull", "push", "delete"]]], "catalog": True},
                             "reader": {"password": "readerpass", "access": [["*", ["pull"]]]}},
                   "refresh_tokens": {}}
            pf = os.path.join(d, "policy.json")
            with open(pf, "w") as f:
                json.dump(pol, f)
            args += ["--policy", pf]
        if tls:
            args += ["--tls-cert", self.state["server_cert"], "--tls-key", self.state["server_key"]]
        p = self.spawn(args, "tokenserver.log")
        info = rutil.wait_for_file(ready, START_TIMEOUT, p)
        self.state.update(token_url=info["token_url"], token_control=info["url"] + "/__token__",
                          service=SERVICE, issuer=ISSUER, identity_token=ident,
                          expires_in=self.o["expires_in"], tokenserver_pid=p.pid,
                          rootcertbundle=info["rootcertbundle"])

    def registry_config(self, port):
        v = self.o["variant"]
        storage = os.path.join(self.dir, "storage")
        os.makedirs(storage, exist_ok=True)
        lines = ["version: 0.1", "log:", "  level: %s" % self.o["log_level"], "  formatter: text",
                 "  accesslog:", "    disabled: false",
                 "storage:", "  filesystem:", "    rootdirectory: %s" % storage, "  delete:", "    enabled: true",
                 "  cache:", "    blobdescriptor: inmemory", "  maintenance:", "    uploadpurging:",
                 "      enabled: false",
                 "http:", "  addr: 127.0.0.1:%d" % port, "  secret: %s" % os.urandom(16).hex(),
                 "  headers:", "    X-Content-Type-Options: [nosniff]"]
        if self.state.get("ca"):
            lines += ["  tls:", "    certificate: %s" % self.state["server_cert"], "    key: %s" % self.state["server_key"]]
            if v == "mtls":
                lines += ["    clientcas:", "      - %s" % self.state["ca"]]
        if v.startswith("basic"):
            lines += ["auth:", "  htpasswd:", "    realm: ociimg-test-registry",
                      "    path: %s" % os.path.join(self.dir, "htpasswd")]
        elif v.startswith("token"):
            lines += ["auth:", "  token:", "    realm: %s" % self.state["token_url"], "    service: %s" % SERVICE,
                      "    issuer: %s" % ISSUER, "    rootcertbundle: %s" % self.state["rootcertbundle"]]
        # foreign layers (test/foreign:1) may point at loopback servers only
        lines += ["validation:", "  manifests:", "    urls:", "      allow:",
                  "        - '^https?://127\\.0\\.0\\.1(:[0-9]+)?/'"]
        cfg = os.path.join(self.dir, "registry.yml")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        return cfg, storage

    def wait_registry(self, proc, url):
        ctx = _ssl_ctx(self.state)
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            if proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url + "/v2/", timeout=2, context=ctx) as r:
                    if r.status == 200:
                        return True
            except urllib.error.HTTPError as e:
                if e.code == 401:
                    return True
            except (OSError, ssl.SSLError):
                pass
            time.sleep(0.1)
        raise HarnessError("registry did not answer /v2/ within %ds" % START_TIMEOUT)

    def start_registry(self):
        v = self.o["variant"]
        tls = v in ("tls", "mtls") or v.endswith("-tls")
        scheme = "https" if tls else "http"
        for attempt in range(3):  # a free port can be taken between probe and bind; retry on a new one
            port = rutil.free_port()
            cfg, storage = self.registry_config(port)
            args = ["timeout", "--foreground", "-k", "5", str(self.remaining() + 5), REGISTRY_BIN, "serve", cfg]
            p = self.spawn(args, "registry.log")
            url = "%s://127.0.0.1:%d" % (scheme, port)
            if self.wait_registry(p, url):
                self.state.update(url=url, host="127.0.0.1:%d" % port, port=port, scheme=scheme, config=cfg,
                                  storage=storage, registry_pid=p.pid,
                                  registry_log=os.path.join(self.dir, "registry.log"))
                return p
            self.children.remove(p)
        raise HarnessError("docker-registry exited at start 3 times; see %s/registry.log" % self.dir)

    def start_proxy(self):
        ready = os.path.join(self.dir, "proxy.ready.json")
        args = [PYTHON, os.path.join(HERE, "faultproxy.py"), "--upstream", self.state["url"],
                "--blob-dir", os.path.join(self.dir, "layout", "blobs"), "--ready-file", ready,
                "--rules", os.path.join(self.dir, "proxy-rules.json"),
                "--max-lifetime", str(self.remaining() + 5), "--parent-pid", str(os.getpid())]
        if self.state.get("ca"):
            args += ["--upstream-ca", self.state["ca"]]
        if self.state.get("client_cert"):
            args += ["--upstream-cert", self.state["client_cert"], "--upstream-key", self.state["client_key"]]
        if self.o["proxy_tls"]:
            args += ["--tls-cert", self.state["server_cert"], "--tls-key", self.state["server_key"]]
        p = self.spawn(args, "proxy.log")
        info = rutil.wait_for_file(ready, START_TIMEOUT, p)
        self.state.update(proxy_url=info["url"], proxy_host="127.0.0.1:%d" % info["port"],
                          proxy_control=info["control"], blob_url=info["blob_url"], proxy_pid=p.pid,
                          proxy_rules_file=os.path.join(self.dir, "proxy-rules.json"))

    def run(self):
        import faultproxy

        v = self.o["variant"]
        tls = v in ("tls", "mtls") or v.endswith("-tls")
        if tls or self.o["proxy_tls"]:
            self.setup_tls()
        else:
            self.state.update(ca=None)
        auth = "basic" if v.startswith("basic") else "token" if v.startswith("token") else "none"
        self.state.update(auth=auth, username=None, password=None)
        if auth != "none":
            self.state.update(username=self.o["username"], password=self.o["password"])
        if auth == "basic":
            with open(os.path.join(self.dir, "htpasswd"), "w") as f:
                f.write("%s:%s\n" % (self.o["username"], pybcrypt.hashpw(self.o["password"])))
                f.write("reader:%s\n" % pybcrypt.hashpw("readerpass"))
        if auth == "token":
            self.start_tokenserver(tls)
        reg = self.start_registry()
        if tls:
            self.state["certs_d"] = self.certs_d(self.state["port"])
        if auth != "none":
            b64 = base64.b64encode(("%s:%s" % (self.o["username"], self.o["password"])).encode()).decode()
            self.state["docker_config"] = _docker_config(os.path.join(self.dir, "docker-config"),
                                                         self.state["host"], {"auth": b64})
            if auth == "token":
                self.state["docker_config_identity"] = _docker_config(
                    os.path.join(self.dir, "docker-config-identity"), self.state["host"],
                    {"auth": base64.b64encode(b"<token>:").decode(), "identitytoken": self.state["identity_token"]})
        blobs = faultproxy.BlobServer(os.path.join(self.dir, "layout", "blobs")).start()
        self.state["foreign_url"] = blobs.url
        if self.o["proxy"]:
            self.start_proxy()
        rutil.write_json_atomic(os.path.join(self.dir, "state.json"), self.state)
        parent = self.o.get("parent_pid") or 0
        while time.time() < self.deadline:  # bounded by the deadline
            if parent and not rutil.pid_alive(parent):
                self.note("parent pid %d exited" % parent)
                return
            if reg.poll() is not None:
                self.note("docker-registry exited with status %s" % reg.returncode)
                return
            time.sleep(0.5)
        self.note("max lifetime reached")

    def note(self, why):
        with open(os.path.join(self.dir, "supervisor.log"), "a") as f:
            f.write("%s supervisor: stopping: %s\n" % (time.strftime("%H:%M:%S"), why))


def supervise(state_dir):
    sup = Supervisor(state_dir)

    def on_signal(signum, frame):
        raise SystemExit(0)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    rc = 0
    try:
        sup.run()
    except SystemExit:
        pass
    except Exception as e:  # report to `start`, which is waiting for state.json or failed.json
        rc = 1
        rutil.write_json_atomic(os.path.join(state_dir, "failed.json"), {"error": "%s: %s" % (type(e).__name__, e)})
    finally:
        sup.stop_children()
        try:
            os.unlink(os.path.join(state_dir, "state.json"))
        except OSError:
            pass
    return rc


# --- start / stop / seed ---------------------------------------------------------------------------------
def start(variant, state_dir, proxy=False, proxy_tls=False, expires_in=300, sign_mode="x5c", username="testuser",
          password="testpass", max_lifetime=rutil.DEFAULT_MAX_LIFETIME, parent_pid=None, log_level="info"):
    if variant not in VARIANTS:
        raise HarnessError("unknown variant %r (one of %s)" % (variant, ", ".join(VARIANTS)))
    if not os.access(REGISTRY_BIN, os.X_OK):
        raise HarnessError("%s not found (apt-get install docker-registry)" % REGISTRY_BIN)
    state_dir = os.path.abspath(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    pidf = os.path.join(state_dir, "harness.pid")
    if os.path.exists(pidf):
        with open(pidf) as f:
            old = int(f.read().strip() or 0)
        if old and rutil.pid_alive(old) and "_supervise" in _proc_cmdline(old):
            raise HarnessError("a harness is already running for %s (pid %d)" % (state_dir, old))
    for name in ("state.json", "failed.json", "images.json"):
        try:
            os.unlink(os.path.join(state_dir, name))
        except OSError:
            pass
    opts = {"variant": variant, "proxy": proxy or proxy_tls, "proxy_tls": proxy_tls, "expires_in": expires_in,
            "sign_mode": sign_mode, "username": username, "password": password, "max_lifetime": max_lifetime,
            "parent_pid": parent_pid or 0, "log_level": log_level}
    rutil.write_json_atomic(os.path.join(state_dir, "options.json"), opts)
    log = open(os.path.join(state_dir, "supervisor.log"), "ab")
    p = subprocess.Popen([PYTHON, os.path.abspath(__file__), "_supervise", "--state-dir", state_dir],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, close_fds=True,
                         start_new_session=True)
    log.close()
    with open(pidf, "w") as f:
        f.write("%d\n" % p.pid)
    end = time.monotonic() + START_TIMEOUT + 30
    while time.monotonic() < end:
        sp = os.path.join(state_dir, "state.json")
        if os.path.exists(sp):
            with open(sp) as f:
                return json.load(f)
        fp = os.path.join(state_dir, "failed.json")
        if os.path.exists(fp) or p.poll() is not None:
            p.wait(timeout=10)
            msg = "supervisor exited"
            if os.path.exists(fp):
                with open(fp) as f:
                    msg = json.load(f)["error"]
            stop(state_dir)
            raise HarnessError("harness start failed: %s (logs in %s)" % (msg, state_dir))
        time.sleep(0.05)
    stop(state_dir)
    raise HarnessError("harness start timed out (logs in %s)" % state_dir)


def stop(state_dir):
    state_dir = os.path.abspath(state_dir)
    pidf = os.path.join(state_dir, "harness.pid")
    if not os.path.exists(pidf):
        return {"stopped": False, "reason": "no harness.pid in %s" % state_dir}
    with open(pidf) as f:
        sid = int(f.read().strip() or 0)
    result = {"stopped": True, "pid": sid, "killed": []}
    if sid and rutil.pid_alive(sid) and "_supervise" in _proc_cmdline(sid) and state_dir in _proc_cmdline(sid):
        os.kill(sid, signal.SIGTERM)
        end = time.monotonic() + 10
        while time.monotonic() < end and rutil.pid_alive(sid) and _proc_pgrp(sid) == sid:
            time.sleep(0.05)
    # leftovers (the supervisor was SIGKILLed, or is stuck): kill them by pid, one by one
    for _ in range(3):
        left = _our_processes(sid, state_dir) if sid else []
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
                result["killed"].append(pid)
            except OSError:
                pass
        time.sleep(0.2)
    os.unlink(pidf)
    return result


def seed(state_dir, only=None, quiet=True):
    state_dir = os.path.abspath(state_dir)
    with open(os.path.join(state_dir, "state.json")) as f:
        st = json.load(f)
    out = os.path.join(state_dir, "images.json")
    args = [PYTHON, MAKE_IMAGES, "push", "--registry", st["url"], "--layout", os.path.join(state_dir, "layout"),
            "--json-out", out, "--foreign-base", st["foreign_url"]]
    if st.get("ca"):
        args += ["--ca", st["ca"]]
    if st.get("client_cert"):
        args += ["--client-cert", st["client_cert"], "--client-key", st["client_key"]]
    if st.get("username"):
        args += ["--username", st["username"], "--password", st["password"]]
    if only:
        args += ["--only", only]
    if quiet:
        args.append("--quiet")
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    if p.returncode != 0:
        raise HarnessError("seeding failed: %s" % p.stderr.decode(errors="replace")[-2000:])
    with open(out) as f:
        images = json.load(f)
    st["images"] = out
    rutil.write_json_atomic(os.path.join(state_dir, "state.json"), st)
    return images


# --- library API -----------------------------------------------------------------------------------------
class Harness:
    """Context manager around start/seed/stop; everything ends with the test process at the latest."""

    def __init__(self, variant="plain", state_dir=None, seed=False, proxy=False, proxy_tls=False, expires_in=300,
                 sign_mode="x5c", max_lifetime=rutil.DEFAULT_MAX_LIFETIME, log_level="info"):
        self.variant, self.want_seed = variant, seed
        self.kw = dict(proxy=proxy, proxy_tls=proxy_tls, expires_in=expires_in, sign_mode=sign_mode,
                       max_lifetime=max_lifetime, log_level=log_level)
        self.tmp = None
        if state_dir is None:
            self.tmp = state_dir = tempfile.mkdtemp(prefix="ociimg-registry-")
        self.state_dir = os.path.abspath(state_dir)
        self.state, self.images = None, None

    def start(self):
        import atexit

        atexit.register(self.stop)
        self.state = start(self.variant, self.state_dir, parent_pid=os.getpid(), **self.kw)
        if self.want_seed:
            self.seed()
        return self.state

    def seed(self, only=None):
        self.images = seed(self.state_dir, only)
        self.state["images"] = os.path.join(self.state_dir, "images.json")
        return self.images

    def stop(self):
        if os.path.exists(os.path.join(self.state_dir, "harness.pid")):
            stop(self.state_dir)
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def client(self, via_proxy=False, anonymous=False):
        import regclient

        s = self.state
        url = s["proxy_url"] if via_proxy else s["url"]
        return regclient.Client(url, s.get("ca"), None if anonymous else s.get("username"),
                                None if anonymous else s.get("password"), s.get("client_cert"), s.get("client_key"))

    def _proxy_ctx(self):
        return _ssl_ctx(self.state) if self.state.get("proxy_url", "").startswith("https") else None

    def proxy_rules(self, rules):
        return http_json(self.state["proxy_control"] + "/rules", "POST", rules, self._proxy_ctx())

    def proxy_stats(self):
        return http_json(self.state["proxy_control"] + "/stats", ctx=self._proxy_ctx())

    def proxy_reset(self):
        return http_json(self.state["proxy_control"] + "/reset", "POST", ctx=self._proxy_ctx())

    def _token_ctx(self):
        return _ssl_ctx(self.state) if self.state.get("token_control", "").startswith("https") else None

    def token_stats(self):
        return http_json(self.state["token_control"] + "/stats", ctx=self._token_ctx())

    def token_reset(self):
        return http_json(self.state["token_control"] + "/reset", "POST", ctx=self._token_ctx())

    def token_config(self, **settings):
        return http_json(self.state["token_control"] + "/config", "POST", settings, self._token_ctx())


# --- CLI -------------------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("--variant", required=True, choices=VARIANTS)
    s.add_argument("--state-dir", required=True)
    s.add_argument("--seed", action="store_true")
    s.add_argument("--proxy", action="store_true", help="also run faultproxy.py in front of the registry")
    s.add_argument("--proxy-tls", action="store_true", help="proxy (and its blob server) speak HTTPS")
    s.add_argument("--expires-in", type=int, default=300, help="token lifetime in seconds (token variants)")
    s.add_argument("--sign-mode", choices=["x5c", "kid"], default="x5c")
    s.add_argument("--username", default="testuser")
    s.add_argument("--password", default="testpass")
    s.add_argument("--max-lifetime", type=float, default=rutil.DEFAULT_MAX_LIFETIME)
    s.add_argument("--parent-pid", type=int, default=0,
                   help="stop when this pid exits (bash: --parent-pid $$; default 0: not watched)")
    s.add_argument("--log-level", default="info", choices=["debug", "info", "warn", "error"])
    for name in ("stop", "info", "env"):
        x = sub.add_parser(name)
        x.add_argument("--state-dir", required=True)
    sd = sub.add_parser("seed")
    sd.add_argument("--state-dir", required=True)
    sd.add_argument("--only")
    sv = sub.add_parser("_supervise")
    sv.add_argument("--state-dir", required=True)
    a = ap.parse_args(argv)
    try:
        if a.cmd == "_supervise":
            return supervise(a.state_dir)
        if a.cmd == "start":
            st = start(a.variant, a.state_dir, a.proxy, a.proxy_tls, a.expires_in, a.sign_mode, a.username,
                       a.password, a.max_lifetime, a.parent_pid, a.log_level)
            if a.seed:
                try:
                    seed(a.state_dir)
                except Exception:
                    stop(a.state_dir)
                    raise
                with open(os.path.join(a.state_dir, "state.json")) as f:
                    st = json.load(f)
            print(json.dumps(st, indent=1, sort_keys=True))
        elif a.cmd == "stop":
            print(json.dumps(stop(a.state_dir)))
        elif a.cmd == "seed":
            print(json.dumps(seed(a.state_dir, a.only), indent=1, sort_keys=True))
        elif a.cmd in ("info", "env"):
            with open(os.path.join(os.path.abspath(a.state_dir), "state.json")) as f:
                st = json.load(f)
            if a.cmd == "info":
                print(json.dumps(st, indent=1, sort_keys=True))
            else:
                for k in sorted(st):
                    if isinstance(st[k], (str, int, float)) or st[k] is None:
                        val = "" if st[k] is None else str(st[k])
                        print("REG_%s=%s" % (k.upper(), shlex.quote(val)))
    except (HarnessError, OSError, ValueError) as e:
        print("harness: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
