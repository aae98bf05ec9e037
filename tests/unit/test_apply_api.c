/* The applier's API: media types, compressions (multi-member gzip,
 * multi-frame zstd, autodetection), diff_id and stats, readers that trickle
 * or fail, truncated and trailing data, id maps, the rootless xattr
 * encoding, the state machine. */
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>
#include <zstd.h>

#include <ociimg/digest.h>

#include "t.h"
#include "test_apply_util.h"

#define OCI_TAR "application/vnd.oci.image.layer.v1.tar"
#define OCI_GZ "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"

static char *tmp;
static unsigned char *tarbuf;
static size_t tarlen;

/* A small tar made with libarchive's writer (to memory). */
static void make_tar(uint32_t uid)
{
    size_t cap = 1 << 20;
    free(tarbuf);
    tarbuf = malloc(cap);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_memory(a, tarbuf, cap, &tarlen);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "d/");
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    archive_write_header(a, e);
    archive_entry_clear(e);
    const char data[] = "hello, layer\n";
    archive_entry_set_pathname(e, "d/f");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_uid(e, uid);
    archive_entry_set_gid(e, uid);
    archive_entry_set_size(e, sizeof(data) - 1);
    archive_write_header(a, e);
    archive_write_data(a, data, sizeof(data) - 1);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "d/l");
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_symlink(e, "f");
    archive_write_header(a, e);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
}

static size_t gzip_member(unsigned char *out, size_t cap, const unsigned char *in, size_t len)
{
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

/* Applies blob into a fresh rootfs; returns the result, fills st and msg. */
static int apply_blob(const char *media, const unsigned char *blob, size_t len, size_t chunk,
                      size_t fail_at, const struct oimg_digest *diff_id,
                      const struct oimg_apply_opts *opts, struct oimg_apply_stats *st,
                      char *root_out)
{
    static int n;
    char root[4096];
    xsnprintf(root, sizeof(root), "%s/r%d", tmp, n++);
    mkdir(root, 0755);
    if (root_out)
        strcpy(root_out, root);
    int rootfd = open(root, O_RDONLY | O_DIRECTORY);
    struct oimg_applier *a = NULL;
    struct oci_error *err = NULL;
    struct mem_reader m = {blob, len, 0, chunk, fail_at};
    struct oimg_reader r = {mem_read, &m};
    int rc = oimg_applier_new(&a, rootfd, opts, &err);
    if (rc == 0)
        rc = oimg_applier_apply(a, media, &r, diff_id, st, &err);
    if (rc == 0)
        rc = oimg_applier_finish(a, &err);
    if (rc < 0 && getenv("OCIIMG_TEST_VERBOSE"))
        fprintf(stderr, "    %s\n", err ? err->msg : "(no message)");
    if (rc < 0)
        CHECK(err && err->msg && *err->msg);
    oci_error_free(err);
    oimg_applier_free(a);
    close(rootfd);
    return rc;
}

static bool file_is(const char *root, const char *rel, const char *want)
{
    char p[4096], buf[256] = {0};
    xsnprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return strcmp(buf, want) == 0;
}

static void test_media_types(void)
{
    CHECK_INT(oimg_apply_media_type_compression(OCI_TAR), OIMG_LAYER_TAR);
    CHECK_INT(oimg_apply_media_type_compression(OCI_GZ), OIMG_LAYER_GZIP);
    CHECK_INT(oimg_apply_media_type_compression(OCI_ZSTD), OIMG_LAYER_ZSTD);
    CHECK_INT(oimg_apply_media_type_compression(
                  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"),
              OIMG_LAYER_ZSTD);
    CHECK_INT(
        oimg_apply_media_type_compression("application/vnd.docker.image.rootfs.diff.tar.gzip"),
        OIMG_LAYER_GZIP);
    CHECK_INT(oimg_apply_media_type_compression(
                  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"),
              OIMG_LAYER_GZIP);
    CHECK_INT(oimg_apply_media_type_compression("application/vnd.oci.image.config.v1+json"),
              -OCI_ERR_UNSUPPORTED);
    CHECK_INT(oimg_apply_media_type_compression(NULL), -OCI_ERR_UNSUPPORTED);
    make_tar(0);
    CHECK_INT(apply_blob("application/x-tar", tarbuf, tarlen, 0, 0, NULL, NULL, NULL, NULL),
              -OCI_ERR_UNSUPPORTED);
}

static void test_rootless_encoding(void)
{
    uint8_t b[12];
    CHECK_INT(oimg_apply_rootless_encode(b, 0, 0), 0);
    CHECK_INT(oimg_apply_rootless_encode(b, 1000, 1000), 6);
    CHECK(memcmp(b, "\x08\xe8\x07\x10\xe8\x07", 6) == 0);
    CHECK_INT(oimg_apply_rootless_encode(b, 0, 5), 8);
    CHECK(memcmp(b, "\x08\xff\xff\xff\xff\x0f\x10\x05", 8) == 0);
    CHECK_INT(oimg_apply_rootless_encode(b, 0xFFFFFFFEu, 1), 8);
    CHECK(memcmp(b, "\x08\xfe\xff\xff\xff\x0f\x10\x01", 8) == 0);
}

static void check_compressions(void)
{
    make_tar(0);
    struct oimg_digest want;
    CHECK_OK(oimg_digest_buffer(&want, OIMG_DIGEST_SHA256, tarbuf, tarlen, T_ERR));
    size_t cap = 2 * tarlen + 4096;
    unsigned char *gz = malloc(cap), *zs = malloc(cap);
    /* Two gzip members, split mid-stream, plus trailing zero padding. */
    size_t half = tarlen / 3;
    size_t gl = gzip_member(gz, cap, tarbuf, half);
    gl += gzip_member(gz + gl, cap - gl, tarbuf + half, tarlen - half);
    size_t gl_pad = gl + 64;
    memset(gz + gl, 0, 64);
    /* Two zstd frames. */
    size_t zl = ZSTD_compress(zs, cap, tarbuf, half, 3);
    zl += ZSTD_compress(zs + zl, cap - zl, tarbuf + half, tarlen - half, 3);

    struct {
        const char *media;
        const unsigned char *blob;
        size_t len, chunk;
    } v[] = {
        {OCI_TAR, tarbuf, tarlen, 0},
        {OCI_TAR, tarbuf, tarlen, 1},
        {OCI_GZ, gz, gl, 0},
        {OCI_GZ, gz, gl_pad, 7},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", gz, gl, 3},
        {OCI_ZSTD, zs, zl, 0},
        {OCI_ZSTD, zs, zl, 1},
        {NULL, gz, gl, 0},
        {NULL, zs, zl, 0},
        {NULL, tarbuf, tarlen, 2},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct oimg_apply_stats st;
        char root[4096];
        int r = apply_blob(v[i].media, v[i].blob, v[i].len, v[i].chunk, 0, &want, NULL, &st, root);
        CHECK_INT(r, 0);
        if (r != 0)
            fprintf(stderr, "  variant %zu (%s) failed\n", i, v[i].media ? v[i].media : "auto");
        CHECK(oimg_digest_equal(&st.diff_id, &want));
        CHECK_INT(st.uncompressed_bytes, tarlen);
        CHECK_INT(st.compressed_bytes, v[i].len);
        CHECK_INT(st.entries, 3);
        CHECK_INT(st.files, 1);
        CHECK_INT(st.dirs, 1);
        CHECK_INT(st.symlinks, 1);
        CHECK(file_is(root, "d/f", "hello, layer\n"));
    }

    /* Broken streams. */
    CHECK_INT(apply_blob(OCI_GZ, gz, gl - 10, 0, 0, NULL, NULL, NULL, NULL), -OCI_ERR_INVALID);
    CHECK_INT(apply_blob(OCI_ZSTD, zs, zl - 5, 0, 0, NULL, NULL, NULL, NULL), -OCI_ERR_INVALID);
    memcpy(gz + gl, "garbage!", 8);
    CHECK_INT(apply_blob(OCI_GZ, gz, gl + 8, 0, 0, NULL, NULL, NULL, NULL), -OCI_ERR_INVALID);
    CHECK_INT(apply_blob(OCI_TAR, tarbuf, 700, 0, 0, NULL, NULL, NULL, NULL), -OCI_ERR_INVALID);
    CHECK_INT(apply_blob(OCI_ZSTD, tarbuf, tarlen, 0, 0, NULL, NULL, NULL, NULL), -OCI_ERR_INVALID);
    /* A reader failing mid-stream: its own error comes back. */
    CHECK_INT(apply_blob(OCI_GZ, gz, gl, 16, gl / 2, NULL, NULL, NULL, NULL), -OCI_ERR_NETWORK);
    CHECK_INT(apply_blob(OCI_TAR, tarbuf, tarlen, 512, 1024, NULL, NULL, NULL, NULL),
              -OCI_ERR_NETWORK);
    /* An empty blob is an empty layer. */
    CHECK_INT(apply_blob(OCI_TAR, tarbuf, 0, 0, 0, NULL, NULL, NULL, NULL), 0);
    free(gz);
    free(zs);
}

static void test_compressions_threaded(void)
{
    check_compressions();
}

static void test_compressions_unthreaded(void)
{
    setenv("OCIIMG_APPLY_THREADS", "0", 1);
    check_compressions();
    unsetenv("OCIIMG_APPLY_THREADS");
}

static void test_id_maps(void)
{
    struct oimg_idmap map = {0, 100000, 65536};
    struct oimg_apply_opts o;
    oimg_apply_opts_init(&o);
    o.no_sync = true;
    o.uid_map = o.gid_map = &map;
    o.n_uid_map = o.n_gid_map = 1;
    make_tar(1000);
    char root[4096], p[4200];
    struct stat st;
    CHECK_INT(apply_blob(OCI_TAR, tarbuf, tarlen, 0, 0, NULL, &o, NULL, root), 0);
    xsnprintf(p, sizeof(p), "%s/d/f", root);
    CHECK(lstat(p, &st) == 0 && st.st_uid == 101000 && st.st_gid == 101000);
    xsnprintf(p, sizeof(p), "%s/d", root);
    CHECK(lstat(p, &st) == 0 && st.st_uid == 100000);
    make_tar(70000);
    CHECK_INT(apply_blob(OCI_TAR, tarbuf, tarlen, 0, 0, NULL, &o, NULL, NULL), -OCI_ERR_INVALID);
    /* A map that wraps is refused up front. */
    struct oimg_idmap bad = {0, 0xFFFFFFF0u, 100};
    o.uid_map = &bad;
    struct oimg_applier *a = NULL;
    struct oci_error *err = NULL;
    CHECK_INT(oimg_applier_new(&a, AT_FDCWD, &o, &err), -OCI_ERR_INVALID);
    oci_error_free(err);
}

static void test_states(void)
{
    make_tar(0);
    char root[4096];
    xsnprintf(root, sizeof(root), "%s/states", tmp);
    mkdir(root, 0755);
    int rootfd = open(root, O_RDONLY | O_DIRECTORY);
    struct oimg_applier *a = NULL;
    struct oci_error *err = NULL;
    CHECK_OK(oimg_applier_new(&a, rootfd, NULL, T_ERR));
    struct mem_reader m = {tarbuf, tarlen, 0, 0, 0};
    struct oimg_reader r = {mem_read, &m};
    CHECK_OK(oimg_applier_apply(a, OCI_TAR, &r, NULL, NULL, T_ERR));
    m.pos = 0;
    CHECK_OK(oimg_applier_apply(a, OCI_TAR, &r, NULL, NULL, T_ERR)); /* again: replaces */
    CHECK_OK(oimg_applier_finish(a, T_ERR));
    m.pos = 0;
    CHECK_INT(oimg_applier_apply(a, OCI_TAR, &r, NULL, NULL, &err), -OCI_ERR_STATE);
    oci_error_clear(&err);
    CHECK_INT(oimg_applier_finish(a, &err), -OCI_ERR_STATE);
    oci_error_free(err);
    oimg_applier_free(a);
    oimg_applier_free(NULL);
    /* Not a directory. */
    int fd = open("/dev/null", O_RDONLY);
    CHECK(oimg_applier_new(&a, fd, NULL, NULL) < 0);
    close(fd);
    close(rootfd);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "skip: the id map checks need root\n");
        return 77;
    }
    tmp = make_tmpdir("apply-api");
    CHECK(tmp != NULL);
    T_RUN(test_media_types);
    T_RUN(test_rootless_encoding);
    T_RUN(test_compressions_threaded);
    T_RUN(test_compressions_unthreaded);
    T_RUN(test_id_maps);
    T_RUN(test_states);
    rm_rf(tmp);
    free(tmp);
    free(tarbuf);
    return t_done();
}
