/* index.json: tag/untag (preservation, names), resolve, load_image with
 * nested indexes and platforms, hostile index.json files, and interop with
 * skopeo and umoci when they are installed. */
#include <sys/resource.h>
#include <sys/wait.h>

#include <ociimg/json.h>

#include "layout_t.h"

static json_object *load_index_json(struct oimg_layout *l)
{
    char *p = t_fmt("%s/index.json", oimg_layout_path(l));
    json_object *o = json_object_from_file(p);
    free(p);
    return o;
}

static const char *entry_name(json_object *m, size_t i)
{
    json_object *e = json_object_array_get_idx(m, i), *a = NULL, *v = NULL;
    if (json_object_object_get_ex(e, "annotations", &a) &&
        json_object_object_get_ex(a, OIMG_ANNOT_REF_NAME, &v))
        return json_object_get_string(v);
    return NULL;
}

static void test_tag_untag(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct t_image a = t_make_image(l, "amd64", "a", NULL);
    struct t_image b = t_make_image(l, "amd64", "b", NULL);
    struct oimg_descriptor da = t_image_desc(&a), db = t_image_desc(&b);
    CHECK_OK(oimg_layout_tag(l, "one", &da, T_ERR));
    CHECK_OK(oimg_layout_tag(l, "two", &db, T_ERR));
    CHECK_OK(oimg_layout_tag(l, "three", &da, T_ERR));
    /* Retagging replaces in place. */
    CHECK_OK(oimg_layout_tag(l, "one", &db, T_ERR));
    json_object *root = load_index_json(l);
    json_object *m = json_object_object_get(root, "manifests");
    CHECK_INT(json_object_array_length(m), 3);
    CHECK_STR(entry_name(m, 0), "one");
    CHECK_STR(entry_name(m, 1), "two");
    CHECK_STR(entry_name(m, 2), "three");
    json_object *dg = json_object_object_get(json_object_array_get_idx(m, 0), "digest");
    CHECK_STR(json_object_get_string(dg), b.manifest.str);
    json_object_put(root);

    CHECK_OK(oimg_layout_untag(l, "two", T_ERR));
    struct oci_error *e = NULL;
    CHECK_INT(oimg_layout_untag(l, "two", &e), -OCI_ERR_NOT_FOUND);
    CHECK(e && strstr(e->msg, "two"));
    oci_error_clear(&e);
    struct oimg_index *idx = NULL;
    CHECK_OK(oimg_layout_read_index(&idx, l, T_ERR));
    CHECK(idx && idx->n_manifests == 2);
    oimg_index_free(idx);
    CHECK_INT(t_verify(l, OIMG_VERIFY_ALL, true), 0);

    /* Tagging something absent, or with the wrong size, is refused. */
    struct oimg_digest absent;
    CHECK_OK(oimg_digest_buffer(&absent, OIMG_DIGEST_SHA256, "nothing", 7, T_ERR));
    struct oimg_descriptor dx = t_desc(OIMG_MT_OCI_MANIFEST, absent, 7);
    CHECK_INT(oimg_layout_tag(l, "x", &dx, &e), -OCI_ERR_NOT_FOUND);
    oci_error_clear(&e);
    oimg_descriptor_clear(&dx);
    dx = t_desc(OIMG_MT_OCI_MANIFEST, a.manifest, a.manifest_size + 1);
    CHECK_INT(oimg_layout_tag(l, "x", &dx, &e), -OCI_ERR_DIGEST_MISMATCH);
    oci_error_clear(&e);
    oimg_descriptor_clear(&dx);

    oimg_descriptor_clear(&da);
    oimg_descriptor_clear(&db);
    t_image_clear(&a);
    t_image_clear(&b);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

static void test_tag_names(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct t_image a = t_make_image(l, "amd64", "a", NULL);
    struct oimg_descriptor da = t_image_desc(&a);
    static const char *const good[] = {
        "latest", "v1.0.0", "a--b", "foo/bar:1", "sha256-abc.sig",
        "a@b+c",  "A_B",    "1",    "x/y/z",     "docker.io/library/busybox:1.36"};
    static const char *const bad[] = {"",     "-a",  "a-",    "a//b",       "/a",
                                      "a/",   "a b", "a---b", "a..b",       "a.-b",
                                      "a\nb", "ä",   "a:",    "tag\"quote", ".hidden"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(good); i++) {
        struct oci_error *e = NULL;
        int r = oimg_layout_tag(l, good[i], &da, &e);
        CHECK_INT(r, 0);
        if (r < 0)
            fprintf(stderr, "    %s: %s\n", good[i], e->msg);
        oci_error_free(e);
    }
    for (size_t i = 0; i < OCI_ARRAY_SIZE(bad); i++) {
        struct oci_error *e = NULL;
        int r = oimg_layout_tag(l, bad[i], &da, &e);
        CHECK_INT(r, -OCI_ERR_INVALID);
        if (r >= 0)
            fprintf(stderr, "    accepted \"%s\"\n", bad[i]);
        CHECK(e && strstr(e->msg, "invalid name"));
        oci_error_free(e);
    }
    char long_name[1100];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    struct oci_error *e = NULL;
    CHECK_INT(oimg_layout_tag(l, long_name, &da, &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    struct oimg_index *idx = NULL;
    CHECK_OK(oimg_layout_read_index(&idx, l, T_ERR));
    CHECK(idx && idx->n_manifests == OCI_ARRAY_SIZE(good));
    oimg_index_free(idx);
    oimg_descriptor_clear(&da);
    t_image_clear(&a);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

/* Whatever we do not know in index.json survives a tag. */
static void test_preserve_unknown(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct t_image a = t_make_image(l, "amd64", "a", NULL);
    char *ix =
        t_fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"annotations\":{\"k\":\"v\"},"
              "\"x-custom\":[1,2,{\"deep\":true}],\"manifests\":[{\"mediaType\":\"%s\","
              "\"digest\":\"%s\",\"size\":%lld,\"x-extra\":\"kept\",\"platform\":{"
              "\"os\":\"linux\",\"architecture\":\"amd64\"},\"annotations\":{"
              "\"org.opencontainers.image.ref.name\":\"old\",\"other\":\"1\"}}]}",
              OIMG_MT_OCI_INDEX, OIMG_MT_OCI_MANIFEST, a.manifest.str, (long long)a.manifest_size);
    t_write_at(l, "index.json", ix, strlen(ix));
    struct oimg_descriptor da = t_image_desc(&a);
    CHECK_OK(oimg_layout_tag(l, "new", &da, T_ERR));
    json_object *root = load_index_json(l);
    json_object *v = NULL;
    CHECK(json_object_object_get_ex(root, "x-custom", &v) && json_object_array_length(v) == 3);
    CHECK(json_object_object_get_ex(root, "annotations", &v));
    json_object *m = json_object_object_get(root, "manifests");
    CHECK_INT(json_object_array_length(m), 2);
    json_object *old = json_object_array_get_idx(m, 0);
    CHECK_STR(json_object_get_string(json_object_object_get(old, "x-extra")), "kept");
    CHECK(json_object_object_get_ex(old, "platform", &v));
    CHECK_STR(entry_name(m, 0), "old");
    CHECK_STR(entry_name(m, 1), "new");
    json_object_put(root);

    /* An index.json we cannot understand is not rewritten. */
    t_write_at(l, "index.json", "{\"schemaVersion\":2,\"manifests\":{}}", 34);
    struct oci_error *e = NULL;
    CHECK(oimg_layout_tag(l, "again", &da, &e) < 0);
    oci_error_clear(&e);
    char *p = t_fmt("%s/index.json", oimg_layout_path(l));
    FILE *f = fopen(p, "r");
    char buf[64] = {0};
    CHECK(fread(buf, 1, sizeof(buf) - 1, f) == 34);
    fclose(f);
    free(p);

    free(ix);
    oimg_descriptor_clear(&da);
    t_image_clear(&a);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

static void test_resolve(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct t_image a = t_make_image(l, "amd64", "a", NULL);
    struct t_image b = t_make_image(l, "amd64", "b", NULL);
    struct t_image c = t_make_image(l, "amd64", "c", NULL); /* never tagged */
    struct oimg_descriptor da = t_image_desc(&a), db = t_image_desc(&b), out = {0};
    struct oci_error *e = NULL;

    /* Empty layout. */
    CHECK_INT(oimg_layout_resolve(&out, l, NULL, NULL, &e), -OCI_ERR_NOT_FOUND);
    CHECK(e && strstr(e->msg, "no manifests"));
    oci_error_clear(&e);

    t_tag(l, "a", &da);
    CHECK_OK(oimg_layout_resolve(&out, l, NULL, NULL, T_ERR)); /* the only one */
    CHECK(oimg_digest_equal(&out.digest, &a.manifest));
    oimg_descriptor_clear(&out);
    t_tag(l, "a2", &da);
    CHECK_OK(oimg_layout_resolve(&out, l, NULL, NULL, T_ERR)); /* two names, one image */
    oimg_descriptor_clear(&out);
    t_tag(l, "b", &db);
    CHECK_INT(oimg_layout_resolve(&out, l, NULL, NULL, &e), -OCI_ERR_INVALID);
    CHECK(e && strstr(e->msg, "a, a2, b"));
    oci_error_clear(&e);

    CHECK_OK(oimg_layout_resolve(&out, l, "b", NULL, T_ERR));
    CHECK(oimg_digest_equal(&out.digest, &b.manifest));
    CHECK_STR(oimg_annotations_get(&out.annotations, OIMG_ANNOT_REF_NAME), "b");
    oimg_descriptor_clear(&out);
    CHECK_INT(oimg_layout_resolve(&out, l, "zz", NULL, &e), -OCI_ERR_NOT_FOUND);
    oci_error_clear(&e);
    CHECK_OK(oimg_layout_resolve(&out, l, "b", &b.manifest, T_ERR));
    oimg_descriptor_clear(&out);
    CHECK_INT(oimg_layout_resolve(&out, l, "b", &a.manifest, &e), -OCI_ERR_NOT_FOUND);
    oci_error_clear(&e);

    /* By digest: listed, then merely present (synthesised), then absent. */
    CHECK_OK(oimg_layout_resolve(&out, l, NULL, &a.manifest, T_ERR));
    CHECK_INT(out.size, a.manifest_size);
    oimg_descriptor_clear(&out);
    CHECK_OK(oimg_layout_resolve(&out, l, NULL, &c.manifest, T_ERR));
    CHECK_INT(out.size, c.manifest_size);
    CHECK_STR(out.media_type, OIMG_MT_OCI_MANIFEST);
    oimg_descriptor_clear(&out);
    CHECK_INT(oimg_layout_resolve(&out, l, NULL, &c.layer, &e), -OCI_ERR_INVALID);
    CHECK(e && strstr(e->msg, "not a manifest"));
    oci_error_clear(&e);
    struct oimg_digest absent;
    CHECK_OK(oimg_digest_buffer(&absent, OIMG_DIGEST_SHA256, "none", 4, T_ERR));
    CHECK_INT(oimg_layout_resolve(&out, l, NULL, &absent, &e), -OCI_ERR_NOT_FOUND);
    oci_error_clear(&e);

    /* A name listed twice for different images is ambiguous. */
    char *ix = t_fmt("{\"schemaVersion\":2,\"manifests\":["
                     "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld,\"annotations\":{"
                     "\"org.opencontainers.image.ref.name\":\"dup\"}},"
                     "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld,\"annotations\":{"
                     "\"org.opencontainers.image.ref.name\":\"dup\"}}]}",
                     OIMG_MT_OCI_MANIFEST, a.manifest.str, (long long)a.manifest_size,
                     OIMG_MT_OCI_MANIFEST, b.manifest.str, (long long)b.manifest_size);
    t_write_at(l, "index.json", ix, strlen(ix));
    CHECK_INT(oimg_layout_resolve(&out, l, "dup", NULL, &e), -OCI_ERR_INVALID);
    CHECK(e && strstr(e->msg, "ambiguous"));
    oci_error_clear(&e);
    /* Tagging it again makes it one entry. */
    t_tag(l, "dup", &da);
    struct oimg_index *idx = NULL;
    CHECK_OK(oimg_layout_read_index(&idx, l, T_ERR));
    CHECK(idx && idx->n_manifests == 1);
    oimg_index_free(idx);

    free(ix);
    oimg_descriptor_clear(&da);
    oimg_descriptor_clear(&db);
    t_image_clear(&a);
    t_image_clear(&b);
    t_image_clear(&c);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

static void test_load_image(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct t_image amd = t_make_image(l, "amd64", "m", NULL);
    struct t_image arm = t_make_image(l, "arm64", "m", NULL);
    struct oimg_descriptor ms[2] = {t_image_desc(&amd), t_image_desc(&arm)};
    static const char *const archs[] = {"amd64", "arm64"};
    int64_t isz = 0;
    struct oimg_digest ix = t_make_index(l, ms, archs, 2, &isz);
    struct oimg_descriptor di = t_desc(OIMG_MT_OCI_INDEX, ix, isz);
    /* index -> index -> manifests */
    int64_t osz = 0;
    struct oimg_digest outer = t_make_index(l, &di, NULL, 1, &osz);
    struct oimg_descriptor dout = t_desc(OIMG_MT_OCI_INDEX, outer, osz);

    struct oimg_platform want = {0};
    CHECK_OK(oimg_platform_parse(&want, "linux/arm64", T_ERR));
    struct oimg_image *img = NULL;
    CHECK_OK(oimg_layout_load_image(&img, l, &dout, &want, T_ERR));
    if (img) {
        CHECK(oimg_digest_equal(&img->desc.digest, &arm.manifest));
        CHECK(img->manifest && img->manifest->n_layers == 1);
        CHECK(img->config && img->config->architecture &&
              strcmp(img->config->architecture, "arm64") == 0);
        CHECK_INT(img->manifest_raw_len, arm.manifest_size);
        CHECK(memcmp(img->manifest_raw, arm.manifest_json, img->manifest_raw_len) == 0);
        CHECK(img->config_raw && img->config_raw_len > 0);
    }
    oimg_image_free(img);
    oimg_platform_clear(&want);

    CHECK_OK(oimg_platform_parse(&want, "linux/s390x", T_ERR));
    struct oci_error *e = NULL;
    img = NULL;
    CHECK_INT(oimg_layout_load_image(&img, l, &di, &want, &e), -OCI_ERR_PLATFORM);
    oci_error_clear(&e);
    oimg_platform_clear(&want);

    /* NULL platform: the host's (skip the check on hosts we did not build). */
    struct oimg_platform host = {0};
    CHECK_OK(oimg_platform_host(&host, T_ERR));
    if (host.architecture &&
        (!strcmp(host.architecture, "amd64") || !strcmp(host.architecture, "arm64"))) {
        img = NULL;
        CHECK_OK(oimg_layout_load_image(&img, l, &di, NULL, T_ERR));
        if (img)
            CHECK_STR(img->config->architecture, host.architecture);
        oimg_image_free(img);
    }
    oimg_platform_clear(&host);

    /* A plain manifest. */
    img = NULL;
    CHECK_OK(oimg_layout_load_image(&img, l, &ms[0], NULL, T_ERR));
    oimg_image_free(img);

    /* Nine nested indexes are too many. */
    struct oimg_descriptor cur = t_desc(OIMG_MT_OCI_INDEX, ix, isz);
    for (int i = 0; i < 9; i++) {
        int64_t sz = 0;
        struct oimg_digest d = t_make_index(l, &cur, NULL, 1, &sz);
        oimg_descriptor_clear(&cur);
        cur = t_desc(OIMG_MT_OCI_INDEX, d, sz);
    }
    img = NULL;
    CHECK_INT(oimg_layout_load_image(&img, l, &cur, NULL, &e), -OCI_ERR_TOO_LARGE);
    oci_error_clear(&e);
    oimg_descriptor_clear(&cur);

    /* An artifact: its config is not an image config. */
    struct oimg_digest empty = t_put_str(l, "{}");
    char *art =
        t_fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":"
              "\"application/vnd.example\",\"config\":{\"mediaType\":\"%s\",\"digest\":"
              "\"%s\",\"size\":2},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
              "\"size\":2}]}",
              OIMG_MT_OCI_MANIFEST, OIMG_MT_OCI_EMPTY, empty.str, OIMG_MT_OCI_EMPTY, empty.str);
    struct oimg_digest ad = t_put_str(l, art);
    struct oimg_descriptor dart = t_desc(OIMG_MT_OCI_MANIFEST, ad, (int64_t)strlen(art));
    img = NULL;
    CHECK_OK(oimg_layout_load_image(&img, l, &dart, NULL, T_ERR));
    CHECK(img && img->config == NULL && img->config_raw == NULL);
    oimg_image_free(img);

    /* The descriptor says index, the blob is a manifest: refused. */
    struct oimg_descriptor lie = t_desc(OIMG_MT_OCI_INDEX, amd.manifest, amd.manifest_size);
    img = NULL;
    CHECK_INT(oimg_layout_load_image(&img, l, &lie, NULL, &e), -OCI_ERR_INVALID);
    oci_error_clear(&e);
    oimg_descriptor_clear(&lie);

    /* A corrupted manifest is caught by its digest. */
    char *rel = t_blob_rel(&amd.manifest);
    char *bad = strdup(amd.manifest_json);
    bad[strlen(bad) - 2] ^= 1;
    t_write_at(l, rel, bad, strlen(bad));
    img = NULL;
    CHECK_INT(oimg_layout_load_image(&img, l, &ms[0], NULL, &e), -OCI_ERR_DIGEST_MISMATCH);
    oci_error_clear(&e);

    free(bad);
    free(rel);
    free(art);
    oimg_descriptor_clear(&dart);
    oimg_descriptor_clear(&ms[0]);
    oimg_descriptor_clear(&ms[1]);
    oimg_descriptor_clear(&di);
    oimg_descriptor_clear(&dout);
    t_image_clear(&amd);
    t_image_clear(&arm);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_hostile_index(void)
{
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct t_image a = t_make_image(l, "amd64", "a", NULL);
    struct oimg_descriptor da = t_image_desc(&a);
    t_tag(l, "a", &da);
    char *p = t_fmt("%s/index.json", oimg_layout_path(l));
    struct stat st;
    CHECK(stat(p, &st) == 0);
    CHECK(truncate(p, st.st_size / 2) == 0);
    struct oimg_index *idx = NULL;
    struct oci_error *e = NULL;
    CHECK_INT(oimg_layout_read_index(&idx, l, &e), -OCI_ERR_INVALID);
    CHECK(e && strstr(e->msg, "index.json"));
    oci_error_clear(&e);
    CHECK(oimg_layout_tag(l, "b", &da, &e) < 0);
    oci_error_clear(&e);
    struct oimg_verify_report rep = {0};
    CHECK_OK(oimg_layout_verify(&rep, l, 0, T_ERR));
    CHECK(rep.n_problems >= 1 && t_has_problem(&rep, "index.json", NULL));
    oimg_verify_report_clear(&rep);
    struct oimg_gc_report g = {0};
    CHECK(oimg_layout_gc(&g, l, false, &e) < 0);
    oci_error_clear(&e);
    CHECK_INT(oimg_layout_blob_stat(l, &a.manifest, NULL, NULL), 1);

    /* 100 MB (sparse): refused by size before anything is allocated. */
    CHECK(truncate(p, 100l << 20) == 0);
    long before = maxrss_kb();
    CHECK_INT(oimg_layout_read_index(&idx, l, &e), -OCI_ERR_TOO_LARGE);
    oci_error_clear(&e);
    struct oimg_descriptor out = {0};
    CHECK_INT(oimg_layout_resolve(&out, l, "a", NULL, &e), -OCI_ERR_TOO_LARGE);
    oci_error_clear(&e);
    CHECK_INT(oimg_layout_tag(l, "b", &da, &e), -OCI_ERR_TOO_LARGE);
    oci_error_clear(&e);
    CHECK_OK(oimg_layout_verify(&rep, l, 0, T_ERR));
    CHECK(t_has_problem(&rep, "index.json", "limit"));
    oimg_verify_report_clear(&rep);
    CHECK(oimg_layout_gc(&g, l, false, &e) < 0);
    oci_error_clear(&e);
    CHECK(maxrss_kb() - before < 20 * 1024);

    /* Missing, deeply nested, not JSON. */
    unlink(p);
    CHECK_INT(oimg_layout_read_index(&idx, l, &e), -OCI_ERR_NOT_FOUND);
    oci_error_clear(&e);
    char deep[20001];
    for (int i = 0; i < 10000; i++) {
        deep[i] = '[';
        deep[19999 - i] = ']';
    }
    deep[20000] = '\0';
    t_write_at(l, "index.json", deep, 20000);
    CHECK(oimg_layout_read_index(&idx, l, &e) < 0);
    oci_error_clear(&e);
    CHECK_OK(oimg_layout_verify(&rep, l, 0, T_ERR));
    CHECK(rep.n_problems >= 1);
    oimg_verify_report_clear(&rep);
    t_write_at(l, "index.json",
               "\x7f"
               "ELF",
               4);
    CHECK(oimg_layout_read_index(&idx, l, &e) < 0);
    oci_error_clear(&e);

    free(p);
    oimg_descriptor_clear(&da);
    t_image_clear(&a);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

static bool have_tool(const char *name)
{
    char *cmd = t_fmt("command -v %s >/dev/null 2>&1", name);
    int r = system(cmd);
    free(cmd);
    return r == 0;
}

/* What we write is accepted by skopeo and umoci (when installed). */
static void test_interop(void)
{
    bool skopeo = have_tool("skopeo"), umoci = have_tool("umoci");
    if (!skopeo && !umoci) {
        fprintf(stderr, "    skipped: neither skopeo nor umoci installed\n");
        return;
    }
    char *top = NULL;
    struct oimg_layout *l = t_new_layout(&top);
    struct t_image a = t_make_image(l, "amd64", "interop", NULL);
    struct t_image b = t_make_image(l, "arm64", "interop", NULL);
    struct oimg_descriptor da = t_image_desc(&a), db = t_image_desc(&b);
    t_tag(l, "v1", &da);
    t_tag(l, "gone", &db);
    CHECK_OK(oimg_layout_untag(l, "gone", T_ERR));
    struct oimg_gc_report g = {0};
    CHECK_OK(oimg_layout_gc(&g, l, false, T_ERR));
    CHECK_INT(g.n_removed, 3);
    oimg_gc_report_clear(&g);
    const char *dir = oimg_layout_path(l);
    if (skopeo) {
        char *cmd = t_fmt("skopeo inspect --raw oci:%s:v1 >/dev/null && "
                          "skopeo inspect --config oci:%s:v1 | grep -q interop",
                          dir, dir);
        CHECK_INT(system(cmd), 0);
        free(cmd);
    }
    if (umoci) {
        char *cmd = t_fmt("umoci ls --layout %s | grep -qx v1", dir);
        CHECK_INT(system(cmd), 0);
        free(cmd);
    }
    oimg_descriptor_clear(&da);
    oimg_descriptor_clear(&db);
    t_image_clear(&a);
    t_image_clear(&b);
    oimg_layout_free(l);
    t_rm_rf(top);
    free(top);
}

int main(void)
{
    T_RUN(test_tag_untag);
    T_RUN(test_tag_names);
    T_RUN(test_preserve_unknown);
    T_RUN(test_resolve);
    T_RUN(test_load_image);
    T_RUN(test_hostile_index);
    T_RUN(test_interop);
    return t_done();
}
