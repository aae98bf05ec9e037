/* Digest parsing and hashing.  The strict parser is the gate between an
 * untrusted string and a blob path, so it accepts only what we can verify and
 * what is safe as a file name: a known algorithm and lowercase hex of the
 * exact length. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <ociimg/cleanup.h>
#include <ociimg/digest.h>

#include "base_private.h"

/* How much of a bad digest an error message repeats. */
#define QUOTE_MAX 80
/* Hashing buffer for oimg_digest_fd. */
#define FD_CHUNK (256u * 1024)

struct alg_info {
    enum oimg_digest_alg alg;
    const char *name;
    size_t hex_len;
};

static const struct alg_info algs[] = {
    {OIMG_DIGEST_SHA256, "sha256", 64},
    {OIMG_DIGEST_SHA512, "sha512", 128},
};

static const struct alg_info *alg_by_id(enum oimg_digest_alg alg)
{
    for (size_t i = 0; i < OCI_ARRAY_SIZE(algs); i++)
        if (algs[i].alg == alg)
            return &algs[i];
    return NULL;
}

static const struct alg_info *alg_by_name(const char *name, size_t len)
{
    for (size_t i = 0; i < OCI_ARRAY_SIZE(algs); i++)
        if (strlen(algs[i].name) == len && memcmp(algs[i].name, name, len) == 0)
            return &algs[i];
    return NULL;
}

const char *oimg_digest_alg_name(enum oimg_digest_alg alg)
{
    const struct alg_info *a = alg_by_id(alg);
    return a ? a->name : "unknown";
}

size_t oimg_digest_hex_len(enum oimg_digest_alg alg)
{
    const struct alg_info *a = alg_by_id(alg);
    return a ? a->hex_len : 0;
}

static void quote(char *dst, size_t dstsz, const char *s)
{
    oci_quote(dst, dstsz, s, SIZE_MAX, QUOTE_MAX);
}

/* Large enough for QUOTE_MAX escaped characters plus quotes and ellipsis. */
#define QUOTE_BUF (QUOTE_MAX * 4 + 16)

static int bad(struct oci_error **err, const char *s, const char *why)
{
    char q[QUOTE_BUF];
    quote(q, sizeof(q), s);
    return oci_error_set(err, OCI_ERR_INVALID, "invalid digest %s: %s", q, why);
}

static bool is_lower_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Checks the encoded part against a registered algorithm's rule. */
static int check_registered(const struct alg_info *a, const char *s, const char *enc,
                            struct oci_error **err)
{
    size_t len = strlen(enc);
    if (len != a->hex_len || !is_lower_hex(enc, len)) {
        char why[96];
        snprintf(why, sizeof(why), "%s encoded part must be %zu lowercase hex characters", a->name,
                 a->hex_len);
        return bad(err, s, why);
    }
    return 0;
}

static void fill(struct oimg_digest *out, enum oimg_digest_alg alg, const char *s)
{
    out->alg = alg;
    size_t n = strlen(s);
    memcpy(out->str, s, n + 1);
}

int oimg_digest_parse(struct oimg_digest *out, const char *s, struct oci_error **err)
{
    if (!s || !*s)
        return bad(err, s, "empty");
    size_t n = strnlen(s, OIMG_DIGEST_MAX + 1);
    if (n > OIMG_DIGEST_MAX)
        return bad(err, s, "too long");
    const char *colon = strchr(s, ':');
    if (!colon)
        return bad(err, s, "missing ':' between algorithm and encoded part");
    const struct alg_info *a = alg_by_name(s, (size_t)(colon - s));
    if (!a)
        return bad(err, s, "unknown algorithm (supported: sha256, sha512)");
    int r = check_registered(a, s, colon + 1, err);
    if (r < 0)
        return r;
    fill(out, a->alg, s);
    return 0;
}

static bool is_component_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_separator(char c)
{
    return c == '+' || c == '.' || c == '_' || c == '-';
}

static bool is_encoded_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '=' ||
           c == '_' || c == '-';
}

int oimg_digest_parse_any(struct oimg_digest *out, const char *s, struct oci_error **err)
{
    if (!s || !*s)
        return bad(err, s, "empty");
    size_t n = strnlen(s, OIMG_DIGEST_MAX + 1);
    if (n > OIMG_DIGEST_MAX)
        return bad(err, s, "too long");

    /* algorithm := component (separator component)*; component := [a-z0-9]+ */
    size_t i = 0;
    bool need_component = true;
    for (; s[i] && s[i] != ':'; i++) {
        if (is_component_char(s[i])) {
            need_component = false;
        } else if (is_separator(s[i]) && !need_component) {
            need_component = true;
        } else {
            return bad(err, s,
                       "algorithm must be lowercase alphanumeric components joined by + . _ -");
        }
    }
    if (s[i] != ':')
        return bad(err, s, "missing ':' between algorithm and encoded part");
    if (need_component)
        return bad(err, s, i == 0 ? "empty algorithm" : "algorithm must not end with a separator");
    const char *enc = s + i + 1;
    if (!*enc)
        return bad(err, s, "empty encoded part");
    for (const char *p = enc; *p; p++)
        if (!is_encoded_char(*p))
            return bad(err, s, "encoded part may contain only [a-zA-Z0-9=_-]");

    const struct alg_info *a = alg_by_name(s, i);
    if (a) {
        int r = check_registered(a, s, enc, err);
        if (r < 0)
            return r;
    }
    fill(out, a ? a->alg : OIMG_DIGEST_UNKNOWN, s);
    return 0;
}

const char *oimg_digest_encoded(const struct oimg_digest *d)
{
    const char *c = strchr(d->str, ':');
    return c ? c + 1 : "";
}

bool oimg_digest_equal(const struct oimg_digest *a, const struct oimg_digest *b)
{
    return a->alg == b->alg && strcmp(a->str, b->str) == 0;
}

int oimg_digest_blob_path(char *buf, size_t bufsz, const struct oimg_digest *d,
                          struct oci_error **err)
{
    /* Re-validate: the struct may have been filled by hand or by parse_any,
     * and this is where a string becomes a path. */
    struct oimg_digest chk;
    char tmp[OIMG_DIGEST_MAX + 1];
    snprintf(tmp, sizeof(tmp), "%.*s", OIMG_DIGEST_MAX, d->str);
    int r = oimg_digest_parse(&chk, tmp, err);
    if (r < 0)
        return r;
    int n = snprintf(buf, bufsz, "blobs/%s/%s", oimg_digest_alg_name(chk.alg),
                     oimg_digest_encoded(&chk));
    if (n < 0 || (size_t)n >= bufsz)
        return oci_error_set(err, OCI_ERR_INTERNAL, "blob path buffer too small (%zu bytes)",
                             bufsz);
    return 0;
}

struct oimg_hasher {
    EVP_MD_CTX *ctx;
    enum oimg_digest_alg alg;
    bool finished;
};

static const EVP_MD *evp_md(enum oimg_digest_alg alg)
{
    switch (alg) {
    case OIMG_DIGEST_SHA256:
        return EVP_sha256();
    case OIMG_DIGEST_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

int oimg_hasher_new(struct oimg_hasher **out, enum oimg_digest_alg alg, struct oci_error **err)
{
    const EVP_MD *md = evp_md(alg);
    if (!md)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED, "cannot hash with digest algorithm %d",
                             (int)alg);
    struct oimg_hasher *h = calloc(1, sizeof(*h));
    if (!h)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    h->alg = alg;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
        oimg_hasher_free(h);
        return oci_error_set(err, OCI_ERR_INTERNAL, "initialise %s hasher",
                             oimg_digest_alg_name(alg));
    }
    *out = h;
    return 0;
}

void oimg_hasher_update(struct oimg_hasher *h, const void *buf, size_t len)
{
    /* EVP_DigestUpdate cannot fail for in-process software digests; a use
     * after final is a caller bug that we make harmless. */
    if (h->finished || len == 0)
        return;
    EVP_DigestUpdate(h->ctx, buf, len);
}

void oimg_hasher_final(struct oimg_hasher *h, struct oimg_digest *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    memset(out, 0, sizeof(*out));
    if (h->finished || EVP_DigestFinal_ex(h->ctx, md, &mdlen) != 1)
        mdlen = 0;
    h->finished = true;

    const char *name = oimg_digest_alg_name(h->alg);
    size_t o = strlen(name);
    memcpy(out->str, name, o);
    out->str[o++] = ':';
    for (unsigned int i = 0; i < mdlen && o + 2 <= OIMG_DIGEST_MAX; i++) {
        out->str[o++] = hex[md[i] >> 4];
        out->str[o++] = hex[md[i] & 0xf];
    }
    out->str[o] = '\0';
    out->alg = mdlen ? h->alg : OIMG_DIGEST_UNKNOWN;
}

void oimg_hasher_free(struct oimg_hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

OCI_DEFINE_CLEANUP(struct oimg_hasher *, oimg_hasher_free)

int oimg_digest_buffer(struct oimg_digest *out, enum oimg_digest_alg alg, const void *buf,
                       size_t len, struct oci_error **err)
{
    _cleanup_(oimg_hasher_freep) struct oimg_hasher *h = NULL;
    int r = oimg_hasher_new(&h, alg, err);
    if (r < 0)
        return r;
    oimg_hasher_update(h, buf, len);
    oimg_hasher_final(h, out);
    return 0;
}

int oimg_digest_fd(struct oimg_digest *out, unsigned long long *size_out, enum oimg_digest_alg alg,
                   int fd, struct oci_error **err)
{
    _cleanup_(oimg_hasher_freep) struct oimg_hasher *h = NULL;
    int r = oimg_hasher_new(&h, alg, err);
    if (r < 0)
        return r;
    _cleanup_free_ unsigned char *buf = malloc(FD_CHUNK);
    if (!buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");

    unsigned long long total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, FD_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return oci_error_setsys(err, oimg_errno_code(errno), errno, "read for hashing");
        }
        if (n == 0)
            break;
        oimg_hasher_update(h, buf, (size_t)n);
        total += (unsigned long long)n;
    }
    struct oimg_digest d;
    oimg_hasher_final(h, &d);
    *out = d;
    if (size_out)
        *size_out = total;
    return 0;
}
