/* The streamed unpack (oimg_unpack_stream_*) fed as a downloader would:
 * blobs out of order and interleaved (layer 3 before layer 1 finishes), a
 * later layer big enough to spill its spool to a file (no layout) or to be
 * read from the download's partial file (a layout), a restart from byte 0
 * before and after the applier read a blob, blobs taken from the layout, a
 * repeated layer, a fast layer, a layer whose download fails after it is
 * applied, a layer verified into the layout before its turn, a repeated
 * layer whose layout copy another pull wrote, a corrupt byte, bytes past a
 * blob's size and a cancel. Each bundle is compared with oimg_unpack of the
 * same image through oimg_export_tar. */
#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/digest.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>

#include "bundle_t.h"

static char *top;
static struct oimg_layout *lay;

static struct oimg_digest put(struct bt_buf b)
{
    struct oimg_digest d;
    struct oci_error *e = NULL;
    if (oimg_layout_blob_put(&d, lay, b.p, b.n, &e) < 0) {
        fprintf(stderr, "put: %s\n", e ? e->msg : "?");
        exit(1);
    }
    return d;
}

#define NL 3
static struct bt_buf gz[NL], cfgb, manb;
static struct oimg_descriptor ld[NL], cd, md;

static void desc(struct oimg_descriptor *d, const char *mt, struct bt_buf b)
{
    d->media_type = strdup(mt);
    d->digest = bt_sha(b);
    d->size = (int64_t)b.n;
}

/* Three layers: files; a whiteout, an opaque dir and ~6 MiB that does not
 * compress (its spool spills to a file); a small one. */
static void setup(void)
{
    top = bt_tmpdir("stream-unpack");
    const char *trees[NL] = {"l1", "l2", "l3"};
    for (int i = 0; i < NL; i++) {
        char *d = bt_fmt("%s/%s", top, trees[i]);
        mkdir(d, 0755);
        free(d);
    }
    char *l1 = bt_fmt("%s/l1", top), *l2 = bt_fmt("%s/l2", top), *l3 = bt_fmt("%s/l3", top);
    bt_write(l1, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    bt_write(l1, "etc/remove-me", "gone in layer 2\n");
    bt_write(l1, "opt/data/a", "a\n");
    bt_write(l1, "opt/data/b", "b\n");
    bt_write(l2, "etc/.wh.remove-me", "");
    bt_write(l2, "opt/data/.wh..wh..opq", "");
    bt_write(l2, "opt/data/c", "only c\n");
    char *big = bt_fmt("%s/big.bin", l2);
    int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    unsigned long long x = 88172645463325252ull;
    static unsigned long long blk[8192];
    for (int k = 0; k < 96; k++) {
        for (size_t j = 0; j < sizeof(blk) / sizeof(blk[0]); j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            blk[j] = x;
        }
        CHECK(write(fd, blk, sizeof(blk)) == (ssize_t)sizeof(blk));
    }
    close(fd);
    free(big);
    bt_write(l3, "etc/layer3", "three\n");
    char *dirs[NL] = {l1, l2, l3};
    for (int i = 0; i < NL; i++) {
        struct bt_buf t = bt_tar_of(dirs[i]);
        gz[i] = bt_gzip_of(t, 6);
        desc(&ld[i], OIMG_MT_OCI_LAYER_GZIP, gz[i]);
        struct oimg_digest diff = bt_sha(t);
        free(t.p);
        free(dirs[i]);
        /* remember diff_ids in the config below */
        dirs[i] = strdup(diff.str);
    }
    char *cfg = bt_fmt("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/x\"]},"
                       "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\",\"%s\"]}}",
                       dirs[0], dirs[1], dirs[2]);
    cfgb = (struct bt_buf){(unsigned char *)cfg, strlen(cfg)};
    desc(&cd, OIMG_MT_OCI_CONFIG, cfgb);
    char layers[4096] = "";
    for (int i = 0; i < NL; i++)
        snprintf(layers + strlen(layers), sizeof(layers) - strlen(layers),
                 "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}", i ? "," : "",
                 OIMG_MT_OCI_LAYER_GZIP, ld[i].digest.str, gz[i].n);
    char *man = bt_fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
                       "\"digest\":\"%s\",\"size\":%zu},\"layers\":[%s]}",
                       OIMG_MT_OCI_MANIFEST, OIMG_MT_OCI_CONFIG, cd.digest.str, cfgb.n, layers);
    manb = (struct bt_buf){(unsigned char *)man, strlen(man)};
    desc(&md, OIMG_MT_OCI_MANIFEST, manb);
    for (int i = 0; i < NL; i++)
        free(dirs[i]);

    char *lp = bt_fmt("%s/layout", top);
    struct oci_error *e = NULL;
    if (oimg_layout_open(&lay, lp, OIMG_LAYOUT_CREATE, &e) < 0) {
        fprintf(stderr, "layout: %s\n", e ? e->msg : "?");
        exit(1);
    }
    free(lp);
    for (int i = 0; i < NL; i++)
        put(gz[i]);
    put(cfgb);
    put(manb);
    CHECK_OK(oimg_layout_tag(lay, "img", &md, T_ERR));
}

static struct oimg_unpack_opts opts(void)
{
    struct oimg_unpack_opts o;
    oimg_unpack_opts_init(&o);
    o.no_sync = true;
    o.bundle.rootless = geteuid() != 0;
    return o;
}

/* The rootfs at dir/rootfs as a tar (the canonical form to compare). */
static struct bt_buf export_of(const char *dir)
{
    char *p = bt_fmt("%s/rootfs", dir);
    int rfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(p);
    struct bt_buf b = {0};
    if (rfd < 0)
        return b;
    int mfd = memfd_create("x", MFD_CLOEXEC);
    struct oci_error *e = NULL;
    if (oimg_export_tar(rfd, mfd, geteuid() != 0, NULL, NULL, &e) == 0) {
        b.n = (size_t)lseek(mfd, 0, SEEK_END);
        b.p = malloc(b.n ? b.n : 1);
        if (pread(mfd, b.p, b.n, 0) != (ssize_t)b.n)
            b.n = 0;
    }
    oci_error_free(e);
    close(mfd);
    close(rfd);
    return b;
}

static struct bt_buf reference;

static void same_as_unpack(const char *dest)
{
    struct bt_buf got = export_of(dest);
    CHECK(got.n > 0 && got.n == reference.n && memcmp(got.p, reference.p, got.n) == 0);
    char *a = bt_fmt("%s/config.json", dest), *b = bt_fmt("%s/ref/config.json", top);
    CHECK(bt_sh("cmp -s '%s' '%s'", a, b) == 0);
    free(a);
    free(b);
    free(got.p);
}

static bool exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* No temp dir of a bundle left in top. */
static bool no_temp_dirs(void)
{
    return bt_sh("! ls -a '%s' | grep -q 'ociimg-'", top) == 0;
}

static void feed(struct oimg_unpack_stream *s, const struct oimg_descriptor *d, struct bt_buf b,
                 size_t from, size_t to)
{
    for (size_t off = from; off < to;) {
        size_t n = to - off < 7000 ? to - off : 7000;
        CHECK_INT(oimg_unpack_stream_blob_data(s, d, b.p + off, n, NULL), 0);
        off += n;
    }
}

static void whole(struct oimg_unpack_stream *s, const struct oimg_descriptor *d, struct bt_buf b)
{
    CHECK_INT(oimg_unpack_stream_blob_begin(s, d, NULL), 0);
    feed(s, d, b, 0, b.n);
    CHECK_INT(oimg_unpack_stream_blob_end(s, d, 0, NULL), 0);
}

/* A stream into dest (from layout l, or none) with the image's manifest set. */
static struct oimg_unpack_stream *start(const char *dest, struct oimg_layout *l)
{
    struct oimg_unpack_opts o = opts();
    struct oimg_unpack_stream *s = NULL;
    CHECK_OK(oimg_unpack_stream_new(&s, dest, l, &o, T_ERR));
    if (s)
        CHECK_OK(oimg_unpack_stream_set_manifest(s, &md, manb.p, manb.n, T_ERR));
    return s;
}

static void test_reference(void)
{
    char *dest = bt_fmt("%s/ref", top);
    struct oimg_unpack_opts o = opts();
    CHECK_OK(oimg_unpack(NULL, lay, &md, dest, &o, T_ERR));
    reference = export_of(dest);
    CHECK(reference.n > 6 * 1024 * 1024);
    free(dest);
}

/* No layout: every byte comes through the stream, out of order. */
static void test_out_of_order(void)
{
    char *dest = bt_fmt("%s/b-order", top);
    struct oimg_unpack_opts o = opts();
    struct oimg_unpack_stream *s = NULL;
    CHECK_OK(oimg_unpack_stream_new(&s, dest, NULL, &o, T_ERR));
    if (!s)
        return;
    CHECK(oimg_unpack_stream_blob_begin(s, &ld[0], NULL) < 0); /* before the manifest */
    CHECK_OK(oimg_unpack_stream_set_manifest(s, &md, manb.p, manb.n, T_ERR));
    /* Layer 3 whole, then the big layer 2 half, then layer 1 in two parts
     * with the rest of layer 2 between them, the config last. */
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[2], NULL), 0);
    feed(s, &ld[2], gz[2], 0, gz[2].n);
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[1], NULL), 0);
    feed(s, &ld[1], gz[1], 0, gz[1].n / 2);
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[0], NULL), 0);
    feed(s, &ld[0], gz[0], 0, gz[0].n / 2);
    feed(s, &ld[1], gz[1], gz[1].n / 2, gz[1].n);
    /* Layer 3 starts over (not read yet: its spool is reset). */
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[2], NULL), 0);
    feed(s, &ld[2], gz[2], 0, gz[2].n);
    CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[2], 0, NULL), 0);
    feed(s, &ld[0], gz[0], gz[0].n / 2, gz[0].n);
    CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[0], 0, NULL), 0);
    CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[1], 0, NULL), 0);
    whole(s, &cd, cfgb);
    struct oimg_unpack_result res = {0};
    CHECK_OK(oimg_unpack_stream_finish(s, &res, T_ERR));
    CHECK_INT(res.layers, NL);
    CHECK(oimg_digest_equal(&res.manifest, &md.digest));
    CHECK(!oimg_unpack_stream_restarted(s));
    oimg_unpack_stream_free(s);
    same_as_unpack(dest);
    CHECK(no_temp_dirs());
    free(dest);
}

/* A layer the applier already read from starts over: the replayed prefix
 * is dropped, the result is the same. */
static void test_restart_after_read(void)
{
    char *dest = bt_fmt("%s/b-restart", top);
    struct oimg_unpack_stream *s = start(dest, NULL);
    if (!s)
        return;
    whole(s, &cd, cfgb);
    whole(s, &ld[0], gz[0]);
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[1], NULL), 0);
    feed(s, &ld[1], gz[1], 0, gz[1].n / 3);
    /* Let the applier take some of it. */
    for (int i = 0; i < 200 && !oimg_unpack_stream_restarted(s); i++) {
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[1], NULL), 0);
        feed(s, &ld[1], gz[1], 0, gz[1].n / 3);
    }
    CHECK(oimg_unpack_stream_restarted(s));
    feed(s, &ld[1], gz[1], gz[1].n / 3, gz[1].n);
    CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[1], 0, NULL), 0);
    whole(s, &ld[2], gz[2]);
    CHECK_OK(oimg_unpack_stream_finish(s, NULL, T_ERR));
    oimg_unpack_stream_free(s);
    same_as_unpack(dest);
    free(dest);
}

/* Everything already in the layout: nothing is pushed; and a stream that
 * pushes blobs present anyway (ignored). */
static void test_from_layout(void)
{
    char *dest = bt_fmt("%s/b-layout", top);
    struct oimg_unpack_stream *s = start(dest, lay);
    if (!s)
        return;
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[1], NULL), 0);
    feed(s, &ld[1], gz[1], 0, 100);
    CHECK_OK(oimg_unpack_stream_finish(s, NULL, T_ERR));
    oimg_unpack_stream_free(s);
    same_as_unpack(dest);
    free(dest);
}

/* The image with layer 1 listed again at the end (and its diff_id). */
struct repeated {
    char *man;
    struct bt_buf mb, c2;
    struct oimg_descriptor m2, c2d;
};

static void repeated_image(struct repeated *rp)
{
    char layers[4096] = "";
    const int order[] = {0, 1, 2, 0};
    for (int i = 0; i < 4; i++)
        snprintf(layers + strlen(layers), sizeof(layers) - strlen(layers),
                 "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}", i ? "," : "",
                 OIMG_MT_OCI_LAYER_GZIP, ld[order[i]].digest.str, gz[order[i]].n);
    /* diff_ids: the config's three plus layer 1's again */
    _cleanup_json_ json_object *cj = json_tokener_parse((char *)cfgb.p);
    json_object *ids = json_object_object_get(json_object_object_get(cj, "rootfs"), "diff_ids");
    json_object_array_add(ids, json_object_get(json_object_array_get_idx(ids, 0)));
    const char *ctext = json_object_to_json_string_ext(cj, JSON_C_TO_STRING_PLAIN);
    rp->c2 = (struct bt_buf){(unsigned char *)strdup(ctext), strlen(ctext)};
    desc(&rp->c2d, OIMG_MT_OCI_CONFIG, rp->c2);
    rp->man =
        bt_fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
               "\"digest\":\"%s\",\"size\":%zu},\"layers\":[%s]}",
               OIMG_MT_OCI_MANIFEST, OIMG_MT_OCI_CONFIG, rp->c2d.digest.str, rp->c2.n, layers);
    rp->mb = (struct bt_buf){(unsigned char *)rp->man, strlen(rp->man)};
    desc(&rp->m2, OIMG_MT_OCI_MANIFEST, rp->mb);
}

static void repeated_clear(struct repeated *rp)
{
    free(rp->man);
    free(rp->c2.p);
    oimg_descriptor_clear(&rp->c2d);
    oimg_descriptor_clear(&rp->m2);
}

/* A stream into dest with the repeated image's manifest set. */
static struct oimg_unpack_stream *start_repeated(const char *dest, struct oimg_layout *l,
                                                 struct repeated *rp)
{
    struct oimg_unpack_opts o = opts();
    struct oimg_unpack_stream *s = NULL;
    CHECK_OK(oimg_unpack_stream_new(&s, dest, l, &o, T_ERR));
    if (s)
        CHECK_OK(oimg_unpack_stream_set_manifest(s, &rp->m2, rp->man, rp->mb.n, T_ERR));
    return s;
}

/* A manifest listing layer 1 twice: the second is read from the layout
 * once the first is done. */
static void test_repeated_layer(void)
{
    struct repeated rp = {0};
    repeated_image(&rp);

    /* A layout without the blobs yet: they are "committed" as they end. */
    char *lp = bt_fmt("%s/layout2", top);
    struct oimg_layout *l2 = NULL;
    CHECK_OK(oimg_layout_open(&l2, lp, OIMG_LAYOUT_CREATE, T_ERR));
    char *dest = bt_fmt("%s/b-repeat", top);
    struct oimg_unpack_stream *s = start_repeated(dest, l2, &rp);
    struct oimg_digest got;
    struct oimg_descriptor *all[] = {&rp.c2d, &ld[0], &ld[1], &ld[2]};
    struct bt_buf *bufs[] = {&rp.c2, &gz[0], &gz[1], &gz[2]};
    for (int i = 0; i < 4; i++) {
        CHECK_INT(oimg_unpack_stream_blob_begin(s, all[i], NULL), 0);
        feed(s, all[i], *bufs[i], 0, bufs[i]->n);
        CHECK_OK(oimg_layout_blob_put(&got, l2, bufs[i]->p, bufs[i]->n, T_ERR));
        CHECK_INT(oimg_unpack_stream_blob_end(s, all[i], 0, NULL), 0);
    }
    struct oimg_unpack_result res = {0};
    CHECK_OK(oimg_unpack_stream_finish(s, &res, T_ERR));
    CHECK_INT(res.layers, 4);
    oimg_unpack_stream_free(s);
    /* Layer 1 again on top brings back opt/data/a and b and etc/remove-me. */
    char *p = bt_fmt("%s/rootfs/opt/data/a", dest);
    CHECK(exists(p));
    free(p);
    p = bt_fmt("%s/rootfs/big.bin", dest);
    CHECK(exists(p));
    free(p);
    oimg_layout_free(l2);
    free(lp);
    free(dest);
    repeated_clear(&rp);
}

/* The layer being applied arrives much faster than it applies (its spool
 * goes past the memory budget into a file), with a layout that receives
 * the blobs as they end. */
static void test_fast_layer(void)
{
    char *lp = bt_fmt("%s/layout3", top);
    struct oimg_layout *l3 = NULL;
    CHECK_OK(oimg_layout_open(&l3, lp, OIMG_LAYOUT_CREATE, T_ERR));
    char *dest = bt_fmt("%s/b-fast", top);
    struct oimg_unpack_stream *s = start(dest, l3);
    struct oimg_digest got;
    whole(s, &cd, cfgb);
    CHECK_OK(oimg_layout_blob_put(&got, l3, gz[0].p, gz[0].n, T_ERR));
    CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[0], 0, NULL), 0); /* never pushed: ignored */
    /* Layer 1 slowly at first, so that the applier is on it, then all. */
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[0], NULL), 0);
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[1], NULL), 0);
    size_t off = 0;
    for (int i = 0; i < 20; i++, off += 16384) {
        feed(s, &ld[1], gz[1], off, off + 16384);
        nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
    }
    feed(s, &ld[1], gz[1], off, gz[1].n);
    CHECK_OK(oimg_layout_blob_put(&got, l3, gz[1].p, gz[1].n, T_ERR));
    CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[1], 0, NULL), 0);
    /* end(0) promises the blob is in the layout. */
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[2], NULL), 0);
    feed(s, &ld[2], gz[2], 0, gz[2].n);
    CHECK_OK(oimg_layout_blob_put(&got, l3, gz[2].p, gz[2].n, T_ERR));
    CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[2], 0, NULL), 0);
    CHECK_OK(oimg_unpack_stream_finish(s, NULL, T_ERR));
    oimg_unpack_stream_free(s);
    same_as_unpack(dest);
    oimg_layout_free(l3);
    free(lp);
    free(dest);
}

/* big.bin's size in the bundle being built at top/.<name>.ociimg-*, or -1. */
static long long building_size(const char *name)
{
    char *pat = bt_fmt("%s/.%s.ociimg-*/rootfs/big.bin", top, name);
    glob_t g;
    long long n = -1;
    struct stat st;
    if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 1 && stat(g.gl_pathv[0], &st) == 0)
        n = (long long)st.st_size;
    globfree(&g);
    free(pat);
    return n;
}

static long long wait_size(const char *name, long long want, int ms)
{
    long long n = -1;
    for (int i = 0; i < ms / 10 && (n = building_size(name)) < want; i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    return n;
}

/* Past the memory budget, with a layout, a layer's bytes are read from the
 * file the downloader writes them into (.ociimg/partial/<alg>-<hex>), not
 * from a copy: the applier gets exactly as far as that file goes, before
 * the blob is committed. */
static void test_via_partial(void)
{
    char *lp = bt_fmt("%s/layout4", top);
    struct oimg_layout *l4 = NULL;
    CHECK_OK(oimg_layout_open(&l4, lp, OIMG_LAYOUT_CREATE, T_ERR));
    char *dest = bt_fmt("%s/b-partial", top);
    struct oimg_unpack_stream *s = start(dest, l4);
    struct oimg_digest got;
    if (!s || !l4)
        return;
    whole(s, &cd, cfgb);
    CHECK_OK(oimg_layout_blob_put(&got, l4, gz[0].p, gz[0].n, T_ERR));
    /* Layer 1 lacks its last byte while layer 2 is pushed: the applier
     * waits on it and frees no memory, so layer 2 goes past the budget
     * however fast this machine applies (a racing applier would free
     * chunks and let all of layer 2 through memory). */
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[0], NULL), 0);
    feed(s, &ld[0], gz[0], 0, gz[0].n - 1);

    /* The "downloader": every byte of layer 2 pushed, but only the first
     * 4.5 MiB in its partial file so far. */
    char *pdir = bt_fmt("%s/.ociimg/partial", lp);
    CHECK(bt_sh("mkdir -p '%s'", pdir) == 0);
    char *pf = bt_fmt("%s/sha256-%s", pdir, ld[1].digest.str + 7);
    int fd = open(pf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    const size_t first = 4608 * 1024;
    CHECK(gz[1].n > first + 1024 * 1024);
    CHECK(write(fd, gz[1].p, first) == (ssize_t)first);
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[1], NULL), 0);
    feed(s, &ld[1], gz[1], 0, gz[1].n);
    feed(s, &ld[0], gz[0], gz[0].n - 1, gz[0].n);
    CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[0], 0, NULL), 0);
    /* The applier stops where the file ends: no copy of its own to go on
     * with (big.bin is 6 MiB of incompressible data). */
    long long before = wait_size("b-partial", 6291456, 400);
    CHECK(before < 4608 * 1024);
    /* The rest lands: it goes on, still before the commit. */
    CHECK(write(fd, gz[1].p + first, gz[1].n - first) == (ssize_t)(gz[1].n - first));
    close(fd);
    CHECK_INT(wait_size("b-partial", 6291456, 10000), 6291456);
    CHECK_OK(oimg_layout_blob_put(&got, l4, gz[1].p, gz[1].n, T_ERR));
    CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[1], 0, NULL), 0);
    CHECK_OK(oimg_layout_blob_put(&got, l4, gz[2].p, gz[2].n, T_ERR));
    whole(s, &ld[2], gz[2]);
    struct oimg_unpack_result res = {0};
    CHECK_OK(oimg_unpack_stream_finish(s, &res, T_ERR));
    CHECK_INT(res.layers, NL);
    CHECK(!oimg_unpack_stream_restarted(s));
    oimg_unpack_stream_free(s);
    same_as_unpack(dest);
    oimg_layout_free(l4);
    free(pf);
    free(pdir);
    free(lp);
    free(dest);
}

/* Whether the bundle being built at top/.<name>.ociimg-* has rootfs/REL. */
static bool building_has(const char *name, const char *rel)
{
    char *pat = bt_fmt("%s/.%s.ociimg-*/rootfs/%s", top, name, rel);
    glob_t g;
    bool r = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 1;
    globfree(&g);
    free(pat);
    return r;
}

/* With a layout the applier leaves the blob digest of pushed bytes to the
 * downloader: the bundle appears only once the downloader has committed
 * every such blob.  Here layer 3's bytes are all applied, and then its
 * download fails (or never ends): no bundle. */
static void test_needs_commit(void)
{
    for (int fail = 0; fail < 2; fail++) {
        char *lp = bt_fmt("%s/layout-commit%d", top, fail);
        struct oimg_layout *l = NULL;
        CHECK_OK(oimg_layout_open(&l, lp, OIMG_LAYOUT_CREATE, T_ERR));
        char *name = bt_fmt("b-commit%d", fail);
        char *dest = bt_fmt("%s/%s", top, name);
        struct oimg_unpack_stream *s = start(dest, l);
        if (!s || !l)
            return;
        struct oimg_digest got;
        struct oimg_descriptor *all[] = {&cd, &ld[0], &ld[1]};
        struct bt_buf *bufs[] = {&cfgb, &gz[0], &gz[1]};
        for (int i = 0; i < 3; i++) {
            CHECK_INT(oimg_unpack_stream_blob_begin(s, all[i], NULL), 0);
            feed(s, all[i], *bufs[i], 0, bufs[i]->n);
            CHECK_OK(oimg_layout_blob_put(&got, l, bufs[i]->p, bufs[i]->n, T_ERR));
            CHECK_INT(oimg_unpack_stream_blob_end(s, all[i], 0, NULL), 0);
        }
        CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[2], NULL), 0);
        feed(s, &ld[2], gz[2], 0, gz[2].n);
        bool applied = false;
        for (int i = 0; i < 1000 && !(applied = building_has(name, "etc/layer3")); i++)
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        CHECK(applied);
        if (fail)
            CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[2], -OCI_ERR_DIGEST_MISMATCH, NULL), 0);
        struct oci_error *e = NULL;
        CHECK(oimg_unpack_stream_finish(s, NULL, &e) < 0);
        const char *want = fail ? "the download failed" : "never completed";
        if (!(e && strstr(e->msg, want)))
            fprintf(stderr, "finish: %s (want \"%s\")\n", e ? e->msg : "no error", want);
        CHECK(e && strstr(e->msg, want));
        oci_error_free(e);
        oimg_unpack_stream_free(s);
        CHECK(!exists(dest));
        CHECK(no_temp_dirs());
        oimg_layout_free(l);
        free(lp);
        free(name);
        free(dest);
    }
}

/* Flips byte at of the layout's copy of d (in place, same size). */
static void flip_in_layout(const char *lp, const struct oimg_descriptor *d, size_t at)
{
    char rel[256];
    CHECK_OK(oimg_digest_blob_path(rel, sizeof(rel), &d->digest, T_ERR));
    char *path = bt_fmt("%s/%s", lp, rel);
    CHECK(chmod(path, 0644) == 0);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0);
    unsigned char c = 0;
    CHECK(pread(fd, &c, 1, (off_t)at) == 1);
    c ^= 0xff;
    CHECK(pwrite(fd, &c, 1, (off_t)at) == 1);
    close(fd);
    free(path);
}

/* A layer the downloader verified into the layout before its turn is
 * applied from there without a second hash of its bytes: a byte of the
 * gzip header's timestamp changed in the layout afterwards goes unseen
 * (the tree is the same), while one inside the compressed tree still fails
 * the bundle through the tree's diff_id or the gzip stream's own checks. */
static void test_fetched(void)
{
    for (int inner = 0; inner < 2; inner++) {
        char *lp = bt_fmt("%s/layout-fetched%d", top, inner);
        struct oimg_layout *l = NULL;
        CHECK_OK(oimg_layout_open(&l, lp, OIMG_LAYOUT_CREATE, T_ERR));
        char *dest = bt_fmt("%s/b-fetched%d", top, inner);
        struct oimg_unpack_stream *s = start(dest, l);
        if (!s || !l)
            return;
        struct oimg_digest got;
        whole(s, &cd, cfgb);
        /* Layer 3 first and whole: the applier waits on layer 1 meanwhile. */
        CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[2], NULL), 0);
        feed(s, &ld[2], gz[2], 0, gz[2].n);
        CHECK_OK(oimg_layout_blob_put(&got, l, gz[2].p, gz[2].n, T_ERR));
        CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[2], 0, NULL), 0);
        flip_in_layout(lp, &ld[2], inner ? gz[2].n / 2 : 4 /* the header's MTIME */);
        for (int i = 0; i < 2; i++) {
            CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[i], NULL), 0);
            feed(s, &ld[i], gz[i], 0, gz[i].n);
            CHECK_OK(oimg_layout_blob_put(&got, l, gz[i].p, gz[i].n, T_ERR));
            CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[i], 0, NULL), 0);
        }
        struct oci_error *e = NULL;
        int r = oimg_unpack_stream_finish(s, NULL, &e);
        if (inner) {
            CHECK(r < 0);
            CHECK(e && strstr(e->msg, "layer 2"));
        } else {
            if (r < 0)
                fprintf(stderr, "finish: %s\n", e ? e->msg : "?");
            CHECK_INT(r, 0);
        }
        oci_error_free(e);
        oimg_unpack_stream_free(s);
        if (!inner)
            same_as_unpack(dest);
        CHECK(exists(dest) == !inner);
        CHECK(no_temp_dirs());
        oimg_layout_free(l);
        free(lp);
        free(dest);
    }
}

/* The repeated layer again, where this pull's download of layer 1 never
 * ends (another pull committed the blob first) and the copy in the layout
 * differs from the download in a byte the tree does not see (the gzip
 * header's MTIME): the first layer 1 is applied from the download without
 * a second hash, but the repeat reads the layout's copy, which this pull
 * did not verify, so it is hashed and the bundle fails. */
static void test_repeated_raced(void)
{
    struct repeated rp = {0};
    repeated_image(&rp);
    char *lp = bt_fmt("%s/layout-raced", top);
    struct oimg_layout *l = NULL;
    CHECK_OK(oimg_layout_open(&l, lp, OIMG_LAYOUT_CREATE, T_ERR));
    char *dest = bt_fmt("%s/b-raced", top);
    struct oimg_unpack_stream *s = start_repeated(dest, l, &rp);
    if (!s || !l)
        return;
    struct oimg_digest got;
    whole(s, &rp.c2d, rp.c2);
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[0], NULL), 0);
    feed(s, &ld[0], gz[0], 0, gz[0].n);
    CHECK_OK(oimg_layout_blob_put(&got, l, gz[0].p, gz[0].n, T_ERR));
    flip_in_layout(lp, &ld[0], 4);
    for (int i = 1; i < 3; i++) {
        CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[i], NULL), 0);
        feed(s, &ld[i], gz[i], 0, gz[i].n);
        CHECK_OK(oimg_layout_blob_put(&got, l, gz[i].p, gz[i].n, T_ERR));
        CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[i], 0, NULL), 0);
    }
    struct oci_error *e = NULL;
    CHECK(oimg_unpack_stream_finish(s, NULL, &e) < 0);
    CHECK(e && strstr(e->msg, "layer 3") && strstr(e->msg, "hashes to"));
    oci_error_free(e);
    oimg_unpack_stream_free(s);
    CHECK(!exists(dest));
    CHECK(no_temp_dirs());
    oimg_layout_free(l);
    free(lp);
    free(dest);
    repeated_clear(&rp);
}

/* A flipped byte fails the bundle, and nothing is left. */
static void test_corrupt(void)
{
    char *dest = bt_fmt("%s/b-corrupt", top);
    struct oimg_unpack_stream *s = start(dest, NULL);
    if (!s)
        return;
    whole(s, &cd, cfgb);
    whole(s, &ld[0], gz[0]);
    struct bt_buf bad = {malloc(gz[2].n), gz[2].n};
    memcpy(bad.p, gz[2].p, bad.n);
    bad.p[bad.n - 3] ^= 0xff; /* in the gzip trailer: the tar is fine, the digest is not */
    whole(s, &ld[2], bad);
    whole(s, &ld[1], gz[1]);
    struct oci_error *e = NULL;
    CHECK(oimg_unpack_stream_finish(s, NULL, &e) < 0);
    CHECK(e && strstr(e->msg, "layer 2"));
    oci_error_free(e);
    oimg_unpack_stream_free(s);
    CHECK(!exists(dest));
    CHECK(no_temp_dirs());
    free(bad.p);
    free(dest);
}

/* Bytes past a blob's declared size are refused as they are pushed (never
 * spooled), and fail the bundle. */
static void test_oversize(void)
{
    char *dest = bt_fmt("%s/b-oversize", top);
    struct oimg_unpack_stream *s = start(dest, NULL);
    if (!s)
        return;
    whole(s, &cd, cfgb);
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[0], NULL), 0);
    /* The last byte and more in one push: the applier cannot have all
     * of the blob before it. */
    feed(s, &ld[0], gz[0], 0, gz[0].n - 1);
    unsigned char tail[6] = {gz[0].p[gz[0].n - 1], 'e', 'x', 't', 'r', 'a'};
    CHECK_INT(oimg_unpack_stream_blob_data(s, &ld[0], tail, sizeof(tail), NULL), 0);
    CHECK_INT(oimg_unpack_stream_blob_end(s, &ld[0], 0, NULL), 0);
    whole(s, &ld[1], gz[1]);
    whole(s, &ld[2], gz[2]);
    struct oci_error *e = NULL;
    CHECK(oimg_unpack_stream_finish(s, NULL, &e) < 0);
    CHECK(e && strstr(e->msg, "layer 0") && strstr(e->msg, "more than"));
    oci_error_free(e);
    oimg_unpack_stream_free(s);
    CHECK(!exists(dest));
    CHECK(no_temp_dirs());
    free(dest);
}

/* free without finish cancels, also while the applier waits for bytes. */
static void test_cancel(void)
{
    char *dest = bt_fmt("%s/b-cancel", top);
    struct oimg_unpack_stream *s = start(dest, NULL);
    if (!s)
        return;
    whole(s, &cd, cfgb);
    CHECK_INT(oimg_unpack_stream_blob_begin(s, &ld[0], NULL), 0);
    feed(s, &ld[0], gz[0], 0, gz[0].n / 2);
    nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    oimg_unpack_stream_free(s);
    CHECK(!exists(dest));
    CHECK(no_temp_dirs());
    /* A non-empty destination is refused at once. */
    struct oimg_unpack_opts o = opts();
    char *full = bt_fmt("%s/full", top);
    mkdir(full, 0755);
    bt_write(full, "x", "x\n");
    s = NULL;
    struct oci_error *e = NULL;
    CHECK_INT(oimg_unpack_stream_new(&s, full, NULL, &o, &e), -OCI_ERR_EXISTS);
    CHECK(s == NULL);
    oci_error_free(e);
    free(full);
    free(dest);
}

int main(void)
{
    setup();
    T_RUN(test_reference);
    T_RUN(test_out_of_order);
    T_RUN(test_restart_after_read);
    T_RUN(test_from_layout);
    T_RUN(test_repeated_layer);
    T_RUN(test_fast_layer);
    T_RUN(test_via_partial);
    T_RUN(test_needs_commit);
    T_RUN(test_fetched);
    T_RUN(test_repeated_raced);
    T_RUN(test_corrupt);
    T_RUN(test_oversize);
    T_RUN(test_cancel);
    oimg_layout_free(lay);
    for (int i = 0; i < NL; i++) {
        free(gz[i].p);
        oimg_descriptor_clear(&ld[i]);
    }
    oimg_descriptor_clear(&cd);
    oimg_descriptor_clear(&md);
    free(cfgb.p);
    free(manb.p);
    free(reference.p);
    bt_rm_rf(top);
    free(top);
    return t_done();
}
