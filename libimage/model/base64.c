/* Base64 for descriptors' "data" field.  Decoding is strict (RFC 4648
 * section 4, padding required, no whitespace, zero pad bits) so that one
 * embedded blob has exactly one spelling. */
#include <stdlib.h>
#include <string.h>

#include "model_private.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int mv_base64_decode(unsigned char **out, size_t *out_len, const char *s, size_t len)
{
    if (len % 4 != 0)
        return -OCI_ERR_INVALID;
    size_t pad = 0;
    if (len >= 4 && s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    size_t n = len / 4 * 3 - pad;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf)
        return -OCI_ERR_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int v[4];
        for (size_t j = 0; j < 4; j++) {
            char c = s[i + j];
            if (c == '=' && last && j >= 4 - pad) {
                v[j] = 0;
                continue;
            }
            v[j] = sextet(c);
            if (v[j] < 0) {
                free(buf);
                return -OCI_ERR_INVALID;
            }
        }
        unsigned long w = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
                          (unsigned long)v[2] << 6 | (unsigned long)v[3];
        /* Non-zero bits under the padding would let two strings decode to
         * the same bytes. */
        if (last && pad == 2 && (w & 0xffff))
            goto bad;
        if (last && pad == 1 && (w & 0xff))
            goto bad;
        size_t take = last ? 3 - pad : 3;
        unsigned char b[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8), (unsigned char)w};
        memcpy(buf + o, b, take);
        o += take;
    }
    *out = buf;
    *out_len = o;
    return 0;
bad:
    free(buf);
    return -OCI_ERR_INVALID;
}

char *mv_base64_encode(const unsigned char *buf, size_t len)
{
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    size_t n = (len + 2) / 3 * 4;
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned long w = (unsigned long)buf[i] << 16;
        if (i + 1 < len)
            w |= (unsigned long)buf[i + 1] << 8;
        if (i + 2 < len)
            w |= buf[i + 2];
        s[o++] = alphabet[(w >> 18) & 63];
        s[o++] = alphabet[(w >> 12) & 63];
        s[o++] = i + 1 < len ? alphabet[(w >> 6) & 63] : '=';
        s[o++] = i + 2 < len ? alphabet[w & 63] : '=';
    }
    s[o] = '\0';
    return s;
}
