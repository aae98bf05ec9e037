/* The store's resumable blob writer (what `pull` keeps across runs) and the
 * shared base64 both libraries use. */
#include <stdint.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>

#include <ociimg/base64.h>
#include <ociimg/digest.h>
#include <ociimg/fs.h>

#include "layout_t.h"

#define BIG (3u * 1024 * 1024 + 17)

static unsigned char *pattern(size_t n)
{
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 2654435761u) >> 13);
    return b;
}

static struct oimg_digest digest_of(const void *buf, size_t len)
{
    struct oimg_digest d = {0};
    CHECK_OK(oimg_digest_buffer(&d, OIMG_DIGEST_SHA256, buf, len, T_ERR));
    return d;
}

static char *partial_rel(const struct oimg_digest *d)
{
    return t_fmt(".ociimg/partial/sha256-%s", oimg_digest_encoded(d));
}

static bool exists_rel(struct oimg_layout *l, const char *rel)
{
    struct stat st;
    return fstatat(oimg_layout_dirfd(l), rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_resume_across_writers(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    unsigned char *data = pattern(BIG);
    struct oimg_digest d = digest_of(data, BIG);
    char *prel = partial_rel(&d);

    struct oimg_blob_writer *w = NULL;
    uint64_t off = 99;
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &d, BIG, &off, T_ERR));
    CHECK_INT(off, 0);
    size_t first = BIG * 9 / 10;
    CHECK_OK(oimg_blob_writer_write(w, data, first, T_ERR));
    oimg_blob_writer_free(w); /* "killed at 90%" */
    CHECK(exists_rel(l, prel));

    /* Another handle (another process, as far as the store can tell). */
    struct oimg_layout *l2 = NULL;
    CHECK_OK(oimg_layout_open(&l2, oimg_layout_path(l), 0, T_ERR));
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l2, &d, BIG, &off, T_ERR));
    CHECK_INT(off, first);
    CHECK_INT(oimg_blob_writer_size(w), first);

    /* One writer per partial: a second one is refused while the first lives. */
    struct oimg_blob_writer *w2 = NULL;
    uint64_t off2 = 0;
    struct oci_error *e = NULL;
    CHECK_INT(oimg_layout_blob_begin_resume(&w2, l, &d, BIG, &off2, &e), -OCI_ERR_STATE);
    CHECK(e && strstr(e->msg, "another process"));
    oci_error_clear(&e);

    CHECK_OK(oimg_blob_writer_write(w, data + first, BIG - first, T_ERR));
    struct oimg_digest got;
    CHECK_OK(oimg_blob_writer_commit(w, &got, T_ERR));
    CHECK_STR(got.str, d.str);
    oimg_blob_writer_free(w);
    CHECK_INT(oimg_layout_blob_stat(l, &d, NULL, NULL), 1);
    CHECK(!exists_rel(l, prel));
    char *buf = NULL;
    size_t len = 0;
    CHECK_OK(oimg_layout_blob_read(&buf, &len, l, &d, BIG, BIG, T_ERR));
    CHECK(len == BIG && memcmp(buf, data, BIG) == 0);
    free(buf);

    oimg_layout_free(l2);
    oimg_layout_free(l);
    free(prel);
    free(data);
    t_rm_rf(top);
    free(top);
}

static void test_bad_partials(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    unsigned char *data = pattern(4096);
    struct oimg_digest d = digest_of(data, 4096);
    char *prel = partial_rel(&d);
    CHECK_INT(mkdirat(oimg_layout_dirfd(l), ".ociimg/partial", 0755), 0);

    /* Longer than the blob: started over. */
    unsigned char *junk = pattern(5000);
    junk[0] ^= 1;
    t_write_at(l, prel, junk, 5000);
    struct oimg_blob_writer *w = NULL;
    uint64_t off = 1;
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &d, 4096, &off, T_ERR));
    CHECK_INT(off, 0);
    oimg_blob_writer_free(w);

    /* Full length but wrong bytes: commit refuses and deletes the partial. */
    t_write_at(l, prel, junk, 4096);
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &d, 4096, &off, T_ERR));
    CHECK_INT(off, 4096);
    struct oci_error *e = NULL;
    CHECK_INT(oimg_blob_writer_commit(w, NULL, &e), -OCI_ERR_DIGEST_MISMATCH);
    oci_error_clear(&e);
    oimg_blob_writer_free(w);
    CHECK(!exists_rel(l, prel));
    CHECK_INT(oimg_layout_blob_stat(l, &d, NULL, NULL), 0);

    /* Wrong prefix: restart() (a server ignoring Range) then the whole blob. */
    t_write_at(l, prel, junk, 1000);
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &d, 4096, &off, T_ERR));
    CHECK_INT(off, 1000);
    CHECK_OK(oimg_blob_writer_restart(w, T_ERR));
    CHECK_INT(oimg_blob_writer_size(w), 0);
    CHECK_OK(oimg_blob_writer_write(w, data, 4096, T_ERR));
    CHECK_OK(oimg_blob_writer_commit(w, NULL, T_ERR));
    oimg_blob_writer_free(w);
    CHECK_INT(oimg_layout_blob_stat(l, &d, NULL, NULL), 1);

    /* Writing past the expected size fails and the partial is dropped. */
    unsigned char *d2data = pattern(100);
    struct oimg_digest d2 = digest_of(d2data, 100);
    char *prel2 = partial_rel(&d2);
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &d2, 100, &off, T_ERR));
    CHECK_INT(oimg_blob_writer_write(w, junk, 101, &e), -OCI_ERR_DIGEST_MISMATCH);
    oci_error_clear(&e);
    oimg_blob_writer_free(w);
    CHECK(!exists_rel(l, prel2));

    /* discard() drops a partial explicitly. */
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &d2, 100, &off, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, d2data, 50, T_ERR));
    oimg_blob_writer_discard(w);
    oimg_blob_writer_free(w);
    CHECK(!exists_rel(l, prel2));

    /* Not a validated digest: refused before any path is formed. */
    struct oimg_digest bad = {.alg = OIMG_DIGEST_SHA256};
    snprintf(bad.str, sizeof(bad.str), "sha256:../../x");
    w = NULL;
    CHECK(oimg_layout_blob_begin_resume(&w, l, &bad, 1, &off, NULL) < 0);
    CHECK(w == NULL);

    free(prel2);
    free(d2data);
    free(junk);
    free(prel);
    free(data);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

struct replay_ctx {
    unsigned char buf[8192];
    size_t n;
};

static int collect(void *ud, const void *buf, size_t len)
{
    struct replay_ctx *c = ud;
    if (c->n + len > sizeof(c->buf))
        return -OCI_ERR_TOO_LARGE;
    memcpy(c->buf + c->n, buf, len);
    c->n += len;
    return 0;
}

/* A replay checked against the bytes it should give. */
struct replay_cmp {
    const unsigned char *want;
    size_t n;
    bool bad;
};

static int compare(void *ud, const void *buf, size_t len)
{
    struct replay_cmp *c = ud;
    if (memcmp(c->want + c->n, buf, len) != 0)
        c->bad = true;
    c->n += len;
    return 0;
}

static void test_replay(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    unsigned char *data = pattern(6000);
    struct oimg_digest d = digest_of(data, 6000);
    struct oimg_blob_writer *w = NULL;
    uint64_t off = 0;
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &d, 6000, &off, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, data, 2500, T_ERR));
    oimg_blob_writer_free(w);
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &d, 6000, &off, T_ERR));
    CHECK_INT(off, 2500);
    struct replay_ctx c = {.n = 0};
    CHECK_OK(oimg_blob_writer_replay(w, collect, &c, T_ERR));
    CHECK_INT(c.n, 2500);
    CHECK(memcmp(c.buf, data, 2500) == 0);
    oimg_blob_writer_free(w);
    free(data);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

static void test_gc_keeps_partials(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    unsigned char *a = pattern(300), *b = pattern(400), *c = pattern(500);
    struct oimg_digest da = digest_of(a, 300), db = digest_of(b, 400), dc = digest_of(c, 500);
    struct oimg_blob_writer *w = NULL;
    uint64_t off;
    /* a: fresh and unlocked; b: old and unlocked; c: old and locked. */
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &da, 300, &off, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, a, 100, T_ERR));
    oimg_blob_writer_free(w);
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &db, 400, &off, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, b, 100, T_ERR));
    oimg_blob_writer_free(w);
    CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &dc, 500, &off, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, c, 100, T_ERR));
    struct timespec old[2] = {{.tv_sec = time(NULL) - 2 * 86400},
                              {.tv_sec = time(NULL) - 2 * 86400}};
    char *pa = partial_rel(&da), *pb = partial_rel(&db), *pc = partial_rel(&dc);
    CHECK_INT(utimensat(oimg_layout_dirfd(l), pb, old, 0), 0);
    CHECK_INT(utimensat(oimg_layout_dirfd(l), pc, old, 0), 0);

    /* A live writer pins the whole layout against gc; to see that gc also
     * spares a locked partial, a child holds only the partial's lock. */
    oimg_blob_writer_free(w);
    char *abs_c = t_fmt("%s/%s", oimg_layout_path(l), pc);
    int pipefd[2];
    CHECK_INT(pipe(pipefd), 0);
    pid_t child = fork();
    if (child == 0) {
        /* Inherited descriptors would carry our pin and locks along. */
        for (int fd = 3; fd < 1024; fd++)
            if (fd != pipefd[1])
                close(fd);
        int fd = open(abs_c, O_RDWR | O_CLOEXEC);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
            _exit(1);
        if (write(pipefd[1], "x", 1) != 1)
            _exit(1);
        sleep(30);
        _exit(0);
    }
    close(pipefd[1]);
    char x;
    CHECK(read(pipefd[0], &x, 1) == 1);
    close(pipefd[0]);
    free(abs_c);

    struct oimg_layout *l2 = NULL;
    CHECK_OK(oimg_layout_open(&l2, oimg_layout_path(l), 0, T_ERR));
    oimg_layout_free(l); /* drops our writers pin */
    l = NULL;
    struct oimg_gc_report rep = {0};
    CHECK_OK(oimg_layout_gc(&rep, l2, false, T_ERR));
    bool removed_b = false;
    for (size_t i = 0; i < rep.n_removed; i++)
        if (strstr(rep.removed[i], oimg_digest_encoded(&db)))
            removed_b = true;
    CHECK(removed_b);
    oimg_gc_report_clear(&rep);
    CHECK(exists_rel(l2, pa));
    CHECK(!exists_rel(l2, pb));
    CHECK(exists_rel(l2, pc));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);

    oimg_layout_free(l2);
    free(pa);
    free(pb);
    free(pc);
    free(a);
    free(b);
    free(c);
    t_rm_rf(top);
    free(top);
}

static void test_base64_modes(void)
{
    unsigned char *d = NULL;
    size_t n = 0;
    /* Strict: padding required, zero pad bits. */
    CHECK_INT(oimg_base64_decode(&d, &n, "Zm9vYg==", 8, 0), 0);
    CHECK(d && n == 4 && memcmp(d, "foob", 4) == 0);
    free(d);
    d = NULL;
    CHECK_INT(oimg_base64_decode(&d, &n, "Zm9vYg", 6, 0), -OCI_ERR_INVALID);
    CHECK_INT(oimg_base64_decode(&d, &n, "Zm9vYh==", 8, 0), -OCI_ERR_INVALID);
    CHECK_INT(oimg_base64_decode(&d, &n, "Zg=", 3, 0), -OCI_ERR_INVALID);
    CHECK(d == NULL);
    /* Lenient: both accepted, as docker does for config.json. */
    CHECK_INT(oimg_base64_decode(&d, &n, "Zm9vYg", 6, OIMG_BASE64_LENIENT), 0);
    free(d);
    d = NULL;
    CHECK_INT(oimg_base64_decode(&d, &n, "Zm9vYh==", 8, OIMG_BASE64_LENIENT), 0);
    CHECK(d && n == 4 && memcmp(d, "foob", 4) == 0);
    free(d);
    d = NULL;
    CHECK_INT(oimg_base64_decode(&d, &n, "", 0, 0), 0);
    CHECK(d && n == 0 && d[0] == '\0');
    free(d);
    char *e = oimg_base64_encode("\xff\xfe", 2);
    CHECK_STR(e, "//4=");
    free(e);
}

/* Writes all of data in chunks of uneven sizes (small, unaligned, bigger
 * than the direct buffer), so that direct mode sees every case. */
static void write_uneven(struct oimg_blob_writer *w, const unsigned char *data, size_t from,
                         size_t to)
{
    static const size_t sizes[] = {1, 4095, 65536, 1024 * 1024 + 7, 300000, 4096};
    for (size_t i = 0, off = from; off < to; i++) {
        size_t n = sizes[i % 6] < to - off ? sizes[i % 6] : to - off;
        CHECK_OK(oimg_blob_writer_write(w, data + off, n, T_ERR));
        off += n;
    }
}

static void check_blob(struct oimg_layout *l, const struct oimg_digest *d,
                       const unsigned char *data, size_t len)
{
    char *buf = NULL;
    size_t got = 0;
    CHECK_OK(oimg_layout_blob_read(&buf, &got, l, d, (int64_t)len, len + 1, T_ERR));
    CHECK(got == len && buf && memcmp(buf, data, len) == 0);
    free(buf);
}

/* Direct (O_DIRECT) writes: the blob that lands is byte for byte what was
 * written, whatever the chunking, a sync in the middle, a restart, or a
 * resumed file that ends off the alignment (which keeps the page cache). */
static void test_direct(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    unsigned char *data = pattern(BIG);
    struct oimg_digest d = digest_of(data, BIG);
    struct oimg_blob_writer *w = NULL;

    CHECK_OK(oimg_layout_blob_begin(&w, l, &d, BIG, T_ERR));
    int on = oimg_blob_writer_set_direct(w);
    CHECK(on == 0 || on == 1);
    if (on == 0)
        printf("# this filesystem refuses O_DIRECT: the writer stays buffered\n");
    CHECK_INT(oimg_blob_writer_set_direct(w), on); /* idempotent */
    write_uneven(w, data, 0, BIG);
    CHECK_OK(oimg_blob_writer_commit(w, NULL, T_ERR));
    CHECK(oimg_blob_writer_set_direct(w) < 0); /* finished */
    oimg_blob_writer_free(w);
    check_blob(l, &d, data, BIG);
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);

    /* A sync halfway (the tail goes through the cache and the writer
     * stays there), then the rest; a restart after a false start. */
    unsigned char *data2 = pattern(BIG + 1000);
    data2[0] ^= 1;
    struct oimg_digest d2 = digest_of(data2, BIG + 1000);
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, &d2, BIG + 1000, T_ERR));
    CHECK_INT(oimg_blob_writer_set_direct(w), on);
    write_uneven(w, data2, 0, 5000);
    CHECK_OK(oimg_blob_writer_restart(w, T_ERR));
    write_uneven(w, data2, 0, 1500000);
    CHECK_OK(oimg_blob_writer_sync(w, T_ERR));
    CHECK_INT(oimg_blob_writer_set_direct(w), 0); /* 1500000 is off the alignment */
    write_uneven(w, data2, 1500000, BIG + 1000);
    CHECK_OK(oimg_blob_writer_commit(w, NULL, T_ERR));
    oimg_blob_writer_free(w);
    check_blob(l, &d2, data2, BIG + 1000);

    /* Resumed: a partial of 5000 bytes stays buffered, one of 8192 goes
     * direct (where the filesystem allows). */
    const size_t cut[] = {5000, 8192};
    for (int k = 0; k < 2; k++) {
        unsigned char *p = pattern(BIG);
        p[1] = (unsigned char)(p[1] + 1 + k);
        struct oimg_digest pd = digest_of(p, BIG);
        uint64_t off = 0;
        w = NULL;
        CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &pd, BIG, &off, T_ERR));
        CHECK_OK(oimg_blob_writer_write(w, p, cut[k], T_ERR));
        oimg_blob_writer_free(w);
        w = NULL;
        CHECK_OK(oimg_layout_blob_begin_resume(&w, l, &pd, BIG, &off, T_ERR));
        CHECK_INT(off, cut[k]);
        CHECK_INT(oimg_blob_writer_set_direct(w), k == 0 ? 0 : on);
        /* A replay (a streamed unpack resuming, or after a restart) reads
         * the file back whatever its mode: at once, while it is direct,
         * and midway. */
        struct replay_cmp rc = {.want = p};
        CHECK_OK(oimg_blob_writer_replay(w, compare, &rc, T_ERR));
        CHECK_INT(rc.n, cut[k]);
        CHECK(!rc.bad);
        const size_t mid = 2 * 1024 * 1024 + 123;
        write_uneven(w, p, cut[k], mid);
        rc = (struct replay_cmp){.want = p};
        CHECK_OK(oimg_blob_writer_replay(w, compare, &rc, T_ERR));
        CHECK_INT(rc.n, mid);
        CHECK(!rc.bad);
        write_uneven(w, p, mid, BIG);
        CHECK_OK(oimg_blob_writer_commit(w, NULL, T_ERR));
        oimg_blob_writer_free(w);
        check_blob(l, &pd, p, BIG);
        free(p);
    }

    /* A wrong byte is still caught: the digest covers what was written. */
    data[BIG / 2] ^= 0x40;
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, &d, BIG, T_ERR));
    CHECK_INT(oimg_blob_writer_set_direct(w), on);
    write_uneven(w, data, 0, BIG);
    struct oci_error *e = NULL;
    CHECK_INT(oimg_blob_writer_commit(w, NULL, &e), -OCI_ERR_DIGEST_MISMATCH);
    oci_error_clear(&e);
    oimg_blob_writer_free(w);
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);

    free(data);
    free(data2);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

/* Whole aligned blocks handed over without a copy: each call gives back a
 * different, aligned, empty block, which the next call fills while the
 * writer still owns the one before (were it handed back too early, the
 * new bytes would land in the file).  A block that is off the alignment,
 * short, or behind buffered bytes is copied, and the caller keeps it. */
static void test_direct_blocks(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    const size_t bs = oimg_blob_writer_block_size();
    const size_t align = oimg_fs_direct_align();
    CHECK(bs % align == 0);
    const size_t len = 9 * bs + 1000;
    unsigned char *data = pattern(len);
    data[7] ^= 0x5a;
    struct oimg_digest d = digest_of(data, len);
    struct oimg_blob_writer *w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, &d, (int64_t)len, T_ERR));
    int on = oimg_blob_writer_set_direct(w);
    CHECK(on == 0 || on == 1);

    void *m = NULL;
    CHECK(posix_memalign(&m, align, bs + align) == 0);
    unsigned char *blk = m;
    size_t off = 0;
    for (int i = 0; i < 4; i++, off += bs) {
        unsigned char *was = blk;
        memcpy(blk, data + off, bs);
        CHECK_OK(oimg_blob_writer_write_block(w, &blk, bs, T_ERR));
        CHECK(blk != NULL && (uintptr_t)blk % align == 0);
        CHECK(on ? blk != was : blk == was);
        memset(blk, 0xee, bs); /* ours now: scribbling on it changes nothing */
    }
    /* Off the alignment: copied. */
    unsigned char *odd = malloc(bs + 1);
    CHECK(odd != NULL);
    memcpy(odd + 1, data + off, bs);
    unsigned char *oddp = odd + 1;
    CHECK_OK(oimg_blob_writer_write_block(w, &oddp, bs, T_ERR));
    CHECK(oddp == odd + 1);
    off += bs;
    /* Short: copied; it leaves bytes buffered, so the next whole block is
     * copied too. */
    unsigned char *was = blk;
    memcpy(blk, data + off, 4096);
    CHECK_OK(oimg_blob_writer_write_block(w, &blk, 4096, T_ERR));
    CHECK(blk == was);
    off += 4096;
    memcpy(blk, data + off, bs);
    CHECK_OK(oimg_blob_writer_write_block(w, &blk, bs, T_ERR));
    CHECK(blk == was);
    off += bs;
    write_uneven(w, data, off, len);
    CHECK_OK(oimg_blob_writer_commit(w, NULL, T_ERR));
    oimg_blob_writer_free(w);
    check_blob(l, &d, data, len);
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);

    /* Past the expected size: refused like a plain write, block kept. */
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, &d, (int64_t)bs - 1, T_ERR));
    CHECK_INT(oimg_blob_writer_set_direct(w), on);
    was = blk;
    struct oci_error *e = NULL;
    CHECK_INT(oimg_blob_writer_write_block(w, &blk, bs, &e), -OCI_ERR_DIGEST_MISMATCH);
    oci_error_clear(&e);
    CHECK(blk == was);
    oimg_blob_writer_free(w);

    free(blk);
    free(odd);
    free(data);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

int main(void)
{
    T_RUN(test_resume_across_writers);
    T_RUN(test_bad_partials);
    T_RUN(test_replay);
    T_RUN(test_gc_keeps_partials);
    T_RUN(test_base64_modes);
    T_RUN(test_direct);
    T_RUN(test_direct_blocks);
    return t_done();
}
