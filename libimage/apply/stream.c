/* The uncompressed tar stream of a layer: blob bytes from an oimg_reader,
 * magic checked against the declared compression, inflated (gzip.c) or
 * zstd-decoded, hashed for the diff_id and counted against the bomb cap.
 *
 * Decompression and hashing run on a second thread when one can be started,
 * feeding a small ring of buffers, so they overlap with the file writes of
 * the consumer (libarchive + the applier).  OCIIMG_APPLY_THREADS=0 keeps
 * everything on the caller's thread. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include <ociimg/cleanup.h>

#include "apply_private.h"

#define IN_SIZE (256 * 1024)
#define OUT_SIZE (256 * 1024)
#define NBUF 4
#define MAGIC_LEN 4

static const uint8_t gzip_magic[] = {0x1f, 0x8b};
static const uint8_t zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};

struct layer_stream {
    struct oimg_reader *r;
    int comp;

    /* Producer side (decompressor thread, or the caller when unthreaded). */
    uint8_t *in;
    size_t in_pos, in_len;
    bool in_eof;
    struct gz_dec *gz;
    bool gz_between; /* a gzip member ended; another or the end follows */
    ZSTD_DCtx *zd;
    bool zstd_open; /* inside a zstd frame */
    struct oimg_hasher *h;
    uint64_t comp_bytes, raw_bytes;
    uint64_t *total;
    uint64_t max_total;
    struct oci_error *perr; /* the producer's error, handed over at the end */
    int prc;

    /* The ring.  Filled buffers are [head, head+count); the consumer holds
     * the one before head until its next call. */
    bool threaded;
    bool thread_started;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t *buf[NBUF];
    size_t len[NBUF];
    unsigned head, count;
    bool held;
    bool done;   /* producer finished (end or error) */
    bool cancel; /* consumer gave up */
    bool ended;  /* consumer saw the end */
};

/* A reader that fails without an error object gets a generic one. */
static int reader_failed(struct layer_stream *s, ssize_t n)
{
    int code = (int)-n;
    if (code <= 0 || code >= OCI_ERR__MAX)
        code = OCI_ERR_IO;
    if (!s->perr)
        return oci_error_set(&s->perr, code, "read layer blob");
    return oci_error_wrap(&s->perr, "read layer blob");
}

static void hand_err(struct layer_stream *s, struct oci_error **err)
{
    if (err && !*err)
        *err = TAKE_PTR(s->perr);
}

static int refill(struct layer_stream *s)
{
    if (s->in_pos < s->in_len || s->in_eof)
        return 0;
    ssize_t n = s->r->read(s->r->ctx, s->in, IN_SIZE, &s->perr);
    if (n < 0)
        return reader_failed(s, n);
    if ((size_t)n > IN_SIZE)
        return oci_error_set(&s->perr, OCI_ERR_INTERNAL, "read layer blob: reader overran");
    s->comp_bytes += (uint64_t)n;
    s->in_pos = 0;
    s->in_len = (size_t)n;
    if (n == 0)
        s->in_eof = true;
    return 0;
}

/* Between gzip members: the next member, trailing zero bytes (some writers
 * pad), or the end.  Returns 1 to go on inflating, 0 at the end. */
static int gzip_next_member(struct layer_stream *s)
{
    for (;;) {
        int r = refill(s);
        if (r < 0)
            return r;
        if (s->in_pos == s->in_len)
            return 0;
        if (s->in[s->in_pos] == 0) {
            while (s->in_pos < s->in_len && s->in[s->in_pos] == 0)
                s->in_pos++;
            continue;
        }
        if (s->in[s->in_pos] != gzip_magic[0])
            return oci_error_set(&s->perr, OCI_ERR_INVALID,
                                 "gzip layer: trailing garbage after the compressed stream");
        int rr = gz_dec_reset(s->gz, &s->perr);
        if (rr < 0)
            return rr;
        s->gz_between = false;
        return 1;
    }
}

static ssize_t produce_gzip(struct layer_stream *s, uint8_t *out, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        if (s->gz_between) {
            int r = gzip_next_member(s);
            if (r <= 0)
                return r < 0 ? r : (ssize_t)got;
        }
        int r = refill(s);
        if (r < 0)
            return r;
        /* At the end of the input the decoder still runs once: it may hold
         * buffered output (ISA-L keeps up to 8 input bytes and a window). */
        const uint8_t *in = s->in + s->in_pos;
        size_t in_left = s->in_len - s->in_pos, in_before = in_left;
        uint8_t *o = out + got;
        size_t o_left = cap - got, o_before = o_left;
        r = gz_dec_run(s->gz, &in, &in_left, &o, &o_left, &s->perr);
        s->in_pos += in_before - in_left;
        got += o_before - o_left;
        if (r < 0)
            return r;
        if (r == 1) {
            s->gz_between = true;
            continue;
        }
        if (in_left == in_before && o_left == o_before) {
            /* No progress: more input is needed, or there is none. */
            if (in_left > 0)
                return oci_error_set(&s->perr, OCI_ERR_INTERNAL, "gzip layer: inflate stalled");
            if (s->in_eof) {
                if (got)
                    return (ssize_t)got;
                return oci_error_set(&s->perr, OCI_ERR_INVALID, "gzip layer: truncated stream");
            }
        }
    }
    return (ssize_t)got;
}

static ssize_t produce_zstd(struct layer_stream *s, uint8_t *out, size_t cap)
{
    ZSTD_outBuffer ob = {out, cap, 0};
    while (ob.pos < cap) {
        int r = refill(s);
        if (r < 0)
            return r;
        if (s->in_pos == s->in_len) {
            if (s->zstd_open)
                return oci_error_set(&s->perr, OCI_ERR_INVALID, "zstd layer: truncated stream");
            break;
        }
        ZSTD_inBuffer ib = {s->in, s->in_len, s->in_pos};
        size_t zr = ZSTD_decompressStream(s->zd, &ob, &ib);
        s->in_pos = ib.pos;
        if (ZSTD_isError(zr))
            return oci_error_set(&s->perr, OCI_ERR_INVALID, "zstd layer: %s",
                                 ZSTD_getErrorName(zr));
        s->zstd_open = zr != 0;
    }
    return (ssize_t)ob.pos;
}

static ssize_t produce_plain(struct layer_stream *s, uint8_t *out, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        int r = refill(s);
        if (r < 0)
            return r;
        if (s->in_pos == s->in_len)
            break;
        size_t n = s->in_len - s->in_pos;
        if (n > cap - got)
            n = cap - got;
        memcpy(out + got, s->in + s->in_pos, n);
        s->in_pos += n;
        got += n;
    }
    return (ssize_t)got;
}

/* One block of tar bytes (0 at the end), hashed and counted. */
static ssize_t produce(struct layer_stream *s, uint8_t *out, size_t cap)
{
    ssize_t n;
    switch (s->comp) {
    case OIMG_LAYER_GZIP:
        n = produce_gzip(s, out, cap);
        break;
    case OIMG_LAYER_ZSTD:
        n = produce_zstd(s, out, cap);
        break;
    default:
        n = produce_plain(s, out, cap);
        break;
    }
    if (n <= 0)
        return n;
    s->raw_bytes += (uint64_t)n;
    *s->total += (uint64_t)n;
    if (*s->total > s->max_total)
        return oci_error_set(&s->perr, OCI_ERR_TOO_LARGE,
                             "layer data exceeds the limit of %llu uncompressed bytes "
                             "(decompression bomb?)",
                             (unsigned long long)s->max_total);
    oimg_hasher_update(s->h, out, (size_t)n);
    return n;
}

static void *producer_main(void *arg)
{
    struct layer_stream *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->cancel && s->count + (s->held ? 1u : 0u) >= NBUF)
            pthread_cond_wait(&s->cv, &s->mu);
        bool cancel = s->cancel;
        unsigned slot = (s->head + s->count) % NBUF;
        pthread_mutex_unlock(&s->mu);
        if (cancel)
            return NULL;

        ssize_t n = produce(s, s->buf[slot], OUT_SIZE);

        pthread_mutex_lock(&s->mu);
        if (n > 0) {
            s->len[slot] = (size_t)n;
            s->count++;
        } else {
            s->prc = (int)n;
            s->done = true;
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        if (n <= 0)
            return NULL;
    }
}

static bool threads_wanted(void)
{
    const char *v = getenv("OCIIMG_APPLY_THREADS");
    return !(v && strcmp(v, "0") == 0);
}

/* Reads the first bytes so the magic can be checked before anything else. */
static int peek_magic(struct layer_stream *s)
{
    while (s->in_len < MAGIC_LEN && !s->in_eof) {
        ssize_t n = s->r->read(s->r->ctx, s->in + s->in_len, IN_SIZE - s->in_len, &s->perr);
        if (n < 0)
            return reader_failed(s, n);
        if ((size_t)n > IN_SIZE - s->in_len)
            return oci_error_set(&s->perr, OCI_ERR_INTERNAL, "read layer blob: reader overran");
        if (n == 0)
            s->in_eof = true;
        s->in_len += (size_t)n;
        s->comp_bytes += (uint64_t)n;
    }
    return 0;
}

static const char *comp_name(int c)
{
    return c == OIMG_LAYER_GZIP ? "gzip" : c == OIMG_LAYER_ZSTD ? "zstd" : "uncompressed tar";
}

static int check_magic(struct layer_stream *s, int declared, struct oci_error **err)
{
    int found = OIMG_LAYER_TAR;
    if (s->in_len >= sizeof(gzip_magic) && memcmp(s->in, gzip_magic, sizeof(gzip_magic)) == 0)
        found = OIMG_LAYER_GZIP;
    else if (s->in_len >= sizeof(zstd_magic) && memcmp(s->in, zstd_magic, sizeof(zstd_magic)) == 0)
        found = OIMG_LAYER_ZSTD;
    if (declared >= 0 && found != declared)
        return oci_error_set(err, OCI_ERR_INVALID,
                             "layer is declared %s but its data is %s (magic %02x %02x)",
                             comp_name(declared), comp_name(found), s->in_len > 0 ? s->in[0] : 0,
                             s->in_len > 1 ? s->in[1] : 0);
    s->comp = found;
    return 0;
}

int stream_open(struct layer_stream **out, struct oimg_reader *r, int compression,
                enum oimg_digest_alg alg, uint64_t *total, uint64_t max_total,
                struct oci_error **err)
{
    struct layer_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    s->r = r;
    s->total = total;
    s->max_total = max_total;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int rc;
    bool oom = !(s->in = malloc(IN_SIZE));
    for (unsigned i = 0; i < NBUF; i++)
        oom |= !(s->buf[i] = malloc(OUT_SIZE));
    if (oom) {
        rc = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        goto fail;
    }
    rc = oimg_hasher_new(&s->h, alg, err);
    if (rc < 0)
        goto fail;
    rc = peek_magic(s);
    if (rc < 0) {
        hand_err(s, err);
        goto fail;
    }
    rc = check_magic(s, compression, err);
    if (rc < 0)
        goto fail;
    if (s->comp == OIMG_LAYER_GZIP) {
        rc = gz_dec_new(&s->gz, err);
        if (rc < 0)
            goto fail;
    } else if (s->comp == OIMG_LAYER_ZSTD) {
        s->zd = ZSTD_createDCtx();
        if (!s->zd) {
            rc = oci_error_set(err, OCI_ERR_NOMEM, "ZSTD_createDCtx failed");
            goto fail;
        }
    }
    s->threaded = threads_wanted();
    if (s->threaded && pthread_create(&s->th, NULL, producer_main, s) == 0)
        s->thread_started = true;
    else
        s->threaded = false;
    *out = s;
    return 0;
fail:
    stream_free(s);
    return rc;
}

ssize_t stream_next(struct layer_stream *s, const void **buf, struct oci_error **err)
{
    if (s->ended)
        return 0;
    if (!s->threaded) {
        ssize_t n = produce(s, s->buf[0], OUT_SIZE);
        if (n <= 0) {
            s->ended = true;
            if (n < 0)
                hand_err(s, err);
            return n;
        }
        *buf = s->buf[0];
        return n;
    }
    pthread_mutex_lock(&s->mu);
    if (s->held) {
        s->held = false;
        pthread_cond_broadcast(&s->cv);
    }
    while (s->count == 0 && !s->done)
        pthread_cond_wait(&s->cv, &s->mu);
    ssize_t n = 0;
    if (s->count > 0) {
        unsigned slot = s->head;
        s->head = (s->head + 1) % NBUF;
        s->count--;
        s->held = true;
        *buf = s->buf[slot];
        n = (ssize_t)s->len[slot];
    }
    pthread_mutex_unlock(&s->mu);
    if (n == 0) {
        pthread_join(s->th, NULL);
        s->thread_started = false;
        s->ended = true;
        if (s->prc < 0) {
            hand_err(s, err);
            return s->prc;
        }
    }
    return n;
}

int stream_drain(struct layer_stream *s, struct oci_error **err)
{
    /* Bounded: every call consumes input, and the byte cap holds. */
    for (;;) {
        const void *b;
        ssize_t n = stream_next(s, &b, err);
        if (n <= 0)
            return (int)n;
    }
}

void stream_result(struct layer_stream *s, struct oimg_digest *d, uint64_t *compressed,
                   uint64_t *uncompressed)
{
    oimg_hasher_final(s->h, d);
    *compressed = s->comp_bytes;
    *uncompressed = s->raw_bytes;
}

void stream_free(struct layer_stream *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->cancel = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->th, NULL);
    }
    gz_dec_free(s->gz);
    ZSTD_freeDCtx(s->zd);
    oimg_hasher_free(s->h);
    oci_error_free(s->perr);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->in);
    for (unsigned i = 0; i < NBUF; i++)
        free(s->buf[i]);
    free(s);
}
