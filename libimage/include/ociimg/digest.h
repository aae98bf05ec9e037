/* Content digests (image-spec descriptor.md "Digests").
 *
 * A digest string is `algorithm ":" encoded`.  oimg_digest_parse accepts
 * only the algorithms we can verify (sha256, sha512) with lowercase hex of
 * the exact length: only such a digest may ever become a path.  Documents
 * may carry other grammatically valid digests; oimg_digest_check_grammar
 * checks those without giving them a path. */
#ifndef OCIIMG_DIGEST_H
#define OCIIMG_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum oimg_digest_alg {
    OIMG_DIGEST_UNKNOWN = 0, /* grammatical, but not one we can verify */
    OIMG_DIGEST_SHA256,
    OIMG_DIGEST_SHA512,
};

/* Longest digest string we keep; longer ones are rejected as invalid. */
#define OIMG_DIGEST_MAX 256

struct oimg_digest {
    enum oimg_digest_alg alg;
    char str[OIMG_DIGEST_MAX + 1]; /* the whole "alg:encoded" string */
};

/* Strict: sha256/sha512 only, exact-length lowercase hex. */
int oimg_digest_parse(struct oimg_digest *out, const char *s, struct oci_error **err);
/* The descriptor grammar of the spec; on success alg may be UNKNOWN. */
int oimg_digest_parse_any(struct oimg_digest *out, const char *s, struct oci_error **err);

const char *oimg_digest_alg_name(enum oimg_digest_alg alg); /* "sha256" */
size_t oimg_digest_hex_len(enum oimg_digest_alg alg);       /* 64, 128; 0 for unknown */
/* The encoded (hex) part of a parsed digest. */
const char *oimg_digest_encoded(const struct oimg_digest *d);
bool oimg_digest_equal(const struct oimg_digest *a, const struct oimg_digest *b);
/* "blobs/sha256/<hex>" into buf; fails unless alg is known. */
int oimg_digest_blob_path(char *buf, size_t bufsz, const struct oimg_digest *d,
                          struct oci_error **err);

/* Streaming hasher (OpenSSL EVP). */
struct oimg_hasher;
int oimg_hasher_new(struct oimg_hasher **out, enum oimg_digest_alg alg, struct oci_error **err);
void oimg_hasher_update(struct oimg_hasher *h, const void *buf, size_t len);
/* Finishes; the hasher may not be updated afterwards. */
void oimg_hasher_final(struct oimg_hasher *h, struct oimg_digest *out);
void oimg_hasher_free(struct oimg_hasher *h);

int oimg_digest_buffer(struct oimg_digest *out, enum oimg_digest_alg alg, const void *buf,
                       size_t len, struct oci_error **err);
/* Hashes a whole fd from its current offset; *size_out gets the byte count. */
int oimg_digest_fd(struct oimg_digest *out, unsigned long long *size_out, enum oimg_digest_alg alg,
                   int fd, struct oci_error **err);

#endif
