/* RFC 4648 base64 (standard alphabet), shared by the content model
 * (descriptors' "data") and the registry client (config.json "auth"). */
#ifndef OCIIMG_BASE64_H
#define OCIIMG_BASE64_H

#include <stddef.h>

enum {
    /* Padding optional (but, if present, it must complete the last
     * quantum) and non-zero bits under the padding tolerated, as Go's
     * decoder, and so docker, accepts in config.json. */
    OIMG_BASE64_LENIENT = 1 << 0,
};

/* A malloc'd, NUL-terminated, padded encoding; NULL when out of memory. */
char *oimg_base64_encode(const void *buf, size_t len);

/* Decodes s[0..len).  Without OIMG_BASE64_LENIENT the input must be
 * canonical (padded, zero pad bits, no whitespace) so that one byte string
 * has exactly one spelling.  *out is malloc'd and NUL-terminated (so text
 * can be used as a string; *out_len excludes the NUL).  Returns 0,
 * -OCI_ERR_INVALID or -OCI_ERR_NOMEM; on failure the partly decoded buffer
 * is wiped (it may hold secrets) and *out is untouched. */
int oimg_base64_decode(unsigned char **out, size_t *out_len, const char *s, size_t len,
                       unsigned flags);

#endif
