/* The layout store: open/create (version check, race-safe creation,
 * read-only handles) and CLI reference parsing. */
#include <signal.h>
#include <sys/wait.h>

#include "layout_t.h"

static void test_open_errors(void)
{
    char *top = t_tmpdir();
    struct oimg_layout *l = NULL;
    struct oci_error *e = NULL;
    char *missing = t_fmt("%s/nope", top);
    CHECK_INT(oimg_layout_open(&l, missing, 0, &e), -OCI_ERR_NOT_FOUND);
    CHECK(l == NULL);
    oci_error_clear(&e);

    /* A plain directory is not a layout. */
    CHECK_INT(oimg_layout_open(&l, top, 0, &e), -OCI_ERR_NOT_FOUND);
    char *want = t_fmt("not an OCI image layout: `%s` has no oci-layout file", top);
    CHECK(e && strstr(e->msg, want));
    oci_error_clear(&e);
    free(want);

    /* Wrong version, not JSON, not an object. */
    char *p = t_fmt("%s/oci-layout", top);
    static const char *const bad[] = {"{\"imageLayoutVersion\":\"2.0.0\"}", "{not json",
                                      "[\"1.0.0\"]", "{}", "{\"imageLayoutVersion\":1}"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(bad); i++) {
        FILE *f = fopen(p, "w");
        fputs(bad[i], f);
        fclose(f);
        int r = oimg_layout_open(&l, top, 0, &e);
        CHECK(r < 0);
        CHECK(e && strstr(e->msg, "oci-layout"));
        if (i == 0)
            CHECK(e && strstr(e->msg, "2.0.0") && r == -OCI_ERR_UNSUPPORTED);
        oci_error_clear(&e);
    }
    CHECK_INT(oimg_layout_open(&l, top, OIMG_LAYOUT_CREATE | OIMG_LAYOUT_READONLY, &e),
              -OCI_ERR_INVALID);
    oci_error_clear(&e);
    CHECK_INT(oimg_layout_open(&l, "", 0, &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    free(p);
    free(missing);
    t_rm_rf(top);
    free(top);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_create(void)
{
    char *top = t_tmpdir();
    char *dir = t_fmt("%s/a/b/layout", top);
    struct oimg_layout *l = NULL;
    CHECK_OK(oimg_layout_open(&l, dir, OIMG_LAYOUT_CREATE, T_ERR));
    CHECK_STR(oimg_layout_path(l), dir);
    CHECK(oimg_layout_dirfd(l) >= 0);

    char *p = t_fmt("%s/oci-layout", dir);
    char *s = slurp(p);
    CHECK_STR(s, "{\"imageLayoutVersion\":\"1.0.0\"}");
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644);
    free(s);
    free(p);
    p = t_fmt("%s/index.json", dir);
    s = slurp(p);
    CHECK_STR(s, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                 "\"manifests\":[]}");
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644);
    free(s);
    free(p);
    p = t_fmt("%s/blobs", dir);
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    free(p);
    /* Creation's temp files are gone. */
    CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);

    struct oimg_index *idx = NULL;
    CHECK_OK(oimg_layout_read_index(&idx, l, T_ERR));
    CHECK(idx && idx->n_manifests == 0);
    oimg_index_free(idx);

    /* Creating again keeps what is there. */
    struct t_image im = t_make_image(l, "amd64", "x", NULL);
    struct oimg_descriptor d = t_image_desc(&im);
    t_tag(l, "latest", &d);
    oimg_layout_free(l);
    l = NULL;
    CHECK_OK(oimg_layout_open(&l, dir, OIMG_LAYOUT_CREATE, T_ERR));
    idx = NULL;
    CHECK_OK(oimg_layout_read_index(&idx, l, T_ERR));
    CHECK(idx && idx->n_manifests == 1);
    oimg_index_free(idx);
    oimg_layout_free(l);

    /* A directory half made by someone else (no index.json) is completed. */
    char *half = t_fmt("%s/half", top);
    mkdir(half, 0755);
    p = t_fmt("%s/oci-layout", half);
    FILE *f = fopen(p, "w");
    fputs("{\"imageLayoutVersion\":\"1.0.0\"}", f);
    fclose(f);
    free(p);
    l = NULL;
    CHECK_OK(oimg_layout_open(&l, half, OIMG_LAYOUT_CREATE, T_ERR));
    idx = NULL;
    CHECK_OK(oimg_layout_read_index(&idx, l, T_ERR));
    oimg_index_free(idx);
    oimg_layout_free(l);

    oimg_descriptor_clear(&d);
    t_image_clear(&im);
    free(half);
    free(dir);
    t_rm_rf(top);
    free(top);
}

/* Several processes creating the same layout at once all succeed and
 * leave one valid layout. */
static void test_create_race(void)
{
    char *top = t_tmpdir();
    char *dir = t_fmt("%s/raced", top);
    int go[2];
    CHECK(pipe(go) == 0);
    enum { N = 8 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) < 0)
                _exit(3);
            struct oimg_layout *l = NULL;
            struct oci_error *e = NULL;
            if (oimg_layout_open(&l, dir, OIMG_LAYOUT_CREATE, &e) < 0) {
                fprintf(stderr, "child: %s\n", e->msg);
                _exit(1);
            }
            oimg_layout_free(l);
            _exit(0);
        }
    }
    close(go[0]);
    close(go[1]); /* EOF releases them all at once */
    for (int i = 0; i < N; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    struct oimg_layout *l = NULL;
    CHECK_OK(oimg_layout_open(&l, dir, 0, T_ERR));
    struct oimg_index *idx = NULL;
    if (l)
        CHECK_OK(oimg_layout_read_index(&idx, l, T_ERR));
    oimg_index_free(idx);
    if (l) {
        CHECK_INT(t_count_dir(l, ".ociimg/tmp"), 0);
        CHECK_INT(t_verify(l, 0, true), 0); /* an empty layout is valid */
    }
    oimg_layout_free(l);
    free(dir);
    t_rm_rf(top);
    free(top);
}

/* Reading never creates our bookkeeping; READONLY refuses every write. */
static void test_readonly(void)
{
    char *top = NULL;
    struct oimg_layout *w = t_new_layout(&top);
    struct t_image im = t_make_image(w, "amd64", "ro", NULL);
    struct oimg_descriptor d = t_image_desc(&im);
    t_tag(w, "v1", &d);
    char *dir = strdup(oimg_layout_path(w));
    oimg_layout_free(w);
    char *state = t_fmt("%s/.ociimg", dir);
    t_rm_rf(state);

    for (int ro = 0; ro < 2; ro++) {
        struct oimg_layout *l = NULL;
        CHECK_OK(oimg_layout_open(&l, dir, ro ? OIMG_LAYOUT_READONLY : 0, T_ERR));
        if (!l)
            continue;
        struct oimg_index *idx = NULL;
        CHECK_OK(oimg_layout_read_index(&idx, l, T_ERR));
        oimg_index_free(idx);
        CHECK_INT(t_verify(l, OIMG_VERIFY_ALL, true), 0);
        struct oimg_image_summary *s = NULL;
        size_t n = 0;
        CHECK_OK(oimg_layout_list_images(&s, &n, l, T_ERR));
        oimg_image_summaries_free(s, n);
        struct oimg_descriptor r = {0};
        CHECK_OK(oimg_layout_resolve(&r, l, "v1", NULL, T_ERR));
        struct oimg_image *img = NULL;
        CHECK_OK(oimg_layout_load_image(&img, l, &r, NULL, T_ERR));
        oimg_image_free(img);
        oimg_descriptor_clear(&r);
        char *buf = NULL;
        size_t len = 0;
        CHECK_OK(oimg_layout_blob_read(&buf, &len, l, &im.layer, im.layer_size, 1 << 20, T_ERR));
        CHECK_INT(len, im.layer_size);
        free(buf);
        struct stat st;
        CHECK(stat(state, &st) < 0 && errno == ENOENT);
        if (ro) {
            struct oci_error *e = NULL;
            struct oimg_digest out;
            CHECK_INT(oimg_layout_blob_put(&out, l, "x", 1, &e), -OCI_ERR_STATE);
            oci_error_clear(&e);
            struct oimg_blob_writer *bw = NULL;
            CHECK_INT(oimg_layout_blob_begin(&bw, l, NULL, -1, &e), -OCI_ERR_STATE);
            oci_error_clear(&e);
            CHECK_INT(oimg_layout_tag(l, "v2", &d, &e), -OCI_ERR_STATE);
            oci_error_clear(&e);
            CHECK_INT(oimg_layout_untag(l, "v1", &e), -OCI_ERR_STATE);
            oci_error_clear(&e);
            struct oimg_gc_report g = {0};
            CHECK_INT(oimg_layout_gc(&g, l, true, &e), -OCI_ERR_STATE);
            oci_error_clear(&e);
            CHECK(stat(state, &st) < 0 && errno == ENOENT);
        }
        oimg_layout_free(l);
    }
    oimg_descriptor_clear(&d);
    t_image_clear(&im);
    free(state);
    free(dir);
    t_rm_rf(top);
    free(top);
}

static void ref_ok(const char *s, const char *dir, const char *name, const char *digest)
{
    struct oimg_layout_ref r = {0};
    struct oci_error *e = NULL;
    int rc = oimg_layout_ref_parse(&r, s, &e);
    CHECK_INT(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "    %s: %s\n", s, e ? e->msg : "?");
        oci_error_free(e);
        return;
    }
    CHECK_STR(r.dir, dir);
    if (name)
        CHECK_STR(r.name, name);
    else
        CHECK(r.name == NULL);
    CHECK_INT(r.has_digest, digest != NULL);
    if (digest)
        CHECK_STR(r.digest.str, digest);
    oimg_layout_ref_clear(&r);
}

static void ref_bad(const char *s)
{
    struct oimg_layout_ref r = {0};
    struct oci_error *e = NULL;
    CHECK_INT(oimg_layout_ref_parse(&r, s, &e), -OCI_ERR_INVALID);
    CHECK(e && e->msg);
    CHECK(r.dir == NULL);
    oci_error_free(e);
}

static void test_ref_parse(void)
{
    const char *hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    char *dg = t_fmt("sha256:%s", hex);
    char *s;
    ref_ok("dir", "dir", NULL, NULL);
    ref_ok("/tmp/x/dir", "/tmp/x/dir", NULL, NULL);
    ref_ok("dir:latest", "dir", "latest", NULL);
    /* No such directories: the first ':' splits, as skopeo's oci: does. */
    ref_ok("/nonexistent/b:c/d", "/nonexistent/b", "c/d", NULL);
    ref_ok("/nonexistent/b:c/d:e", "/nonexistent/b", "c/d:e", NULL);
    ref_ok("dir:a:b", "dir", "a:b", NULL);
    {
        /* An existing directory wins: a ':' in DIR, and names with '/' and ':'. */
        char tmpl[] = "/tmp/ociimg-refparse-XXXXXX";
        char *top = mkdtemp(tmpl);
        CHECK(top != NULL);
        char *colon_dir = t_fmt("%s/x:y", top);
        CHECK_INT(mkdir(colon_dir, 0700), 0);
        ref_ok(colon_dir, colon_dir, NULL, NULL);
        char *q = t_fmt("%s:tag", colon_dir);
        ref_ok(q, colon_dir, "tag", NULL);
        free(q);
        q = t_fmt("%s:example.com/app:1.0", top);
        ref_ok(q, top, "example.com/app:1.0", NULL);
        free(q);
        rmdir(colon_dir);
        rmdir(top);
        free(colon_dir);
    }
    ref_ok("scratch-dir-5pec!@L", "scratch-dir-5pec!@L", NULL, NULL);
    ref_ok("/x@y/dir:v1", "/x@y/dir", "v1", NULL);
    s = t_fmt("dir@%s", dg);
    ref_ok(s, "dir", NULL, dg);
    free(s);
    s = t_fmt("/some/where/dir:v1@%s", dg);
    ref_ok(s, "/some/where/dir", "v1", dg);
    free(s);

    ref_bad("");
    ref_bad("dir:");
    ref_bad(":name");
    ref_bad("dir@sha256:../../x");
    ref_bad("dir@sha256:abc");
    ref_bad("dir@md5:0123456789abcdef0123456789abcdef");
    s = t_fmt("dir@sha256:%.63sG", hex);
    ref_bad(s);
    free(s);
    s = t_fmt("dir@sha256:%s", hex);
    for (char *p = s + 11; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    ref_bad(s); /* uppercase hex */
    free(s);
    free(dg);
}

int main(void)
{
    T_RUN(test_open_errors);
    T_RUN(test_create);
    T_RUN(test_create_race);
    T_RUN(test_readonly);
    T_RUN(test_ref_parse);
    return t_done();
}
