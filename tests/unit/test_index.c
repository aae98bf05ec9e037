/* Image indexes: OCI and Docker manifest lists, the index rules, bad input
 * and real indexes from ../shared/fixtures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/model.h>

#include "t.h"

#define SHA_A "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
#define SHA_B "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"
#define ENTRY(mt, dg, plat) "{\"mediaType\":\"" mt "\",\"size\":7143,\"digest\":\"" dg "\"" plat "}"
#define PLAT(arch, os) ",\"platform\":{\"architecture\":\"" arch "\",\"os\":\"" os "\"}"
#define I(fields) "{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_OCI_INDEX "\"" fields "}"
#define ONE ",\"manifests\":[" ENTRY(OIMG_MT_OCI_MANIFEST, SHA_A, PLAT("amd64", "linux")) "]"

static char msg[2048];

static int parse(struct oimg_index **out, const char *doc, const char *mt)
{
    struct oci_error *e = NULL;
    msg[0] = '\0';
    int r = oimg_index_parse(out, doc, strlen(doc), mt, &e);
    if (e)
        snprintf(msg, sizeof(msg), "%s", e->msg);
    oci_error_free(e);
    return r;
}

static void reject_mt(const char *doc, const char *mt, int code, const char *want)
{
    struct oimg_index *idx = NULL;
    CHECK_INT(parse(&idx, doc, mt), -code);
    CHECK(idx == NULL);
    if (!strstr(msg, want)) {
        t_failed++;
        t_case_failed = 1;
        fprintf(stderr, "  message \"%s\"\n  lacks \"%s\"\n", msg, want);
    }
}

static void reject(const char *doc, int code, const char *want)
{
    reject_mt(doc, NULL, code, want);
}

static void oci_good(void)
{
    const char *doc = I(",\"artifactType\":\"application/vnd.example+type\",\"manifests\":[" ENTRY(
        OIMG_MT_OCI_MANIFEST, SHA_A,
        PLAT(
            "ppc64le",
            "linux")) "," ENTRY(OIMG_MT_OCI_INDEX, SHA_B,
                                ",\"annotations\":{\"" OIMG_ANNOT_REF_NAME
                                "\":\"v1\"}") "," ENTRY("application/customized.manifest+json",
                                                        SHA_B,
                                                        ",\"platform\":{\"architecture\":\"arm64\","
                                                        "\"os\":\"linux\",\"variant\":\"v8\","
                                                        "\"os.version\":\"1\",\"os.features\":["
                                                        "\"f\"]}") "],"
                                                                   "\"subject\":" ENTRY(
                                                                       OIMG_MT_OCI_MANIFEST, SHA_A,
                                                                       "") ","
                                                                           "\"annotations\":{\"com."
                                                                           "example.key1\":"
                                                                           "\"value1\"}");
    struct oimg_index *idx = NULL;
    CHECK_OK(parse(&idx, doc, OIMG_MT_OCI_INDEX));
    CHECK(idx != NULL);
    if (!idx)
        return;
    CHECK_INT(idx->schema_version, 2);
    CHECK(!idx->docker);
    CHECK_STR(idx->media_type, OIMG_MT_OCI_INDEX);
    CHECK_STR(idx->artifact_type, "application/vnd.example+type");
    CHECK_INT(idx->n_manifests, 3);
    CHECK_STR(idx->manifests[0].platform->architecture, "ppc64le");
    CHECK(idx->manifests[1].platform == NULL);
    CHECK_STR(oimg_annotations_get(&idx->manifests[1].annotations, OIMG_ANNOT_REF_NAME), "v1");
    CHECK_STR(idx->manifests[2].platform->variant, "v8");
    CHECK_STR(idx->manifests[2].platform->os_features[0], "f");
    CHECK(idx->subject != NULL);
    CHECK_STR(oimg_annotations_get(&idx->annotations, "com.example.key1"), "value1");
    oimg_index_free(idx);
    oimg_index_free(NULL);

    /* an empty layout's index.json */
    CHECK_OK(parse(&idx, "{\"schemaVersion\":2,\"manifests\":[]}", NULL));
    CHECK(idx && idx->n_manifests == 0 && idx->media_type == NULL);
    oimg_index_free(idx);
}

static void docker_list(void)
{
    const char *doc =
        "{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_DOCKER_LIST "\",\"manifests\":[" ENTRY(
            OIMG_MT_DOCKER_MANIFEST, SHA_A,
            PLAT("amd64", "linux")) "," ENTRY(OIMG_MT_DOCKER_MANIFEST, SHA_B,
                                              ",\"platform\":{\"architecture\":\"arm\",\"os\":"
                                              "\"linux\",\"variant\":\"v7\","
                                              "\"features\":[\"sse4\"]}") "]}";
    struct oimg_index *idx = NULL;
    CHECK_OK(parse(&idx, doc, OIMG_MT_DOCKER_LIST));
    CHECK(idx && idx->docker && idx->n_manifests == 2);
    if (idx)
        CHECK_STR(idx->manifests[1].platform->variant, "v7");
    oimg_index_free(idx);
    reject_mt(doc, OIMG_MT_OCI_INDEX, OCI_ERR_INVALID, "but the document was referenced as");
}

static void rules(void)
{
    reject("{\"mediaType\":\"" OIMG_MT_OCI_INDEX "\"" ONE "}", OCI_ERR_INVALID,
           "invalid image index: schemaVersion: required");
    reject("{\"schemaVersion\":1" ONE "}", OCI_ERR_UNSUPPORTED, "Docker schema1 manifests are not");
    reject("{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_OCI_MANIFEST "\"" ONE "}",
           OCI_ERR_INVALID, "(a manifest type)");
    reject(I(""), OCI_ERR_INVALID, "manifests: required");
    reject(I(",\"manifests\":{}"), OCI_ERR_INVALID,
           "manifests: must be an array of descriptors, not an object");
    reject(I(",\"manifests\":[" ENTRY(OIMG_MT_OCI_MANIFEST, SHA_A,
                                      ",\"platform\":{\"os\":\"linux\"}") "]"),
           OCI_ERR_INVALID, "manifests[0].platform.architecture: required");
    reject(I(",\"manifests\":[" ENTRY("", SHA_A, "") "]"), OCI_ERR_INVALID,
           "manifests[0].mediaType: not a valid media type");
    reject(I(",\"manifests\":[{\"mediaType\":\"a/b\",\"size\":\"7682\",\"digest\":\"" SHA_A "\"}]"),
           OCI_ERR_INVALID, "manifests[0].size: must be a non-negative integer, not a string");
    reject(I(ONE ",\"layers\":[]"), OCI_ERR_INVALID, "layers: not allowed in an image index");
    reject(I(ONE ",\"config\":{}"), OCI_ERR_INVALID, "config: not allowed in an image index");
    reject(I(ONE ",\"subject\":\"nope\""), OCI_ERR_INVALID,
           "subject: must be a descriptor object, not a string");
    reject(I(ONE ",\"annotations\":[]"), OCI_ERR_INVALID, "annotations: must be an object");
    reject_mt("{\"schemaVersion\":2" ONE "}", OIMG_MT_DOCKER_LIST, OCI_ERR_INVALID,
              "mediaType: absent (which means " OIMG_MT_OCI_INDEX ")");
}

static void bad_input(void)
{
    /* 100000 entries: refused by count before any work */
    size_t n = 100000;
    char *s = malloc(100 + n * 3);
    size_t o = (size_t)sprintf(s, "{\"schemaVersion\":2,\"manifests\":[");
    for (size_t i = 0; i < n; i++) {
        memcpy(s + o, "{}", 2);
        o += 2;
        s[o++] = i + 1 < n ? ',' : ']';
    }
    strcpy(s + o, "}");
    reject(s, OCI_ERR_TOO_LARGE, "manifests: has 100000 entries, more than the limit of 65536");
    free(s);
    reject("{\"schemaVersion\":2,\"manifests\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
           "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
           "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
           OCI_ERR_TOO_LARGE, "nesting deeper than");
    reject("{\"schemaVersion\":2,\"manifests\":[1,\"x\",null]}", OCI_ERR_INVALID,
           "manifests[0]: must be a descriptor object, not an integer (and 2 more problems)");
    reject("null", OCI_ERR_INVALID, "null");
}

static void detect_and_validate(void)
{
    enum oimg_doc_type t;
    const char *nomt = "{\"schemaVersion\":2,\"manifests\":[]}";
    CHECK_OK(oimg_doc_detect(&t, nomt, strlen(nomt), T_ERR));
    CHECK_INT(t, OIMG_DOC_INDEX);
    const char *docker = "{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_DOCKER_LIST "\"}";
    CHECK_OK(oimg_doc_detect(&t, docker, strlen(docker), T_ERR));
    CHECK_INT(t, OIMG_DOC_INDEX);

    struct oimg_problems p = {0};
    const char *bad = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/b\",\"size\":1,"
                      "\"digest\":\"" SHA_A "\",\"platform\":{}},{\"size\":-1}]}";
    CHECK_OK(oimg_validate_document(&p, OIMG_DOC_INDEX, bad, strlen(bad), T_ERR));
    CHECK_INT(p.n, 5);
    if (p.n == 5) {
        CHECK_STR(p.lines[0], "manifests[0].platform.architecture: required");
        CHECK_STR(p.lines[1], "manifests[0].platform.os: required");
        CHECK_STR(p.lines[2], "manifests[1].mediaType: required");
        CHECK_STR(p.lines[3], "manifests[1].digest: required");
        CHECK_STR(p.lines[4], "manifests[1].size: must be a non-negative integer, not -1");
    }
    oimg_problems_clear(&p);
    /* OIMG_DOC_UNKNOWN: the type is detected first */
    CHECK_OK(oimg_validate_document(&p, OIMG_DOC_UNKNOWN, bad, strlen(bad), T_ERR));
    CHECK_INT(p.n, 5);
    oimg_problems_clear(&p);
    /* the oci-layout file */
    const char *lay = "{\"imageLayoutVersion\":\"1.0.0\"}";
    CHECK_OK(oimg_validate_document(&p, OIMG_DOC_LAYOUT, lay, strlen(lay), T_ERR));
    CHECK_INT(p.n, 0);
    lay = "{\"imageLayoutVersion\":\"2.0.0\"}";
    CHECK_OK(oimg_validate_document(&p, OIMG_DOC_LAYOUT, lay, strlen(lay), T_ERR));
    CHECK(p.n == 1 &&
          strcmp(p.lines[0], "imageLayoutVersion: must be \"1.0.0\", not \"2.0.0\"") == 0);
    oimg_problems_clear(&p);
    lay = "{\"imageLayoutVersion\":1}";
    CHECK_OK(oimg_validate_document(&p, OIMG_DOC_LAYOUT, lay, strlen(lay), T_ERR));
    CHECK(p.n == 1 && strstr(p.lines[0], "must be a string"));
    oimg_problems_clear(&p);
    CHECK_OK(oimg_validate_document(&p, OIMG_DOC_LAYOUT, "{}", 2, T_ERR));
    CHECK(p.n == 1 && strcmp(p.lines[0], "imageLayoutVersion: required") == 0);
    oimg_problems_clear(&p);
}

static char *read_fixture(const char *rel, size_t *len)
{
    const char *shared = getenv("OCIIMG_SHARED");
    char path[4096];
    snprintf(path, sizeof(path), "%s/fixtures/%s", shared ? shared : "/nonexistent", rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    *len = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    return buf;
}

#define TD "containers-container-libs/image/internal/manifest/testdata/"

static void fixtures(void)
{
    static const struct {
        const char *file;
        int code;
        const char *want; /* "docker"/"oci" + entry count check, or message part */
        size_t n;
    } cases[] = {
        {TD "v2list.manifest.json", 0, "docker", 5},
        {TD "schema2list.json", 0, "docker", 0},
        {TD "schema2list-variants.json", 0, "docker", 4},
        {TD "v2list.everything.json", 0, "docker", 1},
        {TD "ociv1.image.index.json", 0, "oci", 2},
        {TD "ociv1nomime.image.index.json", 0, "oci", 2},
        {TD "oci1index.json", 0, "oci", 3},
        {TD "ocilist-variants.json", 0, "oci", 6},
        {TD "oci1.index.zstd-selection.json", 0, "oci", 0},
        {TD "oci1.index.zstd-selection2.json", 0, "oci", 0},
        {"regclient-regclient/testdata/testrepo/index.json", 0, "oci", 0},
        {"google-go-containerregistry/pkg/v1/layout/testdata/test_index/index.json", 0, "oci", 0},
        {"anchore-stereoscope/pkg/image/oci/testdata/multiplatform_oci_dir/index.json", 0, "oci",
         0},
        /* embedded data that does not match its digest */
        {TD "oci1.index.everything.json", -OCI_ERR_DIGEST_MISMATCH, "manifests[0].data", 0},
        /* a manifest is not an index */
        {TD "ociv1.manifest.json", -OCI_ERR_INVALID, "(a manifest type)", 0},
        {TD "v2s1.manifest.json", -OCI_ERR_UNSUPPORTED, "schema1", 0},
        /* not RFC 6838 */
        {"containers-container-libs/image/oci/layout/fixtures/name_lookups/index.json",
         -OCI_ERR_INVALID, "manifests[4].mediaType: not a valid media type", 0},
    };
    size_t seen = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;
        char *buf = read_fixture(cases[i].file, &len);
        if (!buf)
            continue;
        seen++;
        struct oimg_index *idx = NULL;
        struct oci_error *e = NULL;
        int r = oimg_index_parse(&idx, buf, len, NULL, &e);
        if (r != cases[i].code) {
            t_failed++;
            t_case_failed = 1;
            fprintf(stderr, "  %s: got %d (%s), expected %d\n", cases[i].file, r, e ? e->msg : "ok",
                    cases[i].code);
        } else if (r == 0) {
            CHECK(idx->docker == (strcmp(cases[i].want, "docker") == 0));
            if (cases[i].n)
                CHECK_INT(idx->n_manifests, cases[i].n);
        } else if (!strstr(e->msg, cases[i].want)) {
            t_failed++;
            t_case_failed = 1;
            fprintf(stderr, "  %s: \"%s\" lacks \"%s\"\n", cases[i].file, e->msg, cases[i].want);
        }
        oci_error_free(e);
        oimg_index_free(idx);
        free(buf);
    }
    if (!seen)
        fprintf(stderr,
                "  (skipped: no $OCIIMG_SHARED/fixtures; ../shared is developer/CI only)\n");
    else
        CHECK_INT(seen, sizeof(cases) / sizeof(cases[0]));
}

int main(void)
{
    T_RUN(oci_good);
    T_RUN(docker_list);
    T_RUN(rules);
    T_RUN(bad_input);
    T_RUN(detect_and_validate);
    T_RUN(fixtures);
    return t_done();
}
