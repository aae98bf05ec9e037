/* Descriptors: every rule of descriptor.md, the error paths, conversion
 * back to JSON (round trip), copying, and media type helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/json.h>
#include <ociimg/model.h>

#include "t.h"

#define SHA_A "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
/* sha256 of "https://github.com/opencontainers\n" (34 bytes) */
#define SHA_DATA "sha256:2690af59371e9eca9453dc29882643f46e5ca47ec2862bd517b5e17351325153"
#define DATA_B64 "aHR0cHM6Ly9naXRodWIuY29tL29wZW5jb250YWluZXJzCg=="

/* Parses `json` as a descriptor named "layers[0]"; returns the result code
 * and leaves the message in *msg (static buffer). */
static char last_msg[1024];
static int last_code;

static int parse(struct oimg_descriptor *d, const char *json)
{
    json_object *o = NULL;
    struct oci_error *e = NULL;
    last_msg[0] = '\0';
    int r = oimg_json_parse(&o, json, strlen(json), NULL, &e);
    if (r == 0)
        r = oimg_descriptor_from_json(d, o, "layers[0]", &e);
    if (e)
        snprintf(last_msg, sizeof(last_msg), "%s", e->msg);
    last_code = r;
    oci_error_free(e);
    json_object_put(o);
    return r;
}

/* The descriptor must be rejected with code and a message containing want. */
static void reject(const char *json, int code, const char *want)
{
    struct oimg_descriptor d = {0};
    int r = parse(&d, json);
    CHECK_INT(r, -code);
    if (!strstr(last_msg, want)) {
        t_failed++;
        t_case_failed = 1;
        fprintf(stderr, "  message \"%s\"\n  lacks \"%s\"\n  for %s\n", last_msg, want, json);
    }
    /* out is untouched on failure */
    CHECK(d.media_type == NULL && d.data == NULL && d.platform == NULL);
}

static void good_minimal(void)
{
    struct oimg_descriptor d = {0};
    CHECK_OK(parse(&d, "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                       "\"size\":7682,\"digest\":\"" SHA_A "\"}"));
    CHECK_STR(d.media_type, OIMG_MT_OCI_MANIFEST);
    CHECK_INT(d.size, 7682);
    CHECK_STR(d.digest.str, SHA_A);
    CHECK_INT(d.digest.alg, OIMG_DIGEST_SHA256);
    CHECK(d.urls == NULL && d.n_urls == 0 && d.data == NULL && d.platform == NULL);
    CHECK(d.artifact_type == NULL && d.annotations.n == 0);
    oimg_descriptor_clear(&d);
    oimg_descriptor_clear(&d); /* idempotent */
    oimg_descriptor_clear(NULL);
}

static const char full_json[] =
    "{\"mediaType\":\"text/plain\",\"size\":34,\"digest\":\"" SHA_DATA "\","
    "\"urls\":[\"https://example.com/a\",\"http://mirror.example/x?y=1#f\"],"
    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\",\"k\":\"\"},"
    "\"data\":\"" DATA_B64 "\","
    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\","
    "\"os.version\":\"6.1\",\"os.features\":[\"a\",\"b\"]},"
    "\"artifactType\":\"application/vnd.example.sbom.v1\","
    "\"unknownField\":{\"deep\":[1,2,3]}}";

static void good_full(void)
{
    struct oimg_descriptor d = {0};
    CHECK_OK(parse(&d, full_json));
    CHECK_INT(d.n_urls, 2);
    CHECK_STR(d.urls[1], "http://mirror.example/x?y=1#f");
    CHECK_STR(oimg_annotations_get(&d.annotations, OIMG_ANNOT_REF_NAME), "v1");
    CHECK_STR(oimg_annotations_get(&d.annotations, "k"), "");
    CHECK(oimg_annotations_get(&d.annotations, "missing") == NULL);
    CHECK(oimg_annotations_get(NULL, "k") == NULL);
    CHECK_INT(d.data_len, 34);
    CHECK(d.data && memcmp(d.data, "https://github.com/opencontainers\n", 34) == 0);
    CHECK(d.platform != NULL);
    if (d.platform) {
        CHECK_STR(d.platform->architecture, "arm64");
        CHECK_STR(d.platform->os, "linux");
        CHECK_STR(d.platform->variant, "v8");
        CHECK_STR(d.platform->os_version, "6.1");
        CHECK_INT(d.platform->n_os_features, 2);
    }
    CHECK_STR(d.artifact_type, "application/vnd.example.sbom.v1");
    oimg_descriptor_clear(&d);
}

static bool same_descriptor(const struct oimg_descriptor *a, const struct oimg_descriptor *b)
{
    if (strcmp(a->media_type, b->media_type) || strcmp(a->digest.str, b->digest.str) ||
        a->digest.alg != b->digest.alg || a->size != b->size || a->n_urls != b->n_urls ||
        a->annotations.n != b->annotations.n || a->data_len != b->data_len ||
        !a->data != !b->data || !a->platform != !b->platform ||
        !a->artifact_type != !b->artifact_type)
        return false;
    for (size_t i = 0; i < a->n_urls; i++)
        if (strcmp(a->urls[i], b->urls[i]))
            return false;
    for (size_t i = 0; i < a->annotations.n; i++)
        if (strcmp(a->annotations.items[i].key, b->annotations.items[i].key) ||
            strcmp(a->annotations.items[i].value, b->annotations.items[i].value))
            return false;
    if (a->data && memcmp(a->data, b->data, a->data_len))
        return false;
    if (a->artifact_type && strcmp(a->artifact_type, b->artifact_type))
        return false;
    if (a->platform) {
        const struct oimg_platform *p = a->platform, *q = b->platform;
        if (strcmp(p->os, q->os) || strcmp(p->architecture, q->architecture) ||
            !p->variant != !q->variant || (p->variant && strcmp(p->variant, q->variant)) ||
            !p->os_version != !q->os_version ||
            (p->os_version && strcmp(p->os_version, q->os_version)) ||
            p->n_os_features != q->n_os_features)
            return false;
        for (size_t i = 0; i < p->n_os_features; i++)
            if (strcmp(p->os_features[i], q->os_features[i]))
                return false;
    }
    return true;
}

static void round_trip_one(const char *json, const char *b64)
{
    struct oimg_descriptor a = {0}, b = {0}, c = {0};
    CHECK_OK(parse(&a, json));
    json_object *o = oimg_descriptor_to_json(&a);
    CHECK(o != NULL);
    char *text = oimg_json_dump(o, false);
    CHECK(text != NULL);
    CHECK_OK(parse(&b, text));
    CHECK(same_descriptor(&a, &b));
    /* data is re-encoded as base64, byte for byte what the spec example has */
    json_object *f;
    if (b64)
        CHECK(json_object_object_get_ex(o, "data", &f) &&
              strcmp(json_object_get_string(f), b64) == 0);
    else
        CHECK(!json_object_object_get_ex(o, "data", &f));
    CHECK_OK(oimg_descriptor_copy(&c, &a, T_ERR));
    CHECK(same_descriptor(&a, &c));
    CHECK(c.media_type != a.media_type); /* deep */
    free(text);
    json_object_put(o);
    oimg_descriptor_clear(&a);
    oimg_descriptor_clear(&b);
    oimg_descriptor_clear(&c);
}

static void round_trip(void)
{
    round_trip_one(full_json, DATA_B64);
    round_trip_one("{\"mediaType\":\"a/b\",\"size\":0,\"digest\":\"multihash+base58:QmRZxt2b1F\"}",
                   NULL);
    /* empty data is present (not absent) and survives */
    round_trip_one("{\"mediaType\":\"a/b\",\"size\":0,\"data\":\"\",\"digest\":"
                   "\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}",
                   "");
    /* the largest size */
    round_trip_one("{\"mediaType\":\"a/b\",\"size\":9223372036854775807,\"digest\":\"" SHA_A "\"}",
                   NULL);
    /* one and two padding characters */
    round_trip_one("{\"mediaType\":\"a/b\",\"size\":2,\"data\":\"e30=\",\"digest\":"
                   "\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\"}",
                   "e30=");
}

#define D(extra) "{\"mediaType\":\"a/b\",\"size\":1,\"digest\":\"" SHA_A "\"" extra "}"

static void bad_media_type(void)
{
    reject("{\"size\":1,\"digest\":\"" SHA_A "\"}", OCI_ERR_INVALID,
           "layers[0].mediaType: required");
    reject("{\"mediaType\":\"application\",\"size\":1,\"digest\":\"" SHA_A "\"}", OCI_ERR_INVALID,
           "layers[0].mediaType: not a valid media type");
    reject("{\"mediaType\":7,\"size\":1,\"digest\":\"" SHA_A "\"}", OCI_ERR_INVALID,
           "layers[0].mediaType: must be a string, not an integer");
    reject("{\"mediaType\":\"a/b; charset=utf-8\",\"size\":1,\"digest\":\"" SHA_A "\"}",
           OCI_ERR_INVALID, "not a valid media type");
    reject(D(",\"artifactType\":\"foo/.bar\""), OCI_ERR_INVALID,
           "layers[0].artifactType: not a valid media type");
    reject(D(",\"artifactType\":null"), OCI_ERR_INVALID,
           "layers[0].artifactType: must be a string, not null");
}

static void bad_digest(void)
{
    reject("{\"mediaType\":\"a/b\",\"size\":1}", OCI_ERR_INVALID, "layers[0].digest: required");
    reject("{\"mediaType\":\"a/b\",\"size\":1,\"digest\":\"sha256:ABC\"}", OCI_ERR_INVALID,
           "layers[0].digest: invalid digest");
    reject("{\"mediaType\":\"a/b\",\"size\":1,\"digest\":\"sha256:"
           "5B0BCABD1ED22E9FB1310CF6C2DEC7CDEF19F0AD69EFA1F392E94A4333501270\"}",
           OCI_ERR_INVALID, "lowercase hex");
    reject("{\"mediaType\":\"a/b\",\"size\":1,\"digest\":\"sha512:abcd\"}", OCI_ERR_INVALID,
           "sha512");
    reject("{\"mediaType\":\"a/b\",\"size\":1,\"digest\":\"blake3:ABCD\"}", OCI_ERR_INVALID,
           "blake3 encoded part");
    reject("{\"mediaType\":\"a/b\",\"size\":1,\"digest\":[]}", OCI_ERR_INVALID,
           "layers[0].digest: must be a string, not an array");
    /* unknown but grammatical algorithms are kept, unverified */
    struct oimg_descriptor d = {0};
    CHECK_OK(parse(&d, "{\"mediaType\":\"a/b\",\"size\":1,\"digest\":\"sha256+b64u:LCa0a2j_xo\"}"));
    CHECK_INT(d.digest.alg, OIMG_DIGEST_UNKNOWN);
    oimg_descriptor_clear(&d);
}

static void bad_size(void)
{
    const char *base = "{\"mediaType\":\"a/b\",\"digest\":\"" SHA_A "\",\"size\":";
    char buf[512];
#define SIZE_CASE(val, want)                                                                       \
    snprintf(buf, sizeof(buf), "%s%s}", base, val);                                                \
    reject(buf, OCI_ERR_INVALID, want)
    SIZE_CASE("\"7682\"", "layers[0].size: must be a non-negative integer, not a string");
    SIZE_CASE("1470.0", "layers[0].size: must be a non-negative integer, not a number with a "
                        "fraction or exponent");
    SIZE_CASE("1e3", "not a number with a fraction or exponent");
    SIZE_CASE("-1", "layers[0].size: must be a non-negative integer, not -1");
    SIZE_CASE("9223372036854775808", "below 2^63");
    SIZE_CASE("18446744073709551616", "below 2^63");
    SIZE_CASE("99999999999999999999999999", "below 2^63");
    SIZE_CASE("true", "not a boolean");
    SIZE_CASE("null", "not null");
    reject("{\"mediaType\":\"a/b\",\"digest\":\"" SHA_A "\"}", OCI_ERR_INVALID,
           "layers[0].size: required");
}

static void bad_urls(void)
{
    reject(D(",\"urls\":\"https://x\""), OCI_ERR_INVALID,
           "layers[0].urls: must be an array of strings, not a string");
    reject(D(",\"urls\":[1]"), OCI_ERR_INVALID, "layers[0].urls[0]: must be a string");
    reject(D(",\"urls\":[\"https://ok\",\"value\"]"), OCI_ERR_INVALID,
           "layers[0].urls[1]: must be an absolute URI");
    reject(D(",\"urls\":[\"/relative/path\"]"), OCI_ERR_INVALID, "absolute URI");
    reject(D(",\"urls\":[\"https://ex ample.com/\"]"), OCI_ERR_INVALID, "not allowed in a URI");
    reject(D(",\"urls\":[\"https://example.com/%zz\"]"), OCI_ERR_INVALID, "malformed %-escape");
    reject(D(",\"urls\":[\"1http://x\"]"), OCI_ERR_INVALID, "absolute URI");
    struct oimg_descriptor d = {0};
    CHECK_OK(
        parse(&d, D(",\"urls\":[\"https://example.com/a%20b?q=[1]#frag\",\"s3:bucket/key\"]")));
    oimg_descriptor_clear(&d);
}

static void bad_annotations(void)
{
    reject(D(",\"annotations\":[]"), OCI_ERR_INVALID,
           "layers[0].annotations: must be an object of string values, not an array");
    reject(D(",\"annotations\":{\"a\":1}"), OCI_ERR_INVALID,
           "layers[0].annotations[\"a\"]: must be a string, not an integer");
    reject(D(",\"annotations\":{\"\":\"x\"}"), OCI_ERR_INVALID,
           "layers[0].annotations: keys must not be empty");
    /* a hostile key cannot break the one-line message */
    reject(D(",\"annotations\":{\"a\\nb\":null}"), OCI_ERR_INVALID, "[\"a\\x0ab\"]");
    CHECK(strchr(last_msg, '\n') == NULL);
}

static void bad_data(void)
{
    const char *pre = "{\"mediaType\":\"text/plain\",\"digest\":\"" SHA_DATA "\",";
    char buf[512];
    snprintf(buf, sizeof(buf), "%s\"size\":34,\"data\":\"%s\"}", pre,
             "aHR0cHM6Ly9naXRodWIuY29tL29wZW5jb250YWluZXJzCg");
    reject(buf, OCI_ERR_INVALID, "layers[0].data: not valid base64");
    snprintf(buf, sizeof(buf), "%s\"size\":34,\"data\":\"%s\"}", pre,
             "aHR0cHM6Ly9naXRodWIuY29tL29w ZW5jb250YWluZXJzCg==");
    reject(buf, OCI_ERR_INVALID, "not valid base64");
    snprintf(buf, sizeof(buf), "%s\"size\":34,\"data\":\"%s\"}", pre,
             "aHR0cHM6Ly9naXRodWIuY29tL29wZW5jb250YWluZXJzCh=="); /* non-zero pad bits */
    reject(buf, OCI_ERR_INVALID, "not valid base64");
    snprintf(buf, sizeof(buf), "%s\"size\":35,\"data\":\"%s\"}", pre, DATA_B64);
    reject(buf, OCI_ERR_INVALID, "layers[0].data: decodes to 34 bytes, but size is 35");
    reject("{\"mediaType\":\"text/plain\",\"size\":1,\"data\":\"YQ==\",\"digest\":\"" SHA_A "\"}",
           OCI_ERR_DIGEST_MISMATCH, "layers[0].data: content has digest sha256:ca978112");
    reject(D(",\"data\":5"), OCI_ERR_INVALID, "layers[0].data: must be a string");
    /* unknown algorithms cannot be checked; size still is */
    struct oimg_descriptor d = {0};
    CHECK_OK(parse(&d, "{\"mediaType\":\"a/b\",\"size\":1,\"data\":\"YQ==\",\"digest\":\"x:y\"}"));
    oimg_descriptor_clear(&d);
}

static void bad_platform(void)
{
    reject(D(",\"platform\":\"linux/amd64\""), OCI_ERR_INVALID,
           "layers[0].platform: must be an object, not a string");
    reject(D(",\"platform\":{\"os\":\"linux\"}"), OCI_ERR_INVALID,
           "layers[0].platform.architecture: required");
    reject(D(",\"platform\":{\"architecture\":\"amd64\"}"), OCI_ERR_INVALID,
           "layers[0].platform.os: required");
    reject(D(",\"platform\":{\"architecture\":\"\",\"os\":\"linux\"}"), OCI_ERR_INVALID,
           "layers[0].platform.architecture: must not be empty");
    reject(D(",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\",\"variant\":2}"),
           OCI_ERR_INVALID, "layers[0].platform.variant: must be a string");
    reject(D(",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\",\"os.features\":\"x\"}"),
           OCI_ERR_INVALID, "layers[0].platform.os.features: must be an array of strings");
    reject(D(",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\",\"os.version\":[]}"),
           OCI_ERR_INVALID, "layers[0].platform.os.version: must be a string");
}

static void not_an_object(void)
{
    reject("[]", OCI_ERR_INVALID, "layers[0]: must be a descriptor object, not an array");
    reject("\"x\"", OCI_ERR_INVALID, "must be a descriptor object, not a string");
    /* several problems: the first is reported and the rest counted */
    reject("{\"mediaType\":1,\"size\":-1}", OCI_ERR_INVALID, "(and 2 more problems)");
    /* NULL where: paths without a prefix */
    struct oimg_descriptor d = {0};
    json_object *o = json_tokener_parse("{\"size\":1}");
    struct oci_error *e = NULL;
    CHECK_INT(oimg_descriptor_from_json(&d, o, NULL, &e), -OCI_ERR_INVALID);
    CHECK(e && strncmp(e->msg, "invalid descriptor: mediaType: required", 39) == 0);
    oci_error_free(e);
    json_object_put(o);
}

static void media_types(void)
{
    CHECK(oimg_media_type_valid("application/vnd.oci.image.manifest.v1+json"));
    CHECK(oimg_media_type_valid("a/b"));
    CHECK(oimg_media_type_valid("A1!#$&^_.+-/b"));
    CHECK(!oimg_media_type_valid(NULL));
    CHECK(!oimg_media_type_valid(""));
    CHECK(!oimg_media_type_valid("a/"));
    CHECK(!oimg_media_type_valid("/b"));
    CHECK(!oimg_media_type_valid("a/b/c"));
    CHECK(!oimg_media_type_valid("a b/c"));
    CHECK(!oimg_media_type_valid("-a/b"));
    char t127[300];
    memset(t127, 'x', 127);
    strcpy(t127 + 127, "/y");
    CHECK(oimg_media_type_valid(t127));
    memset(t127, 'x', 128);
    strcpy(t127 + 128, "/y");
    CHECK(!oimg_media_type_valid(t127));

    CHECK(oimg_media_type_is_manifest(OIMG_MT_OCI_MANIFEST));
    CHECK(oimg_media_type_is_manifest(OIMG_MT_DOCKER_MANIFEST));
    CHECK(!oimg_media_type_is_manifest(OIMG_MT_DOCKER_SCHEMA1));
    CHECK(!oimg_media_type_is_manifest(OIMG_MT_OCI_INDEX));
    CHECK(!oimg_media_type_is_manifest(NULL));
    CHECK(oimg_media_type_is_index(OIMG_MT_OCI_INDEX));
    CHECK(oimg_media_type_is_index(OIMG_MT_DOCKER_LIST));
    CHECK(!oimg_media_type_is_index(OIMG_MT_OCI_MANIFEST));
    CHECK(oimg_media_type_is_layer(OIMG_MT_OCI_LAYER));
    CHECK(oimg_media_type_is_layer(OIMG_MT_OCI_LAYER_GZIP));
    CHECK(oimg_media_type_is_layer(OIMG_MT_OCI_LAYER_ZSTD));
    CHECK(oimg_media_type_is_layer(OIMG_MT_DOCKER_LAYER_GZIP));
    CHECK(!oimg_media_type_is_layer("application/vnd.oci.image.layer.v1.tar+gzip+encrypted"));
    CHECK(!oimg_media_type_is_layer(OIMG_MT_OCI_CONFIG));
    CHECK(!oimg_media_type_is_layer(NULL));
}

static void validate_descriptor_document(void)
{
    struct oimg_problems p = {0};
    const char *doc = "{\"mediaType\":\"x\",\"size\":\"1\",\"digest\":\"nope\","
                      "\"urls\":[\"rel\"],\"annotations\":{\"k\":1},\"data\":\"!!\"}";
    CHECK_OK(oimg_validate_document(&p, OIMG_DOC_DESCRIPTOR, doc, strlen(doc), T_ERR));
    CHECK_INT(p.n, 6);
    if (p.n == 6) {
        CHECK(strncmp(p.lines[0], "mediaType: ", 11) == 0);
        CHECK(strncmp(p.lines[1], "digest: ", 8) == 0);
        CHECK(strncmp(p.lines[2], "size: ", 6) == 0);
        CHECK(strncmp(p.lines[3], "urls[0]: ", 9) == 0);
        CHECK(strncmp(p.lines[4], "annotations[\"k\"]: ", 18) == 0);
        CHECK(strncmp(p.lines[5], "data: ", 6) == 0);
    }
    oimg_problems_clear(&p);
    oimg_problems_clear(&p);
    oimg_problems_clear(NULL);
}

int main(void)
{
    T_RUN(good_minimal);
    T_RUN(good_full);
    T_RUN(round_trip);
    T_RUN(bad_media_type);
    T_RUN(bad_digest);
    T_RUN(bad_size);
    T_RUN(bad_urls);
    T_RUN(bad_annotations);
    T_RUN(bad_data);
    T_RUN(bad_platform);
    T_RUN(not_an_object);
    T_RUN(media_types);
    T_RUN(validate_descriptor_document);
    return t_done();
}
