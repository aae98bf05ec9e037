"""Pure-Python bcrypt ($2y$), enough to write an htpasswd file for distribution's htpasswd auth.

Python's stdlib has no bcrypt and the registry only accepts bcrypt entries, so rather than depend on
apache2-utils' `htpasswd -B` the tests hash here. Slow (about 0.1 s per hash at cost 4) but only a
handful of hashes are ever made. Test code only: not constant-time, not for real secrets.

Blowfish's initial state is the fractional part of pi in hex; it is computed once with Machin's
formula on Python integers instead of carrying a 1042-word table.
"""

import os

_PI_WORDS = 18 + 4 * 256
_B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_MAGIC = b"OrpheanBeholderScryDoubt"
_M32 = 0xFFFFFFFF
_init_state = None


def _atan_inv(x, one):
    # arctan(1/x) * one by its Taylor series; every term shrinks by x^2, so the loop ends.
    total = term = one // x
    x2, n, sign = x * x, 1, 1
    while term:
        term //= x2
        n += 2
        sign = -sign
        total += sign * (term // n)
    return total


def _pi_state():
    global _init_state
    if _init_state is None:
        bits = 32 * _PI_WORDS + 64  # guard bits so the last word is exact
        one = 1 << bits
        pi = 16 * _atan_inv(5, one) - 4 * _atan_inv(239, one)
        frac = (pi - 3 * one) >> 64  # drop the guard bits
        words = []
        for i in range(_PI_WORDS):
            words.append((frac >> (32 * (_PI_WORDS - 1 - i))) & _M32)
        _init_state = words
    return _init_state


class _Blowfish:
    def __init__(self):
        w = _pi_state()
        self.p = list(w[:18])
        self.s = [list(w[18 + 256 * i : 18 + 256 * (i + 1)]) for i in range(4)]

    def encrypt(self, l, r):
        p, s0, s1, s2, s3 = self.p, self.s[0], self.s[1], self.s[2], self.s[3]
        for i in range(0, 16, 2):
            l ^= p[i]
            r ^= ((((s0[l >> 24] + s1[(l >> 16) & 0xFF]) & _M32) ^ s2[(l >> 8) & 0xFF]) + s3[l & 0xFF]) & _M32
            r ^= p[i + 1]
            l ^= ((((s0[r >> 24] + s1[(r >> 16) & 0xFF]) & _M32) ^ s2[(r >> 8) & 0xFF]) + s3[r & 0xFF]) & _M32
        return r ^ p[17], l ^ p[16]

    def expand(self, data, key):
        kpos = 0
        for i in range(18):
            word = 0
            for _ in range(4):
                word = (word << 8) | key[kpos]
                kpos = (kpos + 1) % len(key)
            self.p[i] ^= word
        dpos = 0

        def next_word():
            nonlocal dpos
            word = 0
            for _ in range(4):
                word = (word << 8) | data[dpos]
                dpos = (dpos + 1) % len(data)
            return word

        l = r = 0
        targets = [(self.p, 18)] + [(box, 256) for box in self.s]
        for arr, n in targets:
            for i in range(0, n, 2):
                if data:
                    l ^= next_word()
                    r ^= next_word()
                l, r = self.encrypt(l, r)
                arr[i], arr[i + 1] = l, r


def _b64encode(data):
    out, i = [], 0
    while i < len(data):
        c1 = data[i]
        i += 1
        out.append(_B64[c1 >> 2])
        c1 = (c1 & 0x03) << 4
        if i >= len(data):
            out.append(_B64[c1])
            break
        c2 = data[i]
        i += 1
        out.append(_B64[c1 | (c2 >> 4)])
        c1 = (c2 & 0x0F) << 2
        if i >= len(data):
            out.append(_B64[c1])
            break
        c2 = data[i]
        i += 1
        out.append(_B64[c1 | (c2 >> 6)])
        out.append(_B64[c2 & 0x3F])
    return "".join(out)


def _b64decode(text, nbytes):
    bits, nbits, out = 0, 0, bytearray()
    for ch in text:
        bits = (bits << 6) | _B64.index(ch)
        nbits += 6
        if nbits >= 8:
            nbits -= 8
            out.append((bits >> nbits) & 0xFF)
    return bytes(out[:nbytes])


def _raw(password, salt, cost):
    key = password[:72] + b"\0" if len(password) < 72 else password[:72]
    bf = _Blowfish()
    bf.expand(salt, key)
    for _ in range(1 << cost):
        bf.expand(b"", key)
        bf.expand(b"", salt)
    words = [int.from_bytes(_MAGIC[i : i + 4], "big") for i in range(0, 24, 4)]
    for _ in range(64):
        for j in range(0, 6, 2):
            words[j], words[j + 1] = bf.encrypt(words[j], words[j + 1])
    return b"".join(w.to_bytes(4, "big") for w in words)[:23]


def hashpw(password, cost=4, salt=None, prefix="2y"):
    """Return a modular-crypt bcrypt string for password (str or bytes)."""
    if isinstance(password, str):
        password = password.encode()
    if not 4 <= cost <= 16:
        raise ValueError("bcrypt cost out of range (4..16 here)")
    if salt is None:
        salt = os.urandom(16)
    enc_salt = _b64encode(salt)[:22]
    salt = _b64decode(enc_salt, 16)
    return "$%s$%02d$%s%s" % (prefix, cost, enc_salt, _b64encode(_raw(password, salt, cost)))


def checkpw(password, hashed):
    parts = hashed.split("$")
    if len(parts) != 4 or len(parts[3]) != 53:
        return False
    cost, enc_salt = int(parts[2]), parts[3][:22]
    if isinstance(password, str):
        password = password.encode()
    salt = _b64decode(enc_salt, 16)
    return hashed == "$%s$%02d$%s%s" % (parts[1], cost, enc_salt, _b64encode(_raw(password, salt, cost)))


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: pybcrypt.py PASSWORD   (prints a $2y$04$ hash)")
    print(hashpw(sys.argv[1]))
