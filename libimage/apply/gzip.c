/* One gzip member at a time, inflated by ISA-L's igzip when the build found
 * it (2-3x faster than zlib, which makes inflate stop being the bottleneck
 * of an unpack) or by zlib.  Both check the header, the CRC-32 and ISIZE of
 * every member; stream.c owns the input and the rules between members.
 *
 * OCIIMG_INFLATE=zlib selects zlib even when ISA-L is built in, so the tests
 * can run one corpus through both. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#ifdef OCIIMG_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include "apply_private.h"

/* Reserved FLG bits of the gzip header (RFC 1952 2.3.1): zlib refuses them,
 * and so do we with ISA-L, which would ignore them. */
#define GZ_FLG_RESERVED 0xe0

struct gz_dec {
    bool isal;
    z_stream z;
    bool z_live;
#ifdef OCIIMG_HAVE_ISAL
    bool hdr_done;
    struct isal_gzip_header hdr;
    struct inflate_state st; /* large (~100 KiB): keep it last */
#endif
};

static bool isal_wanted(void)
{
#ifdef OCIIMG_HAVE_ISAL
    const char *v = getenv("OCIIMG_INFLATE");
    return !(v && strcmp(v, "zlib") == 0);
#else
    return false;
#endif
}

int gz_dec_new(struct gz_dec **out, struct oci_error **err)
{
    struct gz_dec *g = calloc(1, sizeof(*g));
    if (!g)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    g->isal = isal_wanted();
#ifdef OCIIMG_HAVE_ISAL
    if (g->isal) {
        isal_inflate_init(&g->st);
        g->st.crc_flag = ISAL_GZIP;
        isal_gzip_header_init(&g->hdr);
        *out = g;
        return 0;
    }
#endif
    if (inflateInit2(&g->z, 15 + 16) != Z_OK) {
        free(g);
        return oci_error_set(err, OCI_ERR_NOMEM, "inflateInit failed");
    }
    g->z_live = true;
    *out = g;
    return 0;
}

void gz_dec_free(struct gz_dec *g)
{
    if (!g)
        return;
    if (g->z_live)
        inflateEnd(&g->z);
    free(g);
}

int gz_dec_reset(struct gz_dec *g, struct oci_error **err)
{
#ifdef OCIIMG_HAVE_ISAL
    if (g->isal) {
        isal_inflate_reset(&g->st);
        g->st.crc_flag = ISAL_GZIP;
        g->hdr_done = false;
        isal_gzip_header_init(&g->hdr);
        return 0;
    }
#endif
    if (inflateReset(&g->z) != Z_OK)
        return oci_error_set(err, OCI_ERR_INTERNAL, "gzip layer: inflateReset failed");
    return 0;
}

#ifdef OCIIMG_HAVE_ISAL
/* zlib's words for the same failures, so messages do not depend on the
 * engine. */
static const char *isal_msg(int r)
{
    switch (r) {
    case ISAL_INVALID_BLOCK:
        return "invalid block type or lengths";
    case ISAL_INVALID_SYMBOL:
        return "invalid code";
    case ISAL_INVALID_LOOKBACK:
        return "invalid distance too far back";
    case ISAL_INVALID_WRAPPER:
        return "incorrect header check";
    case ISAL_UNSUPPORTED_METHOD:
        return "unknown compression method";
    case ISAL_INCORRECT_CHECKSUM:
        return "incorrect data or header check";
    default:
        return "corrupt data";
    }
}

static int run_isal(struct gz_dec *g, const uint8_t **in, size_t *in_len, uint8_t **out,
                    size_t *out_len, struct oci_error **err)
{
    /* The callers' buffers are far below 4 GiB; clamp anyway. */
    uint32_t il = *in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)*in_len;
    uint32_t ol = *out_len > UINT32_MAX ? UINT32_MAX : (uint32_t)*out_len;
    g->st.next_in = (uint8_t *)*in;
    g->st.avail_in = il;
    g->st.next_out = *out;
    g->st.avail_out = ol;
    int r = ISAL_DECOMP_OK;
    if (!g->hdr_done) {
        /* The header is parsed apart from the data so its flags can be
         * checked; it may arrive in pieces (ISAL_END_INPUT). */
        r = isal_read_gzip_header(&g->st, &g->hdr);
        if (r == ISAL_DECOMP_OK) {
            g->hdr_done = true;
            if (g->hdr.flags & GZ_FLG_RESERVED)
                return oci_error_set(err, OCI_ERR_INVALID, "gzip layer: unknown header flags set");
        }
    }
    if (r == ISAL_DECOMP_OK && g->hdr_done)
        r = isal_inflate(&g->st);
    *in += il - g->st.avail_in;
    *in_len -= il - g->st.avail_in;
    *out += ol - g->st.avail_out;
    *out_len -= ol - g->st.avail_out;
    if (r == ISAL_END_INPUT)
        return 0;
    if (r != ISAL_DECOMP_OK)
        return oci_error_set(err, OCI_ERR_INVALID, "gzip layer: %s", isal_msg(r));
    return g->st.block_state == ISAL_BLOCK_FINISH ? 1 : 0;
}
#endif

int gz_dec_run(struct gz_dec *g, const uint8_t **in, size_t *in_len, uint8_t **out, size_t *out_len,
               struct oci_error **err)
{
#ifdef OCIIMG_HAVE_ISAL
    if (g->isal)
        return run_isal(g, in, in_len, out, out_len, err);
#endif
    uInt il = *in_len > UINT32_MAX ? UINT32_MAX : (uInt)*in_len;
    uInt ol = *out_len > UINT32_MAX ? UINT32_MAX : (uInt)*out_len;
    g->z.next_in = (Bytef *)*in;
    g->z.avail_in = il;
    g->z.next_out = *out;
    g->z.avail_out = ol;
    int zr = inflate(&g->z, Z_NO_FLUSH);
    *in += il - g->z.avail_in;
    *in_len -= il - g->z.avail_in;
    *out += ol - g->z.avail_out;
    *out_len -= ol - g->z.avail_out;
    if (zr == Z_STREAM_END)
        return 1;
    if (zr == Z_OK || zr == Z_BUF_ERROR)
        return 0;
    return oci_error_set(err, OCI_ERR_INVALID, "gzip layer: %s",
                         g->z.msg ? g->z.msg : "corrupt data");
}
