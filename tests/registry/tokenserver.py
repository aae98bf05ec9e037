#!/usr/bin/python3
"""A token server that behaves like Docker Hub's auth.docker.io, for distribution's `auth: token`.

  GET  /token?service=S&scope=repository:NAME:pull[,push][&scope=...][&offline_token=true][&account=U]
       anonymous, or with `Authorization: Basic` -> {"token","access_token","expires_in","issued_at"}
       (+ "refresh_token" when offline_token=true and the caller authenticated)
  POST /token  (application/x-www-form-urlencoded, the OAuth2 flow of the distribution auth spec)
       grant_type=password&username=U&password=P[&access_type=offline]&service=S&client_id=C&scope=...
       grant_type=refresh_token&refresh_token=T&service=S&client_id=C&scope=...
       -> {"access_token","scope","expires_in","issued_at"[,"refresh_token"]}
Test controls (loopback only, no auth):
  GET  /__token__/stats    request count and a log of every request (no secrets in it)
  POST /__token__/reset    clear the log
  POST /__token__/config   JSON object merged into the runtime settings:
       expires_in (int), response_style ("both"|"token"|"access_token"), omit_expires_in (bool),
       omit_issued_at (bool), fail_next (int: answer the next N /token requests with fail_status),
       fail_status (int, default 503), delay (seconds before answering /token), strict_service (bool),
       leeway_compensation (seconds, see below)
  GET  /__token__/config   current settings

Tokens are JWTs signed RS256 with a key whose certificate chains to the registry's rootcertbundle,
announced in the header as `x5c` (default) or as a libtrust `kid` (--sign-mode kid: signed with the
bundle's own key). distribution 2.8 accepts a token until exp + 60 s (clock-skew leeway); to make a short
expires_in real at the registry, exp is set to iat + expires_in - leeway_compensation (default 60).
Clients must treat tokens as opaque and use expires_in, as the spec says, so this is invisible to them.

Policy (--policy FILE, JSON; the default is below): first matching glob wins.
"""

import argparse
import base64
import fnmatch
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import rutil  # noqa: E402

DEFAULT_POLICY = {
    "anonymous": [["private/*", []], ["*", ["pull"]]],
    "users": {
        "testuser": {"password": "testpass", "access": [["*", ["pull", "push", "delete"]]], "catalog": True},
        "reader": {"password": "readerpass", "access": [["*", ["pull"]]]},
    },
    # identity tokens (docker config.json "identitytoken") -> user
    "refresh_tokens": {},
}

MAX_BODY = 64 * 1024
MAX_LOG = 10000


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + (".%09dZ" % int((t % 1) * 1e9))


def parse_scope(scope):
    """'repository:host:5000/name:pull,push' -> (type, name, [actions]); None when malformed."""
    first = scope.find(":")
    last = scope.rfind(":")
    if first <= 0 or last == first:
        return None
    rtype, name, actions = scope[:first], scope[first + 1 : last], scope[last + 1 :]
    if "(" in rtype:  # resource class, e.g. repository(plugin)
        rtype = rtype[: rtype.index("(")]
    return rtype, name, [a for a in actions.split(",") if a]


class TokenService:
    def __init__(self, service, issuer, key_path, chain_paths, sign_mode="x5c", policy=None,
                 expires_in=300, leeway_compensation=60):
        self.service = service
        self.issuer = issuer
        self.key = certs.RSAKey(key_path)
        self.sign_mode = sign_mode
        if sign_mode == "x5c":
            self.header = {"typ": "JWT", "alg": "RS256", "x5c": [certs.cert_der_b64(p) for p in chain_paths]}
        elif sign_mode == "kid":
            self.header = {"typ": "JWT", "alg": "RS256", "kid": certs.libtrust_key_id(chain_paths[0])}
        else:
            raise ValueError("sign mode must be x5c or kid")
        self.policy = json.loads(json.dumps(policy or DEFAULT_POLICY))
        self.lock = threading.Lock()
        self.settings = {
            "expires_in": expires_in, "response_style": "both", "omit_expires_in": False,
            "omit_issued_at": False, "fail_next": 0, "fail_status": 503, "delay": 0.0,
            "strict_service": True, "leeway_compensation": leeway_compensation,
        }
        self.log = []
        self.count = 0
        self.jti = 0

    # --- policy --------------------------------------------------------------------------------
    def check_password(self, user, password):
        u = self.policy["users"].get(user)
        return u is not None and u.get("password") == password

    def allowed(self, user, rtype, name):
        if rtype == "registry":
            if user and self.policy["users"].get(user, {}).get("catalog") and name == "catalog":
                return {"*"}
            return set()
        if rtype != "repository":
            return set()
        rules = self.policy["users"][user]["access"] if user else self.policy["anonymous"]
        for pattern, actions in rules:
            if fnmatch.fnmatchcase(name, pattern):
                return set(actions)
        return set()

    def grant(self, user, scopes):
        access = []
        for s in scopes:
            parsed = parse_scope(s)
            if parsed is None:
                continue
            rtype, name, actions = parsed
            ok = self.allowed(user, rtype, name)
            got = [a for a in actions if a in ok or "*" in ok]
            # Docker Hub answers with the subset it grants (possibly nothing) rather than an error.
            access.append({"type": rtype, "name": name, "actions": got})
        return access

    # --- tokens --------------------------------------------------------------------------------
    def make_token(self, user, access, service):
        with self.lock:
            self.jti += 1
            jti = "ociimg-test-%d-%d" % (os.getpid(), self.jti)
            expires_in = int(self.settings["expires_in"])
            comp = int(self.settings["leeway_compensation"])
        now = time.time()
        iat = int(now)
        claims = {"iss": self.issuer, "sub": user or "", "aud": service, "exp": iat + expires_in - comp,
                  "nbf": iat, "iat": iat, "jti": jti, "access": access}
        signing_input = (b64url(json.dumps(self.header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = self.key.sign_sha256(signing_input.encode())
        return signing_input + "." + b64url(sig), expires_in, now

    def new_refresh_token(self, user):
        tok = "ociimg-refresh-" + b64url(os.urandom(24))
        with self.lock:
            self.policy["refresh_tokens"][tok] = user
        return tok

    def record(self, entry):
        with self.lock:
            self.count += 1
            entry["seq"] = self.count
            if len(self.log) < MAX_LOG:
                self.log.append(entry)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ociimg-test-tokenserver/1"
    svc = None  # set by make_server

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("tokenserver: " + (fmt % args) + "\n")

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def basic_credentials(self):
        h = self.headers.get("Authorization", "")
        if not h.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(h[6:].strip()).decode().partition(":")
        except Exception:
            return ("", "")
        return user, password

    # --- control endpoints ---------------------------------------------------------------------
    def control(self, method):
        svc = self.svc
        if self.path == "/__token__/stats" and method == "GET":
            with svc.lock:
                return self.send_json(200, {"count": svc.count, "requests": list(svc.log)})
        if self.path == "/__token__/reset" and method == "POST":
            self.read_body()
            with svc.lock:
                svc.log.clear()
                svc.count = 0
            return self.send_json(200, {"ok": True})
        if self.path == "/__token__/config":
            if method == "POST":
                try:
                    upd = json.loads(self.read_body() or b"{}")
                    bad = [k for k in upd if k not in svc.settings]
                    if bad or not isinstance(upd, dict):
                        return self.send_json(400, {"error": "unknown settings %s" % bad})
                except ValueError as e:
                    return self.send_json(400, {"error": str(e)})
                with svc.lock:
                    svc.settings.update(upd)
            with svc.lock:
                return self.send_json(200, dict(svc.settings))
        if self.path == "/__token__/health":
            return self.send_json(200, {"ok": True})
        return self.send_json(404, {"error": "unknown control endpoint"})

    def do_GET(self):
        if self.path.startswith("/__token__/"):
            return self.control("GET")
        u = urllib.parse.urlsplit(self.path)
        if u.path != "/token":
            return self.send_json(404, {"details": "not found"})
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        self.token_request("GET", q, None)

    def do_POST(self):
        if self.path.startswith("/__token__/"):
            return self.control("POST")
        u = urllib.parse.urlsplit(self.path)
        if u.path != "/token":
            return self.send_json(404, {"details": "not found"})
        try:
            body = self.read_body().decode()
        except ValueError as e:
            self.close_connection = True
            return self.send_json(413, {"error": str(e)})
        form = urllib.parse.parse_qs(body, keep_blank_values=True)
        self.token_request("POST", form, form.get("grant_type", [""])[0])

    def token_request(self, method, params, grant_type):
        svc = self.svc
        one = lambda k: params.get(k, [""])[0]  # noqa: E731
        scopes = []
        for s in params.get("scope", []):
            scopes += [x for x in s.split(" ") if x]  # OAuth form: space-separated list
        entry = {"time": time.time(), "method": method, "path": urllib.parse.urlsplit(self.path).path,
                 "service": one("service") if "service" in params else None, "scopes": scopes,
                 "account": one("account") or None, "client_id": one("client_id") or None,
                 "grant_type": grant_type, "offline": one("offline_token") == "true" or one("access_type") == "offline",
                 "auth": "anonymous", "user": None}

        def done(status, obj):
            entry["status"] = status
            svc.record(entry)
            self.send_json(status, obj)

        with svc.lock:
            st = dict(svc.settings)
            if st["fail_next"] > 0:
                svc.settings["fail_next"] -= 1
                failing = True
            else:
                failing = False
        if st["delay"]:
            time.sleep(min(float(st["delay"]), 60.0))
        if failing:
            entry["injected_failure"] = True
            return done(int(st["fail_status"]), {"details": "injected failure"})

        service = one("service")
        if st["strict_service"] and service != svc.service:
            return done(400, {"details": "missing or unknown service %r" % service})
        if not service:
            service = svc.service

        user = None
        if method == "GET":
            creds = self.basic_credentials()
            if creds is not None:
                entry["auth"] = "basic"
                entry["user"] = creds[0]
                if not svc.check_password(*creds):
                    return done(401, {"details": "incorrect username or password"})
                user = creds[0]
        elif grant_type == "password":
            entry["auth"] = "password"
            entry["user"] = one("username")
            if not svc.check_password(one("username"), one("password")):
                return done(401, {"error": "invalid_grant", "details": "incorrect username or password"})
            user = one("username")
        elif grant_type == "refresh_token":
            entry["auth"] = "refresh_token"
            with svc.lock:
                user = svc.policy["refresh_tokens"].get(one("refresh_token"))
            if user is None:
                return done(400, {"error": "invalid_grant", "details": "unknown refresh token"})
            entry["user"] = user
        else:
            return done(400, {"error": "unsupported_grant_type"})

        access = svc.grant(user, scopes)
        entry["granted"] = access
        token, expires_in, now = svc.make_token(user, access, service)
        entry["expires_in"] = expires_in
        resp = {}
        style = st["response_style"]
        if method == "POST":
            resp["access_token"] = token
            resp["scope"] = " ".join(scopes)
        else:
            if style in ("both", "token"):
                resp["token"] = token
            if style in ("both", "access_token"):
                resp["access_token"] = token
        if not st["omit_expires_in"]:
            resp["expires_in"] = expires_in
        if not st["omit_issued_at"]:
            resp["issued_at"] = rfc3339(now)
        if user and entry["offline"] and grant_type != "refresh_token":
            resp["refresh_token"] = svc.new_refresh_token(user)
        elif grant_type == "refresh_token":
            resp["refresh_token"] = one("refresh_token")
        done(200, resp)

    def do_HEAD(self):
        self.send_json(405, {})


def make_server(svc, port=0, tls_cert=None, tls_key=None, verbose=False):
    handler = type("BoundHandler", (Handler,), {"svc": svc})
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    httpd.daemon_threads = True
    httpd.verbose = verbose
    scheme = "http"
    if tls_cert:
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_cert, tls_key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    httpd.url = "%s://127.0.0.1:%d" % (scheme, httpd.server_address[1])
    return httpd


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--service", default="ociimg-test-registry")
    ap.add_argument("--issuer", default="ociimg-test-issuer")
    ap.add_argument("--key", help="RSA signing key (PEM); with --chain. Omit both to generate into --work-dir")
    ap.add_argument("--chain", help="comma-separated certificate chain, leaf first (x5c) / the root (kid)")
    ap.add_argument("--work-dir", help="where to generate token-ca.crt (the registry's rootcertbundle) + keys")
    ap.add_argument("--sign-mode", choices=["x5c", "kid"], default="x5c")
    ap.add_argument("--policy", help="policy JSON file (default: built-in, see source)")
    ap.add_argument("--identity-token", action="append", default=[], metavar="USER=TOKEN",
                    help="register a refresh (identity) token for USER")
    ap.add_argument("--expires-in", type=int, default=300)
    ap.add_argument("--leeway-compensation", type=int, default=60)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--ready-file", help="write {url,port,rootcertbundle,pid} here once listening")
    ap.add_argument("--verbose", action="store_true")
    rutil.add_lifetime_args(ap)
    a = ap.parse_args(argv)

    bundle = None
    if a.key and a.chain:
        key, chain = a.key, a.chain.split(",")
        bundle = chain[-1]
    elif a.work_dir:
        os.makedirs(a.work_dir, exist_ok=True)
        ca_crt, ca_key = certs.make_ca(a.work_dir, "token-ca", cn="ociimg test token CA", kind="rsa")
        leaf_crt, leaf_key = certs.make_leaf(a.work_dir, "token-signer", ca_crt, ca_key, cn="ociimg token signer",
                                             usage="signing", kind="rsa")
        bundle = ca_crt
        key, chain = (leaf_key, [leaf_crt]) if a.sign_mode == "x5c" else (ca_key, [ca_crt])
    else:
        ap.error("give --key and --chain, or --work-dir")
    policy = DEFAULT_POLICY
    if a.policy:
        with open(a.policy) as f:
            policy = json.load(f)
    svc = TokenService(a.service, a.issuer, key, chain, a.sign_mode, policy, a.expires_in, a.leeway_compensation)
    for item in a.identity_token:
        user, _, tok = item.partition("=")
        svc.policy["refresh_tokens"][tok] = user
    httpd = make_server(svc, a.port, a.tls_cert, a.tls_key, a.verbose)
    rutil.start_lifetime_guard(a.max_lifetime, a.parent_pid or None, name="tokenserver")
    if a.ready_file:
        rutil.write_json_atomic(a.ready_file, {"url": httpd.url, "port": httpd.server_address[1],
                                               "token_url": httpd.url + "/token", "rootcertbundle": bundle,
                                               "service": a.service, "issuer": a.issuer, "pid": os.getpid()})
    else:
        print(json.dumps({"url": httpd.url, "token_url": httpd.url + "/token", "rootcertbundle": bundle}), flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
