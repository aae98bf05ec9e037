"""Test PKI made with the openssl CLI, plus the few crypto bits the token server needs in pure Python.

- make_ca / make_leaf: a CA and certificates it signs (server: SAN IP:127.0.0.1 + DNS:localhost;
  client: clientAuth) for the TLS variants and the docker certs.d layout.
- RSAKey: PKCS#1 v1.5 / SHA-256 signing (JWT RS256) from a key openssl generated; pow() on Python
  integers is fast enough for a handful of tokens and avoids one openssl process per token.
- libtrust_key_id: the key id format distribution 2.8 uses for the JWT `kid` header.
"""

import base64
import hashlib
import os
import subprocess

OPENSSL = "openssl"


def _run(args, cwd=None):
    p = subprocess.run([OPENSSL] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args[:2]), p.stderr.decode(errors="replace")))
    return p.stdout


def _newkey_args(kind):
    if kind == "rsa":
        return ["-newkey", "rsa:2048"]
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]


def make_ca(directory, name="ca", cn="ociimg test CA", kind="ec", days=30):
    """Write NAME.key and NAME.crt (self-signed CA) into directory; return (crt, key) paths."""
    key, crt = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".crt")
    _run(["req", "-x509", "-nodes"] + _newkey_args(kind) + [
        "-keyout", key, "-out", crt, "-days", str(days), "-subj", "/CN=" + cn,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"])
    return crt, key


def make_leaf(directory, name, ca_crt, ca_key, cn, usage="server", kind="ec", days=30, serial=None):
    """Write NAME.key and NAME.crt signed by the CA; usage is server, client or signing."""
    key, crt = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".crt")
    csr, ext = os.path.join(directory, name + ".csr"), os.path.join(directory, name + ".ext")
    _run(["req", "-new", "-nodes"] + _newkey_args(kind) + ["-keyout", key, "-out", csr, "-subj", "/CN=" + cn])
    lines = ["basicConstraints=CA:FALSE"]
    if usage == "server":
        lines += ["subjectAltName=IP:127.0.0.1,DNS:localhost", "extendedKeyUsage=serverAuth",
                  "keyUsage=critical,digitalSignature,keyEncipherment"]
    elif usage == "client":
        lines += ["extendedKeyUsage=clientAuth", "keyUsage=critical,digitalSignature"]
    else:
        lines += ["keyUsage=critical,digitalSignature"]
    with open(ext, "w") as f:
        f.write("\n".join(lines) + "\n")
    if serial is None:
        serial = int.from_bytes(os.urandom(8), "big")
    _run(["x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-set_serial", str(serial),
          "-days", str(days), "-out", crt, "-extfile", ext])
    os.unlink(csr)
    os.unlink(ext)
    return crt, key


def cert_der_b64(crt_path):
    """Standard base64 of the DER certificate, as JWS x5c wants it."""
    return base64.b64encode(_run(["x509", "-in", crt_path, "-outform", "DER"])).decode()


def _der_read(buf, pos):
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    if pos + length > len(buf):
        raise ValueError("truncated DER")
    return tag, buf[pos : pos + length], pos + length


class RSAKey:
    """An RSA private key loaded from PEM via `openssl rsa -traditional -outform DER` (PKCS#1)."""

    _SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")

    def __init__(self, pem_path):
        der = _run(["rsa", "-in", pem_path, "-traditional", "-outform", "DER"])
        tag, body, _ = _der_read(der, 0)
        if tag != 0x30:
            raise ValueError("not an RSAPrivateKey")
        ints, pos = [], 0
        while pos < len(body) and len(ints) < 9:
            tag, val, pos = _der_read(body, pos)
            if tag != 0x02:
                raise ValueError("unexpected DER tag in RSAPrivateKey")
            ints.append(int.from_bytes(val, "big"))
        _, self.n, self.e, self.d, self.p, self.q, self.dp, self.dq, self.qinv = ints
        self.size = (self.n.bit_length() + 7) // 8

    def sign_sha256(self, data):
        digest = hashlib.sha256(data).digest()
        t = self._SHA256_PREFIX + digest
        em = b"\x00\x01" + b"\xff" * (self.size - len(t) - 3) + b"\x00" + t
        m = int.from_bytes(em, "big")
        # CRT: about 3x faster than pow(m, d, n)
        m1, m2 = pow(m, self.dp, self.p), pow(m, self.dq, self.q)
        h = (self.qinv * (m1 - m2)) % self.p
        return (m2 + h * self.q).to_bytes(self.size, "big")


def libtrust_key_id(crt_or_key_path, is_cert=True):
    """Key id as docker/libtrust computes it: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits,
    base32 without padding, in ':'-separated groups of four."""
    if is_cert:
        pub_pem = _run(["x509", "-in", crt_or_key_path, "-noout", "-pubkey"])
        spki = subprocess.run([OPENSSL, "pkey", "-pubin", "-outform", "DER"], input=pub_pem,
                              stdout=subprocess.PIPE, check=True, timeout=60).stdout
    else:
        spki = _run(["pkey", "-in", crt_or_key_path, "-pubout", "-outform", "DER"])
    b32 = base64.b32encode(hashlib.sha256(spki).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))
