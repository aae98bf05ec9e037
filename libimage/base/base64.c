/* RFC 4648 base64, strict for documents and lenient for credentials files
 * (see base64.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/base64.h>
#include <ociimg/error.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *oimg_base64_encode(const void *buf, size_t len)
{
    const unsigned char *in = buf;
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
        *o++ = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        *o++ = alphabet[v >> 18 & 63];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = (char)(i + 1 < len ? alphabet[v >> 6 & 63] : '=');
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

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

static void wipe_free(unsigned char *p, size_t n)
{
    explicit_bzero(p, n);
    free(p);
}

int oimg_base64_decode(unsigned char **out, size_t *out_len, const char *s, size_t len,
                       unsigned flags)
{
    bool lenient = flags & OIMG_BASE64_LENIENT;
    size_t pad = 0;
    while (len > 0 && s[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    /* Data length mod 4 is 0, 2 or 3; padding, when present (always when
     * strict), completes the last quantum. */
    if (len % 4 == 1 || ((pad || !lenient) && (len + pad) % 4 != 0))
        return -OCI_ERR_INVALID;
    if (len > SIZE_MAX / 3)
        return -OCI_ERR_NOMEM;
    size_t cap = len / 4 * 3 + 3;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return -OCI_ERR_NOMEM;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = sextet(s[i]);
        if (v < 0) {
            wipe_free(buf, cap);
            return -OCI_ERR_INVALID;
        }
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    /* Non-zero leftover bits would give one byte string two spellings. */
    if (!lenient && bits > 0 && (acc & ((1u << bits) - 1))) {
        wipe_free(buf, cap);
        return -OCI_ERR_INVALID;
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return 0;
}
