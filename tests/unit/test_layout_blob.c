/* Blobs: put/stat/open/read, the streaming writer (verification, temp file
 * handling, never rewriting), and hostile names and files. */
#include <sys/file.h>

#include "layout_t.h"

static const char *const HEX0 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static void test_put_read(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct oimg_digest d;
    CHECK_OK(oimg_layout_blob_put(&d, l, "hello", 5, T_ERR));
    CHECK_STR(d.str, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");

    int64_t size = -1;
    CHECK_INT(oimg_layout_blob_stat(l, &d, &size, NULL), 1);
    CHECK_INT(size, 5);
    CHECK_INT(oimg_layout_blob_stat(l, &d, NULL, NULL), 1);

    char *buf = NULL;
    size_t len = 0;
    CHECK_OK(oimg_layout_blob_read(&buf, &len, l, &d, 5, 100, T_ERR));
    CHECK_INT(len, 5);
    CHECK_STR(buf, "hello");
    free(buf);
    buf = NULL;
    CHECK_OK(oimg_layout_blob_read(&buf, &len, l, &d, -1, 100, T_ERR));
    free(buf);
    buf = NULL;

    int fd = oimg_layout_blob_open(l, &d, NULL);
    CHECK(fd >= 0);
    char tmp[8] = {0};
    CHECK(read(fd, tmp, sizeof(tmp)) == 5);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);

    /* Mode 0644 whatever the umask, no temp files left. */
    char *rel = t_blob_rel(&d);
    struct stat st;
    CHECK(fstatat(oimg_layout_dirfd(l), rel, &st, 0) == 0 && (st.st_mode & 0777) == 0644);
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);

    /* Putting it again keeps the same file (never rewritten). */
    ino_t ino = st.st_ino;
    CHECK_OK(oimg_layout_blob_put(&d, l, "hello", 5, T_ERR));
    CHECK(fstatat(oimg_layout_dirfd(l), rel, &st, 0) == 0 && st.st_ino == ino);

    /* Errors: wrong size, cap, absent. */
    struct oci_error *e = NULL;
    CHECK_INT(oimg_layout_blob_read(&buf, &len, l, &d, 6, 100, &e), -OCI_ERR_DIGEST_MISMATCH);
    CHECK(e && strstr(e->msg, "size 5, expected 6"));
    oci_error_clear(&e);
    CHECK_INT(oimg_layout_blob_read(&buf, &len, l, &d, -1, 4, &e), -OCI_ERR_TOO_LARGE);
    oci_error_clear(&e);
    struct oimg_digest absent;
    char *s = t_fmt("sha256:%s", HEX0);
    CHECK_OK(oimg_digest_parse(&absent, s, T_ERR));
    CHECK_INT(oimg_layout_blob_stat(l, &absent, NULL, NULL), 0);
    CHECK_INT(oimg_layout_blob_read(&buf, &len, l, &absent, -1, 100, &e), -OCI_ERR_NOT_FOUND);
    oci_error_clear(&e);
    CHECK_INT(oimg_layout_blob_open(l, &absent, &e), -OCI_ERR_NOT_FOUND);
    oci_error_clear(&e);
    CHECK(buf == NULL);

    /* The empty blob. */
    CHECK_OK(oimg_layout_blob_put(&d, l, "", 0, T_ERR));
    CHECK_STR(d.str, s);
    CHECK_OK(oimg_layout_blob_read(&buf, &len, l, &d, 0, 0, T_ERR));
    CHECK_INT(len, 0);
    free(buf);
    free(s);
    free(rel);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

static void test_writer(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    const char *text = "streamed in three parts";
    struct oimg_digest want;
    CHECK_OK(oimg_digest_buffer(&want, OIMG_DIGEST_SHA256, text, strlen(text), T_ERR));

    struct oimg_blob_writer *w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, &want, (int64_t)strlen(text), T_ERR));
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 1);
    CHECK_OK(oimg_blob_writer_write(w, text, 8, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, text + 8, 3, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, text + 11, strlen(text) - 11, T_ERR));
    CHECK_INT(oimg_blob_writer_size(w), strlen(text));
    struct oimg_digest got;
    CHECK_OK(oimg_blob_writer_commit(w, &got, T_ERR));
    CHECK(oimg_digest_equal(&got, &want));
    struct oci_error *e = NULL;
    CHECK_INT(oimg_blob_writer_write(w, "x", 1, &e), -OCI_ERR_STATE);
    oci_error_clear(&e);
    oimg_blob_writer_free(w);
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);
    CHECK_INT(oimg_layout_blob_stat(l, &want, NULL, NULL), 1);

    /* No expectation: sha256 of whatever came. */
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, NULL, -1, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, "abc", 3, T_ERR));
    CHECK_OK(oimg_blob_writer_commit(w, &got, T_ERR));
    CHECK_STR(got.str, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    oimg_blob_writer_free(w);

    /* sha512 when the expected digest says so. */
    struct oimg_digest w512;
    CHECK_OK(oimg_digest_buffer(&w512, OIMG_DIGEST_SHA512, "abc", 3, T_ERR));
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, &w512, 3, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, "abc", 3, T_ERR));
    CHECK_OK(oimg_blob_writer_commit(w, &got, T_ERR));
    CHECK(oimg_digest_equal(&got, &w512));
    oimg_blob_writer_free(w);
    char *rel = t_blob_rel(&w512);
    struct stat st;
    CHECK(fstatat(oimg_layout_dirfd(l), rel, &st, 0) == 0);
    CHECK(strncmp(rel, "blobs/sha512/", 13) == 0);
    free(rel);

    /* Freed without commit: the temp file goes away, nothing published. */
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, NULL, -1, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, "abandoned", 9, T_ERR));
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 1);
    oimg_blob_writer_free(w);
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);
    struct oimg_digest ab;
    CHECK_OK(oimg_digest_buffer(&ab, OIMG_DIGEST_SHA256, "abandoned", 9, T_ERR));
    CHECK_INT(oimg_layout_blob_stat(l, &ab, NULL, NULL), 0);
    oimg_blob_writer_free(NULL);

    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

static void test_writer_mismatch(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct oimg_digest want;
    CHECK_OK(oimg_digest_buffer(&want, OIMG_DIGEST_SHA256, "expected", 8, T_ERR));
    struct oimg_digest other;
    CHECK_OK(oimg_digest_buffer(&other, OIMG_DIGEST_SHA256, "imposter", 8, T_ERR));

    /* Digest mismatch: error names both, temp removed, nothing published. */
    struct oimg_blob_writer *w = NULL;
    struct oci_error *e = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, &want, 8, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, "imposter", 8, T_ERR));
    CHECK_INT(oimg_blob_writer_commit(w, NULL, &e), -OCI_ERR_DIGEST_MISMATCH);
    CHECK(e && strstr(e->msg, want.str) && strstr(e->msg, other.str));
    oci_error_clear(&e);
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);
    CHECK_INT(oimg_blob_writer_commit(w, NULL, &e), -OCI_ERR_STATE);
    oci_error_clear(&e);
    oimg_blob_writer_free(w);
    CHECK_INT(oimg_layout_blob_stat(l, &want, NULL, NULL), 0);
    CHECK_INT(oimg_layout_blob_stat(l, &other, NULL, NULL), 0);

    /* More bytes than expected fail at write time. */
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, &want, 8, T_ERR));
    CHECK_INT(oimg_blob_writer_write(w, "expected!", 9, &e), -OCI_ERR_DIGEST_MISMATCH);
    oci_error_clear(&e);
    CHECK_INT(oimg_blob_writer_commit(w, NULL, &e), -OCI_ERR_STATE);
    oci_error_clear(&e);
    oimg_blob_writer_free(w);

    /* Fewer fail at commit. */
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, &want, 8, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, "expect", 6, T_ERR));
    CHECK_INT(oimg_blob_writer_commit(w, NULL, &e), -OCI_ERR_DIGEST_MISMATCH);
    CHECK(e && strstr(e->msg, "8 bytes") && strstr(e->msg, "6 bytes"));
    oci_error_clear(&e);
    oimg_blob_writer_free(w);

    /* Size alone. */
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, NULL, 3, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, "ab", 2, T_ERR));
    CHECK_INT(oimg_blob_writer_commit(w, NULL, &e), -OCI_ERR_DIGEST_MISMATCH);
    oci_error_clear(&e);
    oimg_blob_writer_free(w);
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);
    CHECK_INT(t_count_dir(l, "blobs/sha256"), 0);

    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

/* A blob that exists is kept as it is, even when a writer brings it again
 * (and even when the existing file is wrong: verify reports that). */
static void test_never_rewrite(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct oimg_digest d = t_put_str(l, "original");
    char *rel = t_blob_rel(&d);
    struct stat st1, st2;
    CHECK(fstatat(oimg_layout_dirfd(l), rel, &st1, 0) == 0);

    struct oimg_blob_writer *w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, &d, 8, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, "original", 8, T_ERR));
    struct oimg_digest got;
    CHECK_OK(oimg_blob_writer_commit(w, &got, T_ERR));
    oimg_blob_writer_free(w);
    CHECK(oimg_digest_equal(&got, &d));
    CHECK(fstatat(oimg_layout_dirfd(l), rel, &st2, 0) == 0);
    CHECK(st1.st_ino == st2.st_ino);
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);

    /* Corrupt it: a new commit of the right content does not replace it,
     * blob_read notices. */
    t_write_at(l, rel, "0riginal", 8);
    CHECK(fstatat(oimg_layout_dirfd(l), rel, &st1, 0) == 0);
    w = NULL;
    CHECK_OK(oimg_layout_blob_begin(&w, l, &d, 8, T_ERR));
    CHECK_OK(oimg_blob_writer_write(w, "original", 8, T_ERR));
    CHECK_OK(oimg_blob_writer_commit(w, &got, T_ERR));
    oimg_blob_writer_free(w);
    CHECK(fstatat(oimg_layout_dirfd(l), rel, &st2, 0) == 0 && st1.st_ino == st2.st_ino);
    char *buf = NULL;
    size_t len = 0;
    struct oci_error *e = NULL;
    CHECK_INT(oimg_layout_blob_read(&buf, &len, l, &d, 8, 100, &e), -OCI_ERR_DIGEST_MISMATCH);
    CHECK(e && strstr(e->msg, "content has digest"));
    oci_error_clear(&e);
    free(rel);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

/* Digests that must never become paths, and files that are not blobs. */
static void test_hostile(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct oci_error *e = NULL;
    struct oimg_digest d;
    CHECK(oimg_digest_parse(&d, "sha256:../../x", &e) < 0);
    oci_error_clear(&e);

    /* A struct filled by hand with a known alg and a hostile string. */
    struct oimg_digest evil = {.alg = OIMG_DIGEST_SHA256};
    snprintf(evil.str, sizeof(evil.str), "sha256:../../../../../../tmp/evil");
    char *buf = NULL;
    size_t len = 0;
    CHECK_INT(oimg_layout_blob_stat(l, &evil, NULL, &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK_INT(oimg_layout_blob_open(l, &evil, &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK_INT(oimg_layout_blob_read(&buf, &len, l, &evil, -1, 100, &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    struct oimg_blob_writer *w = NULL;
    CHECK_INT(oimg_layout_blob_begin(&w, l, &evil, -1, &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK(w == NULL);
    struct oimg_digest unk = {.alg = OIMG_DIGEST_UNKNOWN};
    snprintf(unk.str, sizeof(unk.str), "sha384:%s", HEX0);
    CHECK(oimg_layout_blob_stat(l, &unk, NULL, &e) < 0);
    oci_error_clear(&e);

    /* A symlink under a blob's name is not followed. */
    char *s = t_fmt("sha256:%s", HEX0);
    CHECK_OK(oimg_digest_parse(&d, s, T_ERR));
    free(s);
    char *rel = t_blob_rel(&d);
    mkdirat(oimg_layout_dirfd(l), "blobs/sha256", 0755);
    CHECK(symlinkat("/etc/passwd", oimg_layout_dirfd(l), rel) == 0);
    CHECK(oimg_layout_blob_open(l, &d, &e) < 0);
    CHECK(e && strstr(e->msg, "symlink"));
    oci_error_clear(&e);
    CHECK(oimg_layout_blob_stat(l, &d, NULL, &e) < 0);
    oci_error_clear(&e);
    CHECK(oimg_layout_blob_read(&buf, &len, l, &d, -1, 1 << 20, &e) < 0);
    oci_error_clear(&e);
    unlinkat(oimg_layout_dirfd(l), rel, 0);

    /* A FIFO does not hang a reader. */
    CHECK(mkfifoat(oimg_layout_dirfd(l), rel, 0644) == 0);
    CHECK(oimg_layout_blob_read(&buf, &len, l, &d, -1, 1 << 20, &e) < 0);
    CHECK(e && strstr(e->msg, "not a regular file"));
    oci_error_clear(&e);
    CHECK(oimg_layout_blob_open(l, &d, &e) < 0);
    oci_error_clear(&e);
    unlinkat(oimg_layout_dirfd(l), rel, 0);

    /* blobs/ itself a symlink leaving the layout: nothing read through it. */
    char *outside = t_fmt("%s/outside", top);
    mkdir(outside, 0755);
    char *od = t_fmt("%s/sha256", outside);
    mkdir(od, 0755);
    char *of = t_fmt("%s/%s", od, HEX0);
    FILE *f = fopen(of, "w");
    fclose(f); /* empty: the right content for HEX0 */
    int dfd = oimg_layout_dirfd(l);
    CHECK(renameat(dfd, "blobs", dfd, "blobs.real") == 0);
    CHECK(symlinkat(outside, dfd, "blobs") == 0);
    CHECK(oimg_layout_blob_read(&buf, &len, l, &d, -1, 100, &e) < 0);
    oci_error_clear(&e);
    CHECK(buf == NULL);
    unlinkat(dfd, "blobs", 0);
    renameat(dfd, "blobs.real", dfd, "blobs");

    free(of);
    free(od);
    free(outside);
    free(rel);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

int main(void)
{
    T_RUN(test_put_read);
    T_RUN(test_writer);
    T_RUN(test_writer_mismatch);
    T_RUN(test_never_rewrite);
    T_RUN(test_hostile);
    return t_done();
}
