/* The image-spec's own test documents (../shared/spec/image-spec/main-*):
 * all 71 extracted cases must be classified exactly as the spec's Go tests
 * expect, including the 4 that the JSON schema alone lets through, and every
 * example document from the spec's Markdown must be valid.  The parsers must
 * agree with the validator on every one of them. */
#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/json.h>
#include <ociimg/model.h>

#include "t.h"

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static enum oimg_doc_type type_for_schema(const char *schema)
{
    if (!schema)
        return OIMG_DOC_UNKNOWN;
    if (strcmp(schema, "image-manifest-schema.json") == 0)
        return OIMG_DOC_MANIFEST;
    if (strcmp(schema, "image-index-schema.json") == 0)
        return OIMG_DOC_INDEX;
    if (strcmp(schema, "config-schema.json") == 0)
        return OIMG_DOC_CONFIG;
    if (strcmp(schema, "content-descriptor.json") == 0)
        return OIMG_DOC_DESCRIPTOR;
    if (strcmp(schema, "image-layout-schema.json") == 0)
        return OIMG_DOC_LAYOUT;
    return OIMG_DOC_UNKNOWN;
}

/* What the parser for `type` says: 0 ok, <0 error. */
static int parse_as(enum oimg_doc_type type, const char *buf, size_t len, char **msg)
{
    struct oci_error *e = NULL;
    int r = 0;
    switch (type) {
    case OIMG_DOC_MANIFEST: {
        struct oimg_manifest *m = NULL;
        r = oimg_manifest_parse(&m, buf, len, NULL, &e);
        oimg_manifest_free(m);
        break;
    }
    case OIMG_DOC_INDEX: {
        struct oimg_index *i = NULL;
        r = oimg_index_parse(&i, buf, len, NULL, &e);
        oimg_index_free(i);
        break;
    }
    case OIMG_DOC_CONFIG: {
        struct oimg_image_config *c = NULL;
        r = oimg_config_parse(&c, buf, len, &e);
        oimg_config_free(c);
        break;
    }
    case OIMG_DOC_DESCRIPTOR: {
        json_object *o = NULL;
        r = oimg_json_parse(&o, buf, len, NULL, &e);
        if (r == 0) {
            struct oimg_descriptor d = {0};
            r = oimg_descriptor_from_json(&d, o, "", &e);
            oimg_descriptor_clear(&d);
            json_object_put(o);
        }
        break;
    }
    default:
        return 1; /* no parser: layout files are validated only */
    }
    if (r < 0 && e && e->msg)
        *msg = strdup(e->msg);
    oci_error_free(e);
    return r;
}

static const char *type_name(enum oimg_doc_type t)
{
    static const char *const names[] = {"unknown", "manifest",   "index",
                                        "config",  "descriptor", "layout"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static char *spec_dir(void)
{
    const char *shared = getenv("OCIIMG_SHARED");
    if (!shared)
        return NULL;
    char pat[4096];
    snprintf(pat, sizeof(pat), "%s/spec/image-spec/main-*", shared);
    glob_t g;
    char *dir = NULL;
    if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0)
        dir = strdup(g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    return dir;
}

static char *dir_path;

static void extracted_cases(void)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/extracted-test-cases/INDEX.json", dir_path);
    json_object *index = json_object_from_file(path);
    CHECK(index && json_object_is_type(index, json_type_array));
    if (!index)
        return;
    size_t n = json_object_array_length(index);
    CHECK_INT(n, 71);
    size_t n_ok = 0, n_invalid = 0, n_beyond_schema = 0, n_beyond_ok = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(index, i), *f;
        const char *file =
            json_object_object_get_ex(c, "file", &f) ? json_object_get_string(f) : "?";
        const char *schema =
            json_object_object_get_ex(c, "schema", &f) ? json_object_get_string(f) : NULL;
        bool expect_fail =
            json_object_object_get_ex(c, "expect_fail", &f) && json_object_get_boolean(f);
        const char *rejected_by =
            json_object_object_get_ex(c, "rejected_by", &f) ? json_object_get_string(f) : NULL;
        bool beyond = expect_fail && rejected_by && strcmp(rejected_by, "JSON schema") != 0 &&
                      strcmp(rejected_by, "malformed JSON") != 0;
        enum oimg_doc_type type = type_for_schema(schema);
        CHECK(type != OIMG_DOC_UNKNOWN);

        snprintf(path, sizeof(path), "%s/extracted-test-cases/%s", dir_path, file);
        size_t len = 0;
        char *buf = read_all(path, &len);
        CHECK(buf != NULL);
        if (!buf)
            continue;
        struct oimg_problems p = {0};
        CHECK_OK(oimg_validate_document(&p, type, buf, len, T_ERR));
        bool failed = p.n > 0;
        if (failed != expect_fail) {
            t_failed++;
            fprintf(stderr, "MISMATCH %s (%s): expected %s, got %s%s%s\n", file, type_name(type),
                    expect_fail ? "invalid" : "valid", failed ? "invalid: " : "valid",
                    failed ? p.lines[0] : "", beyond ? " [beyond the JSON schema]" : "");
        } else {
            n_ok++;
            if (failed)
                fprintf(stderr, "  %-28s invalid: %s\n", file, p.lines[0]);
        }
        n_invalid += failed;
        if (beyond) {
            n_beyond_schema++;
            n_beyond_ok += failed;
        }

        /* The parser must reach the same verdict from the same rules. */
        char *msg = NULL;
        int r = parse_as(type, buf, len, &msg);
        if (r != 1 && (r < 0) != failed) {
            t_failed++;
            fprintf(stderr, "PARSER DISAGREES %s: validator %s, parser %s %s\n", file,
                    failed ? "invalid" : "valid", r < 0 ? "failed:" : "accepted", msg ? msg : "");
        }
        /* Valid documents are also recognised by shape/mediaType. */
        if (!failed) {
            enum oimg_doc_type det = OIMG_DOC_UNKNOWN;
            CHECK_OK(oimg_doc_detect(&det, buf, len, T_ERR));
            if (det != type) {
                t_failed++;
                fprintf(stderr, "DETECT %s: %s, expected %s\n", file, type_name(det),
                        type_name(type));
            }
        }
        free(msg);
        oimg_problems_clear(&p);
        free(buf);
    }
    fprintf(stderr,
            "extracted cases: %zu/%zu classified as expected (%zu invalid; %zu/%zu of the "
            "invalid ones the JSON schema alone accepts)\n",
            n_ok, n, n_invalid, n_beyond_ok, n_beyond_schema);
    CHECK_INT(n_ok, n);
    CHECK_INT(n_beyond_schema, 4);
    CHECK_INT(n_beyond_ok, 4);
    json_object_put(index);
}

static void md_examples(void)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/spec-md-examples", dir_path);
    DIR *d = opendir(path);
    CHECK(d != NULL);
    if (!d)
        return;
    snprintf(path, sizeof(path), "%s/spec-md-examples/INDEX.json", dir_path);
    json_object *index = json_object_from_file(path); /* optional cross-check */
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".json") != 0 ||
            strcmp(de->d_name, "INDEX.json") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/spec-md-examples/%s", dir_path, de->d_name);
        size_t len = 0;
        char *buf = read_all(path, &len);
        CHECK(buf != NULL);
        if (!buf)
            continue;
        n++;
        /* The type comes from the content alone... */
        enum oimg_doc_type type = OIMG_DOC_UNKNOWN;
        CHECK_OK(oimg_doc_detect(&type, buf, len, T_ERR));
        /* ...and must agree with the schema the spec's INDEX names. */
        for (size_t i = 0; index && i < json_object_array_length(index); i++) {
            json_object *c = json_object_array_get_idx(index, i), *f, *s;
            if (json_object_object_get_ex(c, "file", &f) &&
                strcmp(json_object_get_string(f), de->d_name) == 0 &&
                json_object_object_get_ex(c, "schema", &s) &&
                type_for_schema(json_object_get_string(s)) != type) {
                t_failed++;
                fprintf(stderr, "DETECT %s: %s, INDEX.json says %s\n", de->d_name, type_name(type),
                        json_object_get_string(s));
            }
        }
        struct oimg_problems p = {0};
        CHECK_OK(oimg_validate_document(&p, type, buf, len, T_ERR));
        if (type == OIMG_DOC_UNKNOWN || p.n) {
            t_failed++;
            fprintf(stderr, "EXAMPLE %s (%s) should be valid: %s\n", de->d_name, type_name(type),
                    p.n ? p.lines[0] : "type not recognised");
        } else {
            fprintf(stderr, "  %-32s valid %s\n", de->d_name, type_name(type));
        }
        char *msg = NULL;
        int r = parse_as(type, buf, len, &msg);
        if (r < 0) {
            t_failed++;
            fprintf(stderr, "EXAMPLE %s: parser failed: %s\n", de->d_name, msg ? msg : "");
        }
        free(msg);
        oimg_problems_clear(&p);
        free(buf);
    }
    closedir(d);
    json_object_put(index);
    CHECK_INT(n, 10);
}

int main(void)
{
    dir_path = spec_dir();
    if (!dir_path) {
        fprintf(stderr, "SKIP: no image-spec test data under $OCIIMG_SHARED/spec/image-spec/main-* "
                        "(../shared is only available to developers and CI)\n");
        return 77;
    }
    T_RUN(extracted_cases);
    T_RUN(md_examples);
    free(dir_path);
    return t_done();
}
