"""Minimal registry HTTP API client for seeding and for test assertions (push and fetch, no skopeo).

Handles the auth the harness variants use: Basic (htpasswd) and Bearer (token server, anonymous or with
Basic credentials), TLS with a private CA and an optional client certificate. Not a model for the real
client: no retries, no streaming, whole blobs in memory (test images are small).
"""

import base64
import hashlib
import http.client
import json
import re
import ssl
import urllib.parse

CHUNKED_UPLOAD_MIN = 4 * 1024 * 1024
CHUNK_SIZE = 2 * 1024 * 1024
MAX_REDIRECTS = 5


class RegistryError(Exception):
    pass


def parse_www_authenticate(value):
    """Enough of RFC 7235 for distribution's own challenges: [(scheme, {param: value})]."""
    out = []
    pos = 0
    token = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
    while pos < len(value):
        m = re.compile(r"\s*,?\s*(" + token + r")\s*").match(value, pos)
        if not m or m.end() == pos:
            break
        scheme, pos = m.group(1).lower(), m.end()
        params = {}
        while pos < len(value):
            pm = re.compile(r"\s*,?\s*(" + token + r")\s*=\s*").match(value, pos)
            if not pm:
                break
            name, pos = pm.group(1).lower(), pm.end()
            if pos < len(value) and value[pos] == '"':
                pos += 1
                buf = []
                while pos < len(value) and value[pos] != '"':
                    if value[pos] == "\\" and pos + 1 < len(value):
                        pos += 1
                    buf.append(value[pos])
                    pos += 1
                pos += 1
                params[name] = "".join(buf)
            else:
                vm = re.compile(token).match(value, pos)
                params[name] = vm.group(0) if vm else ""
                pos = vm.end() if vm else pos
        out.append((scheme, params))
    return out


class Client:
    def __init__(self, base_url, cafile=None, username=None, password=None, client_cert=None, client_key=None,
                 timeout=60):
        self.base = base_url.rstrip("/")
        u = urllib.parse.urlsplit(self.base)
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port or (443 if u.scheme == "https" else 80)
        self.cafile = cafile
        self.client_cert, self.client_key = client_cert, client_key
        self.username, self.password = username, password
        self.timeout = timeout
        self.tokens = {}  # scope string -> bearer token
        self.basic = False

    # --- transport --------------------------------------------------------------------------------
    def _conn(self, scheme, host, port):
        if scheme == "https":
            ctx = ssl.create_default_context(cafile=self.cafile) if self.cafile else ssl.create_default_context()
            if self.client_cert:
                ctx.load_cert_chain(self.client_cert, self.client_key)
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=ctx)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def raw(self, method, url, body=None, headers=None):
        u = urllib.parse.urlsplit(url)
        port = u.port or (443 if u.scheme == "https" else 80)
        c = self._conn(u.scheme, u.hostname, port)
        try:
            path = u.path + ("?" + u.query if u.query else "")
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def _auth_header(self, scope):
        if self.basic and self.username is not None:
            return "Basic " + base64.b64encode(("%s:%s" % (self.username, self.password)).encode()).decode()
        tok = self.tokens.get(scope)
        return "Bearer " + tok if tok else None

    def fetch_token(self, realm, service, scope):
        q = {"service": service} if service else {}
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(q)
        if scope:
            url += "&scope=" + urllib.parse.quote(scope, safe=":/,")
        h = {}
        if self.username is not None:
            h["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % (self.username, self.password)).encode()).decode()
        st, _, body = self.raw("GET", url, headers=h)
        if st != 200:
            raise RegistryError("token request to %s failed: %d %s" % (realm, st, body[:200]))
        j = json.loads(body)
        return j.get("token") or j.get("access_token")

    def request(self, method, path_or_url, body=None, headers=None, scope=None, follow=True):
        """Request with auth challenges answered once and redirects followed (auth only to our host)."""
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        headers = dict(headers or {})
        for attempt in range(2):
            h = dict(headers)
            same = urllib.parse.urlsplit(url)[:2] == urllib.parse.urlsplit(self.base)[:2]
            auth = self._auth_header(scope) if same else None
            if auth:
                h["Authorization"] = auth
            st, rh, data = self.raw(method, url, body, h)
            if st == 401 and attempt == 0 and same:
                ch = parse_www_authenticate(rh.get("www-authenticate", ""))
                if not ch:
                    break
                scheme, params = ch[0]
                if scheme == "basic":
                    if self.username is None:
                        break
                    self.basic = True
                elif scheme == "bearer":
                    self.tokens[scope] = self.fetch_token(params.get("realm"), params.get("service"),
                                                          params.get("scope") or scope)
                continue
            break
        hops = 0
        while follow and st in (301, 302, 303, 307, 308) and method in ("GET", "HEAD") and hops < MAX_REDIRECTS:
            url = urllib.parse.urljoin(url, rh["location"])
            st, rh, data = self.raw(method, url, None, {k: v for k, v in headers.items()})
            hops += 1
        return st, rh, data

    # --- registry operations ---------------------------------------------------------------------------
    def ping(self):
        return self.request("GET", "/v2/")[0]

    def blob_exists(self, repo, digest):
        st, _, _ = self.request("HEAD", "/v2/%s/blobs/%s" % (repo, digest), scope="repository:%s:pull,push" % repo)
        return st == 200

    def push_blob(self, repo, data, digest=None, chunked=None):
        digest = digest or "sha256:" + hashlib.sha256(data).hexdigest()
        scope = "repository:%s:pull,push" % repo
        if self.blob_exists(repo, digest):
            return digest, False
        st, rh, body = self.request("POST", "/v2/%s/blobs/uploads/" % repo, b"", {"Content-Length": "0"}, scope)
        if st != 202:
            raise RegistryError("start upload to %s: %d %s" % (repo, st, body[:300]))
        loc = urllib.parse.urljoin(self.base + "/", rh["location"])
        if chunked is None:
            chunked = len(data) >= CHUNKED_UPLOAD_MIN
        if chunked:
            for off in range(0, len(data), CHUNK_SIZE):
                piece = data[off : off + CHUNK_SIZE]
                st, rh, body = self.request("PATCH", loc, piece, {
                    "Content-Type": "application/octet-stream", "Content-Length": str(len(piece)),
                    "Content-Range": "%d-%d" % (off, off + len(piece) - 1)}, scope)
                if st != 202:
                    raise RegistryError("upload chunk to %s: %d %s" % (repo, st, body[:300]))
                loc = urllib.parse.urljoin(loc, rh["location"])
            final = b""
        else:
            final = data
        sep = "&" if "?" in loc else "?"
        st, rh, body = self.request("PUT", loc + sep + "digest=" + urllib.parse.quote(digest), final, {
            "Content-Type": "application/octet-stream", "Content-Length": str(len(final))}, scope)
        if st != 201:
            raise RegistryError("finish upload to %s: %d %s" % (repo, st, body[:300]))
        return digest, True

    def put_manifest(self, repo, ref, media_type, data):
        st, rh, body = self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), data, {
            "Content-Type": media_type, "Content-Length": str(len(data))}, "repository:%s:pull,push" % repo)
        if st != 201:
            raise RegistryError("put manifest %s:%s: %d %s" % (repo, ref, st, body[:500]))
        return rh.get("docker-content-digest")

    def get_manifest(self, repo, ref, accept=None):
        accept = accept or ", ".join([
            "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json"])
        return self.request("GET", "/v2/%s/manifests/%s" % (repo, ref), headers={"Accept": accept},
                            scope="repository:%s:pull" % repo)

    def get_blob(self, repo, digest):
        return self.request("GET", "/v2/%s/blobs/%s" % (repo, digest), scope="repository:%s:pull" % repo)
