/* Image manifests: OCI and Docker schema2, every manifest rule, schema1
 * refusal, bad input, and real manifests from ../shared/fixtures. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/model.h>

#include "t.h"

#define SHA_A "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
#define SHA_B "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0"
#define SHA_EMPTY "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define DESC(mt, dg, sz) "{\"mediaType\":\"" mt "\",\"digest\":\"" dg "\",\"size\":" #sz "}"
#define CONFIG DESC(OIMG_MT_OCI_CONFIG, SHA_A, 7023)
#define LAYER DESC(OIMG_MT_OCI_LAYER_GZIP, SHA_B, 32654)

static char msg[2048];

static int parse(struct oimg_manifest **m, const char *doc, const char *mt)
{
    struct oci_error *e = NULL;
    msg[0] = '\0';
    int r = oimg_manifest_parse(m, doc, strlen(doc), mt, &e);
    if (e)
        snprintf(msg, sizeof(msg), "%s", e->msg);
    oci_error_free(e);
    return r;
}

static void reject_mt(const char *doc, const char *mt, int code, const char *want)
{
    struct oimg_manifest *m = NULL;
    int r = parse(&m, doc, mt);
    CHECK_INT(r, -code);
    CHECK(m == NULL);
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
    const char *doc = "{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_OCI_MANIFEST "\","
                      "\"config\":" CONFIG ",\"layers\":[" LAYER "," LAYER "],"
                      "\"subject\":" DESC(
                          OIMG_MT_OCI_MANIFEST, SHA_A,
                          7682) ","
                                "\"annotations\":{\"com.example.key1\":\"value1\"},\"extra\":[1]}";
    struct oimg_manifest *m = NULL;
    CHECK_OK(parse(&m, doc, NULL));
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_INT(m->schema_version, 2);
    CHECK_STR(m->media_type, OIMG_MT_OCI_MANIFEST);
    CHECK(!m->docker);
    CHECK(m->artifact_type == NULL);
    CHECK_STR(m->config.media_type, OIMG_MT_OCI_CONFIG);
    CHECK_INT(m->config.size, 7023);
    CHECK_INT(m->n_layers, 2);
    CHECK_STR(m->layers[1].digest.str, SHA_B);
    CHECK(m->subject && m->subject->size == 7682);
    CHECK_STR(oimg_annotations_get(&m->annotations, "com.example.key1"), "value1");
    oimg_manifest_free(m);
    oimg_manifest_free(NULL);

    /* mediaType is optional in OCI; the referenced type may be given */
    const char *nomt = "{\"schemaVersion\":2,\"config\":" CONFIG ",\"layers\":[" LAYER "]}";
    CHECK_OK(parse(&m, nomt, OIMG_MT_OCI_MANIFEST));
    CHECK(m && m->media_type == NULL && !m->docker);
    oimg_manifest_free(m);
}

static void docker_schema2(void)
{
    const char *doc =
        "{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_DOCKER_MANIFEST "\","
        "\"config\":" DESC(OIMG_MT_DOCKER_CONFIG, SHA_A,
                           7023) ","
                                 "\"layers\":[" DESC(OIMG_MT_DOCKER_LAYER_GZIP, SHA_B, 32654) "]}";
    struct oimg_manifest *m = NULL;
    CHECK_OK(parse(&m, doc, OIMG_MT_DOCKER_MANIFEST));
    CHECK(m && m->docker);
    if (m) {
        CHECK_STR(m->media_type, OIMG_MT_DOCKER_MANIFEST);
        CHECK_STR(m->config.media_type, OIMG_MT_DOCKER_CONFIG);
        CHECK_STR(m->layers[0].media_type, OIMG_MT_DOCKER_LAYER_GZIP);
    }
    oimg_manifest_free(m);
    /* Docker never required a layer */
    const char *nolayers = "{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_DOCKER_MANIFEST "\","
                           "\"config\":" DESC(OIMG_MT_DOCKER_CONFIG, SHA_A, 7023) ",\"layers\":[]}";
    CHECK_OK(parse(&m, nolayers, NULL));
    CHECK(m && m->docker && m->n_layers == 0);
    oimg_manifest_free(m);
    /* fetched as OCI but is Docker: mismatch */
    reject_mt(doc, OIMG_MT_OCI_MANIFEST, OCI_ERR_INVALID,
              "mediaType: is \"" OIMG_MT_DOCKER_MANIFEST "\", but the document was referenced as "
              "\"" OIMG_MT_OCI_MANIFEST "\"");
}

static const char schema1_msg[] =
    "Docker schema1 manifests are not supported (deprecated); re-push "
    "the image with a current client";

static void schema1(void)
{
    reject("{\"schemaVersion\":1,\"name\":\"x\",\"tag\":\"l\",\"fsLayers\":[],\"history\":[]}",
           OCI_ERR_UNSUPPORTED, schema1_msg);
    reject("{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_DOCKER_SCHEMA1_SIGNED "\"}",
           OCI_ERR_UNSUPPORTED, schema1_msg);
    reject("{\"fsLayers\":[],\"signatures\":[]}", OCI_ERR_UNSUPPORTED, schema1_msg);
    reject_mt("{\"schemaVersion\":2,\"config\":" CONFIG ",\"layers\":[" LAYER "]}",
              OIMG_MT_DOCKER_SCHEMA1, OCI_ERR_UNSUPPORTED, schema1_msg);
    /* the message is the whole error, unprefixed */
    struct oimg_manifest *m = NULL;
    parse(&m, "{\"schemaVersion\":1}", NULL);
    CHECK_STR(msg, schema1_msg);
}

#define M(fields) "{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_OCI_MANIFEST "\"" fields "}"
#define CL ",\"config\":" CONFIG ",\"layers\":[" LAYER "]"

static void rules(void)
{
    reject("{\"mediaType\":\"" OIMG_MT_OCI_MANIFEST "\"" CL "}", OCI_ERR_INVALID,
           "invalid image manifest: schemaVersion: required");
    reject("{\"schemaVersion\":3" CL "}", OCI_ERR_INVALID, "schemaVersion: must be 2, not 3");
    reject("{\"schemaVersion\":\"2\"" CL "}", OCI_ERR_INVALID,
           "schemaVersion: must be the integer 2, not a string");
    reject("{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_OCI_INDEX "\"" CL "}", OCI_ERR_INVALID,
           "(an image index type)");
    reject("{\"schemaVersion\":2,\"mediaType\":\"text/plain\"" CL "}", OCI_ERR_INVALID,
           "mediaType: must be " OIMG_MT_OCI_MANIFEST);
    reject("{\"schemaVersion\":2,\"mediaType\":\"nope\"" CL "}", OCI_ERR_INVALID,
           "mediaType: not a valid media type");
    reject(M(",\"layers\":[" LAYER "]"), OCI_ERR_INVALID, "config: required");
    reject(M(",\"config\":\"x\",\"layers\":[" LAYER "]"), OCI_ERR_INVALID,
           "config: must be a descriptor object, not a string");
    reject(M(",\"config\":" CONFIG), OCI_ERR_INVALID, "layers: required");
    reject(M(",\"config\":" CONFIG ",\"layers\":null"), OCI_ERR_INVALID,
           "layers: must be an array of descriptors, not null");
    reject(M(",\"config\":" CONFIG ",\"layers\":[]"), OCI_ERR_INVALID,
           "layers: must have at least one entry");
    reject(M(",\"config\":" CONFIG ",\"layers\":[" LAYER ",7]"), OCI_ERR_INVALID,
           "layers[1]: must be a descriptor object, not an integer");
    reject(M(",\"config\":" CONFIG ",\"layers\":[" DESC(OIMG_MT_OCI_LAYER, SHA_B, -5) "]"),
           OCI_ERR_INVALID, "layers[0].size: must be a non-negative integer, not -5");
    reject(M(CL ",\"manifests\":[]"), OCI_ERR_INVALID,
           "manifests: not allowed in an image manifest");
    reject(M(CL ",\"subject\":\".nope\""), OCI_ERR_INVALID,
           "subject: must be a descriptor object, not a string");
    reject(M(CL ",\"annotations\":{\"a\":true}"), OCI_ERR_INVALID,
           "annotations[\"a\"]: must be a string, not a boolean");
    reject(M(CL ",\"artifactType\":\"bad\""), OCI_ERR_INVALID,
           "artifactType: not a valid media type");
    /* the empty config needs an artifactType */
    reject(M(",\"config\":" DESC(OIMG_MT_OCI_EMPTY, SHA_EMPTY, 2) ",\"layers\":[" LAYER "]"),
           OCI_ERR_INVALID, "artifactType: required when config.mediaType is " OIMG_MT_OCI_EMPTY);
    struct oimg_manifest *m = NULL;
    CHECK_OK(parse(&m,
                   M(",\"artifactType\":\"application/vnd.example+type\",\"config\":" DESC(
                       OIMG_MT_OCI_EMPTY, SHA_EMPTY, 2) ",\"layers\":[" LAYER "]"),
                   NULL));
    CHECK(m && m->artifact_type && strcmp(m->artifact_type, "application/vnd.example+type") == 0);
    oimg_manifest_free(m);
}

static void layer_types(void)
{
    /* unknown vendor types are fine (the spec says ignore them)... */
    struct oimg_manifest *m = NULL;
    CHECK_OK(parse(&m,
                   M(",\"config\":" CONFIG
                     ",\"layers\":[" DESC("application/vnd.example.data+type", SHA_B, 1) "]"),
                   NULL));
    oimg_manifest_free(m);
    /* ...and so are ocicrypt's encrypted OCI layers */
    CHECK_OK(parse(&m,
                   M(",\"config\":" CONFIG ",\"layers\":[" DESC(
                       "application/vnd.oci.image.layer.v1.tar+gzip+encrypted", SHA_B, 1) "]"),
                   NULL));
    oimg_manifest_free(m);
    /* but an undefined type in the OCI's own namespace is a mistake */
    reject(M(",\"config\":" CONFIG ",\"layers\":[" LAYER
             "," DESC("application/vnd.oci.image.layer.v1.tar+unknown", SHA_B, 1) "]"),
           OCI_ERR_INVALID,
           "layers[1].mediaType: \"application/vnd.oci.image.layer.v1.tar+unknown\" is not a "
           "layer type the OCI image spec defines");
}

static void media_type_argument(void)
{
    const char *oci = M(CL);
    const char *nomt = "{\"schemaVersion\":2" CL "}";
    struct oimg_manifest *m = NULL;
    CHECK_OK(parse(&m, oci, OIMG_MT_OCI_MANIFEST));
    oimg_manifest_free(m);
    reject_mt(oci, OIMG_MT_OCI_INDEX, OCI_ERR_INVALID, "but the document was referenced as");
    reject_mt(nomt, OIMG_MT_DOCKER_MANIFEST, OCI_ERR_INVALID,
              "mediaType: absent (which means " OIMG_MT_OCI_MANIFEST
              "), but the document was referenced as");
}

static char *big_doc(size_t n_layers, const char *item)
{
    size_t il = strlen(item);
    char *s = malloc(200 + n_layers * (il + 1));
    size_t o = (size_t)sprintf(s, "{\"schemaVersion\":2,\"config\":%s,\"layers\":[", CONFIG);
    for (size_t i = 0; i < n_layers; i++) {
        memcpy(s + o, item, il);
        o += il;
        s[o++] = i + 1 < n_layers ? ',' : ']';
    }
    strcpy(s + o, "}");
    return s;
}

static void bad_input(void)
{
    /* too many layers, refused before any per-layer work */
    char *s = big_doc(100000, "{}");
    reject(s, OCI_ERR_TOO_LARGE, "layers: has 100000 entries, more than the limit of 10000");
    free(s);
    /* over the byte cap */
    s = big_doc(40000, LAYER);
    CHECK(strlen(s) > OIMG_MAX_MANIFEST_SIZE);
    reject(s, OCI_ERR_TOO_LARGE, "over the limit of 4194304 bytes");
    free(s);
    /* deep nesting, even in a field we would ignore */
    char deep[4096];
    size_t o = (size_t)snprintf(deep, sizeof(deep), "{\"schemaVersion\":2" CL ",\"x\":");
    for (int i = 0; i < 1000; i++)
        deep[o++] = '[';
    for (int i = 0; i < 1000; i++)
        deep[o++] = ']';
    strcpy(deep + o, "}");
    reject(deep, OCI_ERR_TOO_LARGE, "nesting deeper than");
    /* wrong types and non-JSON */
    reject("[]", OCI_ERR_INVALID, "document must be a JSON object, not an array");
    reject("\"manifest\"", OCI_ERR_INVALID, "document must be a JSON object, not a string");
    reject("{\"schemaVersion\":2,", OCI_ERR_INVALID, "invalid JSON");
    reject("{} {}", OCI_ERR_INVALID, "invalid JSON");
    reject("", OCI_ERR_INVALID, "JSON");
    /* every problem is counted in the error */
    reject("{\"schemaVersion\":1.5,\"config\":[],\"layers\":{}}", OCI_ERR_INVALID,
           "(and 2 more problems)");
}

static void validate_all_problems(void)
{
    const char *doc =
        "{\"schemaVersion\":2,\"mediaType\":\"" OIMG_MT_OCI_MANIFEST "\","
        "\"config\":{\"mediaType\":\"invalid\",\"size\":1,\"digest\":\"" SHA_A "\"},"
        "\"layers\":[" LAYER ",{\"mediaType\":\"a/b\",\"size\":\"1\",\"digest\":\"x\"}],"
        "\"annotations\":{\"k\":1}}";
    struct oimg_problems p = {0};
    CHECK_OK(oimg_validate_document(&p, OIMG_DOC_MANIFEST, doc, strlen(doc), T_ERR));
    CHECK_INT(p.n, 4);
    if (p.n == 4) {
        CHECK(strncmp(p.lines[0], "config.mediaType: ", 18) == 0);
        CHECK(strncmp(p.lines[1], "layers[1].digest: ", 18) == 0);
        CHECK_STR(p.lines[2], "layers[1].size: must be a non-negative integer, not a string");
        CHECK_STR(p.lines[3], "annotations[\"k\"]: must be a string, not an integer");
    }
    oimg_problems_clear(&p);
    /* many problems: the list is capped with a summary line */
    char *s = big_doc(3000, "{}");
    CHECK_OK(oimg_validate_document(&p, OIMG_DOC_MANIFEST, s, strlen(s), T_ERR));
    CHECK_INT(p.n, 1001);
    if (p.n == 1001)
        CHECK_STR(p.lines[1000], "... and 8000 more problems");
    oimg_problems_clear(&p);
    free(s);
    /* a good one has none */
    CHECK_OK(oimg_validate_document(&p, OIMG_DOC_MANIFEST, M(CL), strlen(M(CL)), T_ERR));
    CHECK_INT(p.n, 0);
    oimg_problems_clear(&p);
}

static void detect(void)
{
    enum oimg_doc_type t = OIMG_DOC_UNKNOWN;
    CHECK_OK(oimg_doc_detect(&t, M(CL), strlen(M(CL)), T_ERR));
    CHECK_INT(t, OIMG_DOC_MANIFEST);
    const char *nomt = "{\"schemaVersion\":2" CL "}";
    CHECK_OK(oimg_doc_detect(&t, nomt, strlen(nomt), T_ERR));
    CHECK_INT(t, OIMG_DOC_MANIFEST);
    const char *s1 = "{\"schemaVersion\":1,\"fsLayers\":[]}";
    struct oci_error *e = NULL;
    t = OIMG_DOC_MANIFEST;
    CHECK_INT(oimg_doc_detect(&t, s1, strlen(s1), &e), -OCI_ERR_UNSUPPORTED);
    CHECK_INT(t, OIMG_DOC_UNKNOWN);
    CHECK(e && strcmp(e->msg, schema1_msg) == 0);
    oci_error_free(e);
    e = NULL;
    CHECK_INT(oimg_doc_detect(&t, "nope", 4, &e), -OCI_ERR_INVALID);
    oci_error_free(e);
    CHECK_OK(oimg_doc_detect(&t, "{\"a\":1}", 7, T_ERR));
    CHECK_INT(t, OIMG_DOC_UNKNOWN);
}

/* ---- real manifests ---- */

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

#define CIL "containers-container-libs/image/"
#define TD CIL "internal/manifest/testdata/"

struct fixture_case {
    const char *file;
    int code; /* expected result of oimg_manifest_parse */
    const char *want;
};

static void fixtures(void)
{
    static const struct fixture_case cases[] = {
        {TD "v2s2.manifest.json", 0, "docker"},
        {TD "ociv1.manifest.json", 0, "oci"},
        {TD "ociv1nomime.manifest.json", 0, "oci"},
        {CIL "manifest/fixtures/ociv1.zstd.manifest.json", 0, "oci"},
        {CIL "manifest/fixtures/ociv1.uncompressed.manifest.json", 0, "oci"},
        {CIL "manifest/fixtures/ociv1.nondistributable.gzip.manifest.json", 0, "oci"},
        {CIL "manifest/fixtures/ociv1.encrypted.manifest.json", 0, "oci"},
        {CIL "manifest/fixtures/v2s2.uncompressed.manifest.json", 0, "docker"},
        {CIL "manifest/fixtures/v2s2.nondistributable.manifest.json", 0, "docker"},
        {CIL "manifest/fixtures/v2s2.everything.json", 0, "docker"},
        {TD "v2s1.manifest.json", -OCI_ERR_UNSUPPORTED, schema1_msg},
        {TD "v2s1-unsigned.manifest.json", -OCI_ERR_UNSUPPORTED, schema1_msg},
        {TD "v2s1-invalid-signatures.manifest.json", -OCI_ERR_UNSUPPORTED, schema1_msg},
        {CIL "manifest/fixtures/v2s1.everything.json", -OCI_ERR_UNSUPPORTED, schema1_msg},
        {CIL "manifest/fixtures/ociv1.invalid.mediatype.manifest.json", -OCI_ERR_INVALID,
         "layers[0].mediaType: \"application/vnd.oci.image.layer.v1.tar+unknown\""},
        {TD "non-json.manifest.json", -OCI_ERR_INVALID, "invalid JSON"},
        {TD "unknown-version.manifest.json", -OCI_ERR_INVALID, "schemaVersion: must be 2"},
        {TD "ociv1.artifact.json", -OCI_ERR_INVALID, "config.digest: invalid digest \"\""},
        {TD "v2s2nomime.manifest.json", -OCI_ERR_INVALID, "layers: must have at least one"},
        /* "data" that does not hash to the descriptor's digest */
        {CIL "manifest/fixtures/ociv1.everything.json", -OCI_ERR_DIGEST_MISMATCH,
         "config.data: content has digest"},
        /* the index is not a manifest */
        {TD "ociv1.image.index.json", -OCI_ERR_INVALID, "(an image index type)"},
    };
    size_t seen = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;
        char *buf = read_fixture(cases[i].file, &len);
        if (!buf)
            continue;
        seen++;
        struct oimg_manifest *m = NULL;
        struct oci_error *e = NULL;
        int r = oimg_manifest_parse(&m, buf, len, NULL, &e);
        if (r != cases[i].code) {
            t_failed++;
            t_case_failed = 1;
            fprintf(stderr, "  %s: got %d (%s), expected %d\n", cases[i].file, r, e ? e->msg : "ok",
                    cases[i].code);
        } else if (r == 0) {
            CHECK(m->docker == (strcmp(cases[i].want, "docker") == 0));
            CHECK(m->n_layers > 0 || m->docker);
        } else if (!strstr(e->msg, cases[i].want)) {
            t_failed++;
            t_case_failed = 1;
            fprintf(stderr, "  %s: \"%s\" lacks \"%s\"\n", cases[i].file, e->msg, cases[i].want);
        }
        oci_error_free(e);
        oimg_manifest_free(m);
        free(buf);
    }
    if (!seen)
        fprintf(stderr,
                "  (skipped: no $OCIIMG_SHARED/fixtures; ../shared is developer/CI only)\n");
    else
        CHECK_INT(seen, sizeof(cases) / sizeof(cases[0]));
}

/* Every JSON document in real OCI layouts (manifests, indexes, configs of
 * regclient's 26-ref test repo, go-containerregistry, stereoscope,
 * containers/image) is valid for the type it is detected as, and its parser
 * accepts it. */
static void layout_blobs(void)
{
    static const char *const dirs[] = {
        "regclient-regclient/testdata/testrepo",
        "regclient-regclient/testdata/external",
        "google-go-containerregistry/pkg/v1/layout/testdata/test_index",
        "google-go-containerregistry/pkg/v1/layout/testdata/test_index_one_image",
        "google-go-containerregistry/pkg/v1/layout/testdata/test_index_media_type",
        "google-go-containerregistry/pkg/v1/layout/testdata/test_gc_index",
        "anchore-stereoscope/pkg/image/oci/testdata/valid_oci_dir",
        "anchore-stereoscope/pkg/image/oci/testdata/multiplatform_oci_dir",
        "containers-container-libs/image/oci/layout/fixtures/delete_image_multiple_images",
    };
    const char *shared = getenv("OCIIMG_SHARED");
    size_t n_docs = 0, n_types[6] = {0};
    for (size_t i = 0; shared && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/fixtures/%s/blobs/sha256", shared, dirs[i]);
        DIR *d = opendir(path);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char rel[4096];
            snprintf(rel, sizeof(rel), "%s/blobs/sha256/%s", dirs[i], de->d_name);
            size_t len = 0;
            char *buf = read_fixture(rel, &len);
            if (!buf || len == 0 || buf[0] != '{' || len >= (1 << 20)) {
                free(buf);
                continue;
            }
            enum oimg_doc_type t = OIMG_DOC_UNKNOWN;
            struct oci_error *e = NULL;
            if (oimg_doc_detect(&t, buf, len, &e) < 0 || t == OIMG_DOC_UNKNOWN) {
                oci_error_free(e); /* not a document: a JSON layer or the empty "{}" */
                free(buf);
                continue;
            }
            struct oimg_problems p = {0};
            CHECK_OK(oimg_validate_document(&p, t, buf, len, T_ERR));
            if (p.n) {
                t_failed++;
                t_case_failed = 1;
                fprintf(stderr, "  %s: %s\n", rel, p.lines[0]);
            }
            int r = 0;
            if (t == OIMG_DOC_MANIFEST) {
                struct oimg_manifest *m = NULL;
                r = oimg_manifest_parse(&m, buf, len, NULL, &e);
                oimg_manifest_free(m);
            } else if (t == OIMG_DOC_INDEX) {
                struct oimg_index *x = NULL;
                r = oimg_index_parse(&x, buf, len, NULL, &e);
                oimg_index_free(x);
            } else if (t == OIMG_DOC_CONFIG) {
                struct oimg_image_config *c = NULL;
                r = oimg_config_parse(&c, buf, len, &e);
                oimg_config_free(c);
            }
            if (r < 0) {
                t_failed++;
                t_case_failed = 1;
                fprintf(stderr, "  %s: parser: %s\n", rel, e ? e->msg : "?");
            }
            oci_error_free(e);
            oimg_problems_clear(&p);
            n_docs++;
            n_types[t]++;
            free(buf);
        }
        closedir(d);
    }
    if (!n_docs) {
        fprintf(stderr,
                "  (skipped: no $OCIIMG_SHARED/fixtures; ../shared is developer/CI only)\n");
        return;
    }
    fprintf(stderr, "  %zu documents from real layouts: %zu manifests, %zu indexes, %zu configs\n",
            n_docs, n_types[OIMG_DOC_MANIFEST], n_types[OIMG_DOC_INDEX], n_types[OIMG_DOC_CONFIG]);
    CHECK(n_types[OIMG_DOC_MANIFEST] > 20 && n_types[OIMG_DOC_INDEX] > 5 &&
          n_types[OIMG_DOC_CONFIG] > 10);
}

int main(void)
{
    T_RUN(oci_good);
    T_RUN(docker_schema2);
    T_RUN(schema1);
    T_RUN(rules);
    T_RUN(layer_types);
    T_RUN(media_type_argument);
    T_RUN(bad_input);
    T_RUN(validate_all_problems);
    T_RUN(detect);
    T_RUN(fixtures);
    T_RUN(layout_blobs);
    return t_done();
}
