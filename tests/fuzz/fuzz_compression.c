/* Compression detection: the layer stream's magic check and decompression
 * (first byte: expected compression, or detect), and media type parsing on
 * the same bytes as a string. */
#include <ociimg/apply.h>
#include <ociimg/model.h>

#include "apply/apply_private.h"
#include "fuzz_common.h"

struct mem_reader {
    const uint8_t *p;
    size_t left;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len, struct oci_error **err)
{
    struct mem_reader *m = ctx;
    /* Short reads find the places that assume a whole magic per read. */
    if (len > 7)
        len = 7;
    if (len > m->left)
        len = m->left;
    memcpy(buf, m->p, len);
    m->p += len;
    m->left -= len;
    return (ssize_t)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int compression = (int)(data[0] % 4) - 1; /* -1 detect, 0 tar, 1 gzip, 2 zstd */

    struct oci_error *err = NULL;
    struct mem_reader m = {data + 1, size - 1};
    struct oimg_reader r = {mem_read, &m};
    uint64_t total = 0;
    struct layer_stream *s = NULL;
    if (stream_open(&s, &r, compression, OIMG_DIGEST_SHA256, &total, 4u << 20, &err) == 0) {
        const void *block;
        ssize_t n;
        /* Bounded: max_total caps the bytes, every block is > 0. */
        while ((n = stream_next(s, &block, &err)) > 0)
            ;
        if (n == 0) {
            struct oimg_digest d;
            uint64_t c, u;
            if (stream_drain(s, &err) == 0)
                stream_result(s, &d, &c, &u);
        }
        stream_free(s);
    }
    fuzz_err_drop(&err);

    char *mt = fuzz_strndup(data, size);
    (void)oimg_apply_media_type_compression(mt);
    (void)oimg_media_type_is_layer(mt);
    (void)oimg_media_type_valid(mt);
    free(mt);
    return 0;
}
