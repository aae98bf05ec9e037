#!/usr/bin/python3
"""Fault-injecting HTTP/1.1 reverse proxy for registry client tests (loopback only, bounded lifetime).

  faultproxy.py --upstream http://127.0.0.1:5000 [--upstream-ca CA.crt] [--upstream-cert C --upstream-key K]
                [--port 0] [--rules RULES.json] [--blob-dir LAYOUT/blobs] [--tls-cert C --tls-key K]
                [--ready-file F] [--max-lifetime S] [--parent-pid P] [--verbose]

The proxy listens on 127.0.0.1:PORT and forwards everything except /__fault__/* to --upstream, keeping
the client's Host header (so the registry's Location headers point back at the proxy) and passing
Range through. A second listener, the blob server, answers GET/HEAD of any path ending in
/blobs/sha256:<hex> (or /blobs/sha256/<hex>) from --blob-dir, or else by fetching the blob from the
upstream registry without credentials; it is where `redirect` sends clients and it records whether each
request carried an Authorization header.

Rules: a JSON list, replaced as a whole by POST /__fault__/rules or by editing --rules FILE (re-read when
its mtime changes). For each request the rules are tried in order; the first that matches and is due
applies, otherwise the request is forwarded untouched. A rule:
  {"method": "GET",                 regex, full match (default: any)
   "path": "/v2/.*/blobs/sha256:.*", regex, searched in the path without the query (default: any)
   "query": "regex",                optional
   "range": true|false,             optional: only requests with / without a Range header
   "skip": 0,                       let the first N matching requests through
   "times": 1,                      apply at most N times (-1 = unlimited; default 1)
   "every": 1,                      apply to every k-th matching request (after skip)
   "action": ACTION, ...parameters,
   "set_headers": {"Name": "value"}, "remove_headers": ["Name"]   (forwarded responses)}
Actions:
  pass                           forward (count it, or edit headers)
  status    status=503 [body=STR] [retry_after=SECONDS] [headers={}]   answer without contacting upstream
                                 (status 429 + retry_after gives a rate limit answer with Retry-After)
  reset     after_bytes=N        forward, send headers + N body bytes, then TCP RST (SO_LINGER 0)
            before_headers=true  RST before any response byte
  close                          close the connection without answering (empty reply)
  truncate  after_bytes=N        send headers (full Content-Length) + N body bytes, then FIN
  corrupt   offset=X [xor=255]   flip one body byte (offset < 0 counts from the end of the body)
  trickle   chunk=1024 delay=0.05   send the body in chunks with a pause between them (capped at 300 s)
  stall     seconds=T [after_bytes=N] [before_headers=false] [then=continue|close|reset]
                                 send nothing for T s (at most 300), then go on / close / reset
  delay     seconds=T            wait T s before forwarding
  ignore_range                   forward without the Range header (upstream answers 200, full body), as
                                 servers without range support do
  shift_range by=N               forward with the Range start moved N bytes back (a 206 whose
                                 Content-Range does not start where the client asked)
  redirect  [status=307] [location=TEMPLATE]   answer with a redirect; default Location is the blob
                                 server + the original path and query; TEMPLATE may use {blob_url}
                                 {path} {query} {digest}
  paginate  [page_size=N]        GET /v2/NAME/tags/list: serve the list sorted, honouring n and last
                                 with a Link: <...?n=N&last=TAG>; rel="next" header, as the spec says
                                 (distribution 2.8 ignores n/last and does not sort); page_size caps n
                                 (and pages even without n). Use "times": -1.
Control endpoints (on the proxy port):
  GET  /__fault__/stats    {"requests", "paths": {path: {count, bytes, methods, statuses}}, "log": [...],
                            "blob_gets", "blob_bytes", "manifest_gets", "rules": [with matched/applied],
                            "blobserver": {"requests", "saw_authorization", "log": [...]}}
  POST /__fault__/reset    clear stats (both servers) and rule counters
  GET|POST|DELETE /__fault__/rules
  POST /__fault__/blobserver  {"reject_authorization": bool}  (answer 400 to requests with Authorization,
                            as S3-style presigned URLs do)
  GET  /__fault__/health
"""

import argparse
import fcntl
import http.client
import json
import os
import re
import socket
import ssl
import struct
import sys
import termios
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rutil  # noqa: E402

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "trailers", "transfer-encoding", "upgrade"}
MAX_REQ_BODY = 256 * 1024 * 1024
MAX_BUFFERED_RESP = 64 * 1024 * 1024
MAX_SLEEP = 300.0
MAX_LOG = 20000
CHUNK = 64 * 1024
BLOB_RE = re.compile(r"/blobs/(sha256)[:/]([0-9a-f]{64})$")
ACTIONS = {"pass", "status", "reset", "close", "truncate", "corrupt", "trickle", "stall", "delay", "redirect",
           "paginate", "ignore_range", "shift_range"}


class Rule:
    def __init__(self, spec, index):
        if not isinstance(spec, dict):
            raise ValueError("rule %d is not an object" % index)
        self.spec = spec
        self.action = spec.get("action", "pass")
        if self.action not in ACTIONS:
            raise ValueError("rule %d: unknown action %r" % (index, self.action))
        self.method = re.compile(spec["method"]) if spec.get("method") else None
        self.path = re.compile(spec["path"]) if spec.get("path") else None
        self.query = re.compile(spec["query"]) if spec.get("query") else None
        self.range = spec.get("range")
        self.skip = int(spec.get("skip", 0))
        self.times = int(spec.get("times", 1))
        self.every = max(1, int(spec.get("every", 1)))
        self.matched = 0
        self.applied = 0

    def due(self, method, path, query, has_range):
        """Count a matching request and say whether the rule applies to it (caller holds the lock)."""
        if self.method and not self.method.fullmatch(method):
            return False
        if self.path and not self.path.search(path):
            return False
        if self.query and not self.query.search(query):
            return False
        if self.range is not None and bool(self.range) != has_range:
            return False
        self.matched += 1
        n = self.matched - self.skip
        if n <= 0 or n % self.every != 0:
            return False
        if 0 <= self.times <= self.applied:
            return False
        self.applied += 1
        return True

    def describe(self):
        d = dict(self.spec)
        d["matched"], d["applied"] = self.matched, self.applied
        return d


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        self.requests = 0
        self.paths = {}
        self.log = []
        self.blob_gets = 0
        self.blob_bytes = 0
        self.manifest_gets = 0

    def add(self, entry):
        with self.lock:
            self.requests += 1
            entry["seq"] = self.requests
            p = self.paths.setdefault(entry["path"], {"count": 0, "bytes": 0, "methods": {}, "statuses": {}})
            p["count"] += 1
            p["bytes"] += entry.get("bytes", 0)
            p["methods"][entry["method"]] = p["methods"].get(entry["method"], 0) + 1
            st = str(entry.get("status"))
            p["statuses"][st] = p["statuses"].get(st, 0) + 1
            if entry["method"] == "GET" and BLOB_RE.search(entry["path"]):
                self.blob_gets += 1
                self.blob_bytes += entry.get("bytes", 0)
            if entry["method"] == "GET" and "/manifests/" in entry["path"]:
                self.manifest_gets += 1
            if len(self.log) < MAX_LOG:
                self.log.append(entry)

    def snapshot(self):
        with self.lock:
            return {"requests": self.requests, "paths": json.loads(json.dumps(self.paths)), "log": list(self.log),
                    "blob_gets": self.blob_gets, "blob_bytes": self.blob_bytes, "manifest_gets": self.manifest_gets}


def parse_range(value, size):
    """Single 'bytes=a-b' / 'bytes=a-' / 'bytes=-n' range -> (start, end inclusive) or None."""
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", value or "")
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    if m.group(1) == "":
        n = int(m.group(2))
        return (max(0, size - n), size - 1) if n else None
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def upstream_connection(url, ca=None, cert=None, key=None, timeout=60):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
        if cert:
            ctx.load_cert_chain(cert, key)
        return http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout, context=ctx)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)


def rst_close(sock, drain=True):
    """Abort with a TCP RST. An RST throws away whatever is still in our send queue, so first wait
    (bounded) until the peer has acknowledged everything sent: "reset after N bytes" then really
    delivers N bytes, then the reset."""
    if drain:
        end = time.monotonic() + 5.0
        buf = bytearray(4)
        while time.monotonic() < end:
            try:
                fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buf)
            except OSError:
                break
            if struct.unpack("i", bytes(buf))[0] == 0:
                break
            time.sleep(0.005)
        time.sleep(0.05)  # let the client read what it has before the RST lands
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _Abort(Exception):
    """The response was cut on purpose; the connection is gone."""


# --- the blob server ---------------------------------------------------------------------------------
class BlobServer:
    """Serves blobs by digest from a directory (or the upstream registry) and records every request."""

    def __init__(self, blob_dir=None, upstream=None, upstream_ca=None, upstream_cert=None, upstream_key=None,
                 tls_cert=None, tls_key=None, verbose=False):
        self.blob_dir = blob_dir
        self.upstream = upstream
        self.upstream_tls = (upstream_ca, upstream_cert, upstream_key)
        self.stats = Stats()
        self.reject_authorization = False
        self.verbose = verbose
        owner = self

        class H(BlobHandler):
            server_owner = owner

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_cert, tls_key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.port = self.httpd.server_address[1]
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def snapshot(self):
        s = self.stats.snapshot()
        return {"requests": s["requests"], "log": s["log"], "paths": s["paths"],
                "saw_authorization": any(e.get("authorization") for e in s["log"]),
                "reject_authorization": self.reject_authorization}


class BlobHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ociimg-test-blobserver/1"
    server_owner = None

    def log_message(self, fmt, *args):
        if self.server_owner.verbose:
            sys.stderr.write("blobserver: " + (fmt % args) + "\n")

    def reply(self, status, body=b"", headers=None, entry=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        sent = 0
        if self.command != "HEAD" and body:
            self.wfile.write(body)
            sent = len(body)
        if entry is not None:
            entry["status"], entry["bytes"] = status, sent
            self.server_owner.stats.add(entry)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        own = self.server_owner
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/__blobserver__/stats":
            return self.reply(200, json.dumps(own.snapshot()).encode(), {"Content-Type": "application/json"})
        entry = {"time": time.time(), "method": self.command, "path": u.path, "query": u.query,
                 "authorization": "Authorization" in self.headers, "range": self.headers.get("Range"),
                 "host": self.headers.get("Host")}
        if own.reject_authorization and entry["authorization"]:
            return self.reply(400, b'{"error":"Authorization header not allowed on this URL"}',
                              {"Content-Type": "application/json"}, entry)
        m = BLOB_RE.search(u.path)
        if not m:
            return self.reply(404, b"not a blob path\n", {"Content-Type": "text/plain"}, entry)
        digest = "%s:%s" % (m.group(1), m.group(2))
        data = None
        if own.blob_dir:
            p = os.path.join(own.blob_dir, m.group(1), m.group(2))
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    data = f.read()
        if data is None and own.upstream:
            name = u.path[: m.start()]
            if name.startswith("/v2/"):
                name = name[4:]
            try:
                c = upstream_connection(own.upstream, *own.upstream_tls)
                c.request("GET", "/v2/%s/blobs/%s" % (name.strip("/"), digest))
                r = c.getresponse()
                if r.status == 200:
                    data = r.read()
                c.close()
            except OSError:
                data = None
        if data is None:
            return self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', {"Content-Type": "application/json"}, entry)
        headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest,
                   "Accept-Ranges": "bytes", "ETag": '"%s"' % digest}
        rng = self.headers.get("Range")
        if rng:
            r = parse_range(rng, len(data))
            if r is None:
                headers["Content-Range"] = "bytes */%d" % len(data)
                return self.reply(416, b"", headers, entry)
            headers["Content-Range"] = "bytes %d-%d/%d" % (r[0], r[1], len(data))
            return self.reply(206, data[r[0] : r[1] + 1], headers, entry)
        headers["Content-Length"] = str(len(data))
        self.reply(200, data, headers, entry)


# --- the proxy ---------------------------------------------------------------------------------------
class FaultProxy:
    def __init__(self, upstream, upstream_ca=None, upstream_cert=None, upstream_key=None, port=0, rules_file=None,
                 blob_dir=None, tls_cert=None, tls_key=None, verbose=False):
        self.upstream = upstream.rstrip("/")
        self.upstream_tls = (upstream_ca, upstream_cert, upstream_key)
        self.rules_file = rules_file
        self.rules_mtime = None
        self.rules = []
        self.lock = threading.Lock()
        self.stats = Stats()
        self.verbose = verbose
        self.blobserver = BlobServer(blob_dir, self.upstream, upstream_ca, upstream_cert, upstream_key,
                                     tls_cert, tls_key, verbose)
        owner = self

        class H(ProxyHandler):
            proxy = owner

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), H)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_cert, tls_key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.port = self.httpd.server_address[1]
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)
        self.reload_rules_file()

    def set_rules(self, specs):
        if isinstance(specs, dict) and "rules" in specs:
            specs = specs["rules"]
        if not isinstance(specs, list):
            raise ValueError("rules must be a JSON list (or {\"rules\": [...]})")
        rules = [Rule(s, i) for i, s in enumerate(specs)]
        with self.lock:
            self.rules = rules

    def reload_rules_file(self):
        if not self.rules_file:
            return
        try:
            mtime = os.stat(self.rules_file).st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime == self.rules_mtime:
            return
        self.rules_mtime = mtime
        if mtime is None:
            self.set_rules([])
            return
        with open(self.rules_file) as f:
            text = f.read()
        self.set_rules(json.loads(text) if text.strip() else [])

    def pick_rule(self, method, path, query, has_range):
        try:
            self.reload_rules_file()
        except (OSError, ValueError) as e:
            sys.stderr.write("faultproxy: bad rules file, keeping the old rules: %s\n" % e)
        with self.lock:
            for r in self.rules:
                if r.due(method, path, query, has_range):
                    return r
        return None

    def info(self):
        return {"url": self.url, "port": self.port, "control": self.url + "/__fault__",
                "blob_url": self.blobserver.url, "blob_port": self.blobserver.port, "upstream": self.upstream,
                "pid": os.getpid()}

    def start(self):
        self.blobserver.start()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()
        return self

    def serve_forever(self):
        self.blobserver.start()
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.blobserver.stop()


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ociimg-test-faultproxy/1"
    proxy = None

    def log_message(self, fmt, *args):
        if self.proxy.verbose:
            sys.stderr.write("faultproxy: " + (fmt % args) + "\n")

    def do_GET(self):
        self.handle_any()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # --- helpers --------------------------------------------------------------------------------
    def read_request_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out, total = [], 0
            for _ in range(1 << 20):  # bounded: at most a million chunks
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_REQ_BODY:
                    raise ValueError("request body too large")
                out.append(self.rfile.read(size))
                self.rfile.readline(16)
            return b"".join(out)
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_REQ_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(n) if n else b""

    def simple(self, status, body, headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return len(body) if self.command != "HEAD" else 0

    def json_reply(self, status, obj):
        return self.simple(status, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def control(self, path):
        p = self.proxy
        body = self.read_request_body()
        try:
            if path == "/__fault__/stats" and self.command == "GET":
                s = p.stats.snapshot()
                with p.lock:
                    s["rules"] = [r.describe() for r in p.rules]
                s["blobserver"] = p.blobserver.snapshot()
                return self.json_reply(200, s)
            if path == "/__fault__/reset" and self.command == "POST":
                with p.stats.lock:
                    p.stats.clear()
                with p.blobserver.stats.lock:
                    p.blobserver.stats.clear()
                with p.lock:
                    for r in p.rules:
                        r.matched = r.applied = 0
                return self.json_reply(200, {"ok": True})
            if path == "/__fault__/rules":
                if self.command == "POST":
                    p.set_rules(json.loads(body or b"[]"))
                elif self.command == "DELETE":
                    p.set_rules([])
                with p.lock:
                    return self.json_reply(200, [r.describe() for r in p.rules])
            if path == "/__fault__/blobserver" and self.command == "POST":
                cfg = json.loads(body or b"{}")
                if "reject_authorization" in cfg:
                    p.blobserver.reject_authorization = bool(cfg["reject_authorization"])
                return self.json_reply(200, {"reject_authorization": p.blobserver.reject_authorization})
            if path == "/__fault__/health":
                return self.json_reply(200, {"ok": True})
        except ValueError as e:
            return self.json_reply(400, {"error": str(e)})
        return self.json_reply(404, {"error": "unknown control endpoint"})

    # --- the proxying -----------------------------------------------------------------------------
    def handle_any(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path.startswith("/__fault__/"):
            return self.control(u.path)
        p = self.proxy
        start = time.time()
        entry = {"time": start, "method": self.command, "path": u.path, "query": u.query,
                 "range": self.headers.get("Range"), "authorization": "Authorization" in self.headers,
                 "action": None, "rule": None, "status": None, "bytes": 0}
        try:
            body = self.read_request_body()
        except ValueError as e:
            self.close_connection = True
            entry["status"] = 413
            p.stats.add(entry)
            return self.json_reply(413, {"error": str(e)})
        rule = p.pick_rule(self.command, u.path, u.query, "Range" in self.headers)
        spec = rule.spec if rule else {}
        action = rule.action if rule else None
        if rule:
            entry["action"] = action
            entry["rule"] = p.rules.index(rule) if rule in p.rules else None
        try:
            self.apply(action, spec, u, body, entry)
        except _Abort:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout) as e:
            entry["client_error"] = str(e)
            self.close_connection = True
        finally:
            entry["duration"] = round(time.time() - start, 4)
            p.stats.add(entry)

    def apply(self, action, spec, u, body, entry):
        p = self.proxy
        self.range_edit = (action, int(spec.get("by", 0))) if action in ("ignore_range", "shift_range") else None
        if action == "close":
            entry["status"] = 0
            self.connection.shutdown(socket.SHUT_RDWR)
            raise _Abort()
        if action in ("reset", "stall") and spec.get("before_headers"):
            if action == "stall":
                time.sleep(min(float(spec.get("seconds", 10)), MAX_SLEEP))
                if spec.get("then", "continue") == "continue":
                    return self.forward(None, spec, u, body, entry)
            entry["status"] = 0
            rst_close(self.connection)
            raise _Abort()
        if action == "status":
            status = int(spec.get("status", 503))
            headers = {"Content-Type": "application/json"}
            if spec.get("retry_after") is not None:
                headers["Retry-After"] = str(spec["retry_after"])
            headers.update(spec.get("headers") or {})
            text = spec.get("body")
            if text is None:
                text = json.dumps({"errors": [{"code": "TOOMANYREQUESTS" if status == 429 else "UNAVAILABLE",
                                               "message": "injected by faultproxy", "detail": None}]})
            entry["status"] = status
            entry["bytes"] = self.simple(status, text.encode(), headers)
            return None
        if action == "redirect":
            m = BLOB_RE.search(u.path)
            tmpl = spec.get("location") or "{blob_url}{path}{query}"
            loc = tmpl.format(blob_url=p.blobserver.url, path=u.path, query=("?" + u.query) if u.query else "",
                              digest=("%s:%s" % m.groups()) if m else "")
            status = int(spec.get("status", 307))
            entry["status"] = status
            entry["location"] = loc
            entry["bytes"] = self.simple(status, b"", {"Location": loc})
            return None
        if action == "paginate":
            return self.paginate(spec, u, entry)
        if action == "delay":
            time.sleep(min(float(spec.get("seconds", 1)), MAX_SLEEP))
        return self.forward(action, spec, u, body, entry)

    def open_upstream(self, path, body):
        p = self.proxy
        # a list, not a dict: clients send several Accept headers and all of them must reach the registry
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP and k.lower() not in ("content-length", "x-forwarded-proto", "expect")]
        headers.append(("X-Forwarded-Proto", p.scheme))
        edit = getattr(self, "range_edit", None)
        if edit:
            rng = [v for k, v in headers if k.lower() == "range"]
            headers = [(k, v) for k, v in headers if k.lower() != "range"]
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng[0].strip()) if rng and edit[0] == "shift_range" else None
            if m:
                headers.append(("Range", "bytes=%d-%s" % (max(0, int(m.group(1)) - edit[1]), m.group(2))))
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        conn = upstream_connection(p.upstream, *p.upstream_tls)
        try:
            conn.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            conn.endheaders(body if body else None)
            return conn, conn.getresponse()
        except OSError:
            conn.close()
            raise

    def forward(self, action, spec, u, body, entry):
        try:
            conn, resp = self.open_upstream(self.path, body)
        except OSError as e:
            entry["status"] = 502
            entry["upstream_error"] = str(e)
            entry["bytes"] = self.json_reply(502, {"error": "upstream: %s" % e})
            return None
        try:
            return self.relay(resp, action, spec, entry)
        finally:
            conn.close()

    def paginate(self, spec, u, entry):
        """Tag list pagination as the distribution spec describes it (lexical order, n, last, Link),
        which distribution 2.8 does not implement: fetch the whole list and cut the page here."""
        m = re.fullmatch(r"/v2/(.+)/tags/list", u.path)
        if not m or self.command != "GET":
            return self.forward(None, spec, u, b"", entry)
        try:
            conn, resp = self.open_upstream("/v2/%s/tags/list" % m.group(1), b"")
        except OSError as e:
            entry["status"] = 502
            entry["bytes"] = self.json_reply(502, {"error": "upstream: %s" % e})
            return None
        try:
            if resp.status != 200:
                return self.relay(resp, None, spec, entry)
            data = json.loads(resp.read(MAX_BUFFERED_RESP))
        finally:
            conn.close()
        q = urllib.parse.parse_qs(u.query)
        tags = sorted(data.get("tags") or [])
        last = q.get("last", [None])[0]
        if last is not None:
            tags = [t for t in tags if t > last]
        n = int(q.get("n", ["0"])[0] or 0)
        cap = int(spec.get("page_size", 0))
        if cap and (n <= 0 or n > cap):
            n = cap
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if n > 0 and len(tags) > n:
            tags = tags[:n]
            headers["Link"] = '</v2/%s/tags/list?%s>; rel="next"' % (
                m.group(1), urllib.parse.urlencode({"n": n, "last": tags[-1]}))
        entry["status"] = 200
        entry["bytes"] = self.simple(200, json.dumps({"name": data.get("name"), "tags": tags}).encode(), headers)
        return None

    def relay(self, resp, action, spec, entry):
        out_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        for name in spec.get("remove_headers") or []:
            out_headers = [(k, v) for k, v in out_headers if k.lower() != name.lower()]
        for k, v in (spec.get("set_headers") or {}).items():
            out_headers = [(a, b) for a, b in out_headers if a.lower() != k.lower()] + [(k, str(v))]
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        declared = resp.getheader("Content-Length")
        buffered = None
        if not no_body and declared is None:
            # Go answers small bodies chunked at times; re-frame with a length (bounded)
            buffered = resp.read(MAX_BUFFERED_RESP + 1)[:MAX_BUFFERED_RESP]
            out_headers.append(("Content-Length", str(len(buffered))))
            declared = str(len(buffered))
        entry["status"] = resp.status
        entry["declared_length"] = int(declared) if declared is not None else None
        self.send_response(resp.status)
        for k, v in out_headers:
            self.send_header(k, v)
        self.end_headers()
        if no_body:
            return None
        total = int(declared)

        def chunks():
            if buffered is not None:
                for i in range(0, len(buffered), CHUNK):
                    yield buffered[i : i + CHUNK]
                return
            while True:
                c = resp.read(CHUNK)
                if not c:
                    return
                yield c

        sent = 0
        cut = None  # (bytes to send before acting, what to do)
        if action in ("reset", "truncate"):
            cut = (int(spec.get("after_bytes", 0)), action)
        elif action == "stall":
            cut = (int(spec.get("after_bytes", 0)), "stall")
        corrupt_at = None
        if action == "corrupt":
            off = int(spec.get("offset", 0))
            corrupt_at = off if off >= 0 else total + off
        trickle = action == "trickle"
        t_chunk = max(1, int(spec.get("chunk", 1024)))
        t_delay = float(spec.get("delay", 0.05))
        t_end = time.monotonic() + MAX_SLEEP
        stalled = False
        try:
            for data in chunks():
                if corrupt_at is not None and sent <= corrupt_at < sent + len(data):
                    b = bytearray(data)
                    b[corrupt_at - sent] ^= int(spec.get("xor", 0xFF)) or 0xFF
                    data = bytes(b)
                    entry["corrupted_offset"] = corrupt_at
                pos = 0
                while pos < len(data):
                    piece = data[pos:]
                    if trickle:
                        piece = piece[:t_chunk]
                    if cut and not stalled and sent + len(piece) >= cut[0]:
                        piece = piece[: cut[0] - sent]
                        if piece:
                            self.wfile.write(piece)
                            sent += len(piece)
                            pos += len(piece)
                        entry["bytes"] = sent
                        if cut[1] == "stall":
                            self.wfile.flush()
                            time.sleep(min(float(spec.get("seconds", 10)), MAX_SLEEP))
                            stalled = True
                            then = spec.get("then", "continue")
                            if then == "continue":
                                continue
                            if then == "reset":
                                rst_close(self.connection)
                            else:
                                self.connection.shutdown(socket.SHUT_RDWR)
                            raise _Abort()
                        if cut[1] == "reset":
                            rst_close(self.connection)
                        else:
                            self.connection.shutdown(socket.SHUT_RDWR)
                        raise _Abort()
                    self.wfile.write(piece)
                    sent += len(piece)
                    pos += len(piece)
                    if trickle and time.monotonic() < t_end:
                        time.sleep(t_delay)
            if cut and not stalled and cut[0] >= sent and cut[1] != "stall":
                # the body was shorter than after_bytes: still cut, the client must see the fault
                entry["bytes"] = sent
                if cut[1] == "reset":
                    rst_close(self.connection)
                else:
                    self.connection.shutdown(socket.SHUT_RDWR)
                raise _Abort()
        finally:
            entry["bytes"] = sent
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="registry base URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--upstream-ca", help="CA file to verify an https upstream")
    ap.add_argument("--upstream-cert", help="client certificate for an mTLS upstream")
    ap.add_argument("--upstream-key")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--rules", help="JSON rules file, re-read when it changes")
    ap.add_argument("--blob-dir", help="directory with sha256/<hex> blob files for the blob server")
    ap.add_argument("--tls-cert", help="serve HTTPS (proxy and blob server) with this cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--ready-file", help="write {url,port,control,blob_url,blob_port,pid} once listening")
    ap.add_argument("--verbose", action="store_true")
    rutil.add_lifetime_args(ap)
    a = ap.parse_args(argv)
    u = urllib.parse.urlsplit(a.upstream)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        ap.error("upstream must be on loopback")
    fp = FaultProxy(a.upstream, a.upstream_ca, a.upstream_cert, a.upstream_key, a.port, a.rules, a.blob_dir,
                    a.tls_cert, a.tls_key, a.verbose)
    rutil.start_lifetime_guard(a.max_lifetime, a.parent_pid or None, name="faultproxy")
    if a.ready_file:
        rutil.write_json_atomic(a.ready_file, fp.info())
    else:
        print(json.dumps(fp.info()), flush=True)
    try:
        fp.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
