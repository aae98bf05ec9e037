/* gzip layers through both inflate engines (ISA-L when built in, and zlib
 * via OCIIMG_INFLATE=zlib), threaded and not: the same corpus must give the
 * same result everywhere — every deflate flavour, multi-member streams, empty
 * members, optional header fields, zero padding — and the same refusal of
 * truncation, trailing garbage, bad CRC-32 / ISIZE / header CRC, reserved
 * flags, unknown methods and corrupt data. */
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <ociimg/digest.h>

#include "t.h"
#include "test_apply_util.h"

#define OCI_GZ "application/vnd.oci.image.layer.v1.tar+gzip"

static char *tmp;

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* A tar with a few small files and, if big, a few MiB of mixed random and
 * repetitive data, so streams cross many buffer boundaries. */
static void make_tar(struct buf *t, bool big)
{
    size_t cap = big ? (8u << 20) : (64u << 10);
    t->p = malloc(cap);
    t->cap = cap;
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_memory(a, t->p, cap, &t->len);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "d/");
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    archive_write_header(a, e);
    uint32_t seed = 12345;
    for (int i = 0; i < (big ? 6 : 3); i++) {
        size_t n = big ? (size_t)(700000 + i * 1000) : (size_t)(500 + i * 300);
        unsigned char *d = malloc(n);
        for (size_t j = 0; j < n; j++) {
            seed = seed * 1103515245u + 12345u;
            /* Alternate runs of noise and of text-like repetition. */
            d[j] = ((j / 4096) % 2) ? (unsigned char)(seed >> 24) : (unsigned char)("layer"[j % 5]);
        }
        char name[32];
        snprintf(name, sizeof(name), "d/f%d", i);
        archive_entry_clear(e);
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)n);
        archive_write_header(a, e);
        archive_write_data(a, d, n);
        free(d);
    }
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
}

/* One gzip member of in[0..len) with the given level / strategy; hdr adds
 * the optional header fields (name, comment, extra, header CRC). */
static void gz_member(struct buf *out, const unsigned char *in, size_t len, int level, int strategy,
                      bool hdr)
{
    z_stream z = {0};
    deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, strategy);
    gz_header h = {0};
    if (hdr) {
        static unsigned char extra[] = "XYextra-field";
        h.name = (Bytef *)"layer.tar";
        h.comment = (Bytef *)"a comment";
        h.extra = extra;
        h.extra_len = sizeof(extra) - 1;
        h.hcrc = 1;
        deflateSetHeader(&z, &h);
    }
    size_t cap = deflateBound(&z, len) + 64;
    unsigned char *o = malloc(cap);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = o;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    buf_put(out, o, z.total_out);
    deflateEnd(&z);
    free(o);
}

struct result {
    int rc;
    struct oimg_apply_stats st;
};

static struct result apply_gz(const unsigned char *blob, size_t len, size_t chunk)
{
    static int n;
    char root[4096];
    xsnprintf(root, sizeof(root), "%s/r%d", tmp, n++);
    mkdir(root, 0755);
    int rootfd = open(root, O_RDONLY | O_DIRECTORY);
    struct oimg_apply_opts o;
    oimg_apply_opts_init(&o);
    o.no_sync = true;
    struct oimg_applier *a = NULL;
    struct oci_error *err = NULL;
    struct mem_reader m = {blob, len, 0, chunk, 0};
    struct oimg_reader r = {mem_read, &m};
    struct result res = {0};
    res.rc = oimg_applier_new(&a, rootfd, &o, &err);
    if (res.rc == 0)
        res.rc = oimg_applier_apply(a, OCI_GZ, &r, NULL, &res.st, &err);
    if (res.rc < 0) {
        CHECK(err && err->msg && *err->msg);
        if (getenv("OCIIMG_TEST_VERBOSE"))
            fprintf(stderr, "    %s\n", err ? err->msg : "(no message)");
    }
    oci_error_free(err);
    oimg_applier_free(a);
    close(rootfd);
    rm_rf(root);
    return res;
}

static const char *engines[] = {"default", "zlib"};
static const char *threads[] = {"1", "0"};

/* Runs blob through every engine × threading × chunk size; all must agree:
 * success with the tar's digest and sizes when want_ok, else OCI_ERR_INVALID. */
static void check_all(const char *what, const struct buf *blob, const struct buf *tar, bool want_ok,
                      const size_t *chunks, size_t nchunks)
{
    struct oimg_digest want;
    CHECK_OK(oimg_digest_buffer(&want, OIMG_DIGEST_SHA256, tar->p, tar->len, T_ERR));
    for (size_t e = 0; e < 2; e++)
        for (size_t t = 0; t < 2; t++)
            for (size_t c = 0; c < nchunks; c++) {
                if (strcmp(engines[e], "zlib") == 0)
                    setenv("OCIIMG_INFLATE", "zlib", 1);
                else
                    unsetenv("OCIIMG_INFLATE");
                setenv("OCIIMG_APPLY_THREADS", threads[t], 1);
                struct result r = apply_gz(blob->p, blob->len, chunks[c]);
                bool ok = want_ok ? r.rc == 0 && oimg_digest_equal(&r.st.diff_id, &want) &&
                                        r.st.uncompressed_bytes == tar->len &&
                                        r.st.compressed_bytes == blob->len
                                  : r.rc == -OCI_ERR_INVALID;
                CHECK(ok);
                if (!ok)
                    fprintf(stderr, "  %s: engine %s, threads %s, chunk %zu: rc %d\n", what,
                            engines[e], threads[t], chunks[c], r.rc);
            }
    unsetenv("OCIIMG_INFLATE");
    unsetenv("OCIIMG_APPLY_THREADS");
}

static const size_t small_chunks[] = {0, 1, 7, 4093};
static const size_t big_chunks[] = {0, 65537};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_flavours(void)
{
    struct buf small = {0}, big = {0};
    make_tar(&small, false);
    make_tar(&big, true);
    static const struct {
        const char *name;
        int level, strategy;
        bool hdr;
    } fl[] = {
        {"level 6", 6, Z_DEFAULT_STRATEGY, false},  {"level 1", 1, Z_DEFAULT_STRATEGY, false},
        {"level 9", 9, Z_DEFAULT_STRATEGY, false},  {"stored", 0, Z_DEFAULT_STRATEGY, false},
        {"huffman only", 6, Z_HUFFMAN_ONLY, false}, {"rle", 6, Z_RLE, false},
        {"fixed codes", 6, Z_FIXED, false},         {"header fields", 6, Z_DEFAULT_STRATEGY, true},
    };
    for (size_t i = 0; i < N(fl); i++) {
        struct buf gs = {0}, gb = {0};
        gz_member(&gs, small.p, small.len, fl[i].level, fl[i].strategy, fl[i].hdr);
        gz_member(&gb, big.p, big.len, fl[i].level, fl[i].strategy, fl[i].hdr);
        check_all(fl[i].name, &gs, &small, true, small_chunks, N(small_chunks));
        check_all(fl[i].name, &gb, &big, true, big_chunks, N(big_chunks));
        free(gs.p);
        free(gb.p);
    }
    free(small.p);
    free(big.p);
}

static void test_members(void)
{
    struct buf big = {0}, g = {0};
    make_tar(&big, true);
    /* An empty member first, three data members (one with header fields,
     * one stored), another empty one, then zero padding. */
    gz_member(&g, big.p, 0, 6, Z_DEFAULT_STRATEGY, false);
    size_t a = big.len / 5, b = big.len / 2;
    gz_member(&g, big.p, a, 6, Z_DEFAULT_STRATEGY, true);
    gz_member(&g, big.p + a, b - a, 0, Z_DEFAULT_STRATEGY, false);
    gz_member(&g, big.p + b, big.len - b, 9, Z_DEFAULT_STRATEGY, false);
    gz_member(&g, big.p, 0, 6, Z_DEFAULT_STRATEGY, true);
    check_all("members", &g, &big, true, big_chunks, N(big_chunks));
    static const unsigned char zeros[1000];
    buf_put(&g, zeros, sizeof(zeros));
    check_all("members + padding", &g, &big, true, big_chunks, N(big_chunks));
    /* Garbage after the padding, or right after a member. */
    buf_put(&g, "garbage!", 8);
    check_all("garbage after padding", &g, &big, false, big_chunks, N(big_chunks));
    g.len -= 8 + sizeof(zeros);
    buf_put(&g, "\x1f\x8b\x08", 3); /* a member that never comes */
    check_all("truncated next member", &g, &big, false, big_chunks, N(big_chunks));
    g.len -= 3;
    buf_put(&g, "x", 1);
    check_all("garbage after member", &g, &big, false, big_chunks, N(big_chunks));
    free(g.p);
    free(big.p);
}

static void test_corrupt(void)
{
    struct buf small = {0}, g = {0}, h = {0};
    make_tar(&small, false);
    gz_member(&g, small.p, small.len, 6, Z_DEFAULT_STRATEGY, false);
    gz_member(&h, small.p, small.len, 6, Z_DEFAULT_STRATEGY, true);
    static const size_t one[] = {0, 3};

    /* Every cut in the header and trailer, and a few in the data. */
    for (size_t cut = 1; cut < g.len; cut++) {
        if (cut > 24 && cut < g.len - 12 && cut % 97)
            continue;
        struct buf t = {g.p, cut, g.cap};
        char what[64];
        snprintf(what, sizeof(what), "cut at %zu of %zu", cut, g.len);
        check_all(what, &t, &small, false, one, N(one));
    }
    for (size_t cut = 1; cut < 40; cut++) {
        struct buf t = {h.p, cut, h.cap};
        check_all("cut in header fields", &t, &small, false, one, N(one));
    }

    struct buf c = {malloc(g.len), g.len, g.len};
    struct buf d = {malloc(h.len), h.len, h.len};
    static const struct {
        const char *what;
        size_t off_from_end; /* 0: offset from the start in `off` */
        size_t off;
        unsigned char xor ;
        bool fields;
    } flips[] = {
        {"bad CRC-32", 8, 0, 0x01, false},     {"bad ISIZE", 4, 0, 0x01, false},
        {"bad ISIZE high", 1, 0, 0x80, false}, {"method 7", 0, 2, 0x0f, false},
        {"reserved flag", 0, 3, 0x20, false},  {"reserved flag 0x80", 0, 3, 0x80, false},
        {"bad magic 2", 0, 1, 0x01, false},    {"bad header CRC", 0, 0, 0x00, true},
    };
    for (size_t i = 0; i < N(flips); i++) {
        struct buf *x = flips[i].fields ? &d : &c;
        const struct buf *src = flips[i].fields ? &h : &g;
        memcpy(x->p, src->p, src->len);
        if (flips[i].fields) {
            /* The two header CRC bytes come right before the deflate data:
             * 10 + (2 + 13 extra) + 10 name + 10 comment. */
            x->p[10 + 15 + 10 + 10] ^= 0x55;
        } else {
            size_t off = flips[i].off_from_end ? x->len - flips[i].off_from_end : flips[i].off;
            x->p[off] ^= flips[i].xor ;
        }
        check_all(flips[i].what, x, &small, false, small_chunks, N(small_chunks));
    }
    /* Bit flips through the deflate data: rejected one way or another
     * (structure, distance, or the CRC), never accepted. */
    for (size_t off = 10; off < g.len - 8; off += 37) {
        memcpy(c.p, g.p, g.len);
        c.p[off] ^= 0x10;
        char what[64];
        snprintf(what, sizeof(what), "flip at %zu", off);
        check_all(what, &c, &small, false, one, N(one));
    }
    free(c.p);
    free(d.p);
    free(g.p);
    free(h.p);
    free(small.p);
}

int main(void)
{
    tmp = make_tmpdir("inflate");
    if (!tmp)
        return 1;
    T_RUN(test_flavours);
    T_RUN(test_members);
    T_RUN(test_corrupt);
    rm_rf(tmp);
    free(tmp);
    return t_done();
}
